package e2e

import (
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTrunkOptionsProbe: an ip trunk probed with OPTIONS every second is "up" while its
// peer answers, "down" after probe_down_after missed probes once the peer is gone, and
// "up" again after probe_up_after answers when the peer is back.
func TestTrunkOptionsProbe(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	const (
		interval  = 1 // options_interval, s (the smallest the API takes besides 0 = default)
		downAfter = 2
		upAfter   = 2
	)
	port := freePortOn(t, probeIP, false)
	peer := func(n int, trace bool) *sippProc {
		return startSIPpOn(t, probeIP, &sippRun{
			Name: "options-peer-" + strconv.Itoa(n), Scenario: "trunk_options_uas.xml",
			Port: port, Calls: 100000, Timeout: 120 * time.Second, TraceMsg: trace,
		})
	}
	p1 := peer(1, false)
	inst := startTrunkline(t)
	inst.API.tkCreateTrunk(t, map[string]any{
		"name": "peer", "kind": "ip", "host": probeIP, "port": port,
		"options_interval": interval, "probe_down_after": downAfter, "probe_up_after": upAfter,
	})
	target := net.JoinHostPort(probeIP, strconv.Itoa(port))
	created := time.Now()

	// From "unknown" the first answer means up; the first probe goes out within a second.
	// 10 s only bounds probes that never start.
	st := inst.API.tkWaitTrunk(t, "peer", `reachability "up" while the peer answers OPTIONS`, 10*time.Second,
		func(st tkState) bool { return st.Reachability == "up" })
	t.Logf("up %v after the trunk was created: %s", time.Since(created).Round(time.Millisecond), st.Raw)
	if st.LastCode != 200 || st.Target != target || st.RTTMillis <= 0 || st.Registration != "off" {
		t.Errorf("probed ip trunk: expected last_code 200, target %s, rtt_ms > 0 and registration \"off\", got %s", target, st.Raw)
	}

	stopped := time.Now() // the peer is silent from some moment after this on
	r1 := p1.Stop()
	if r1.Successful < 1 {
		t.Errorf("options peer: expected it to have answered at least one OPTIONS, got %v%s", r1, firstError(r1))
	}
	// Silence from now on. The next probe is sent within one interval and times out after
	// the probe timeout (never longer than the interval); downAfter consecutive misses
	// mark the trunk down: (downAfter+1)*interval + timeout = 4 s. One more second for the
	// 100 ms status polling and scheduling on a loaded test machine.
	downBound := time.Duration(downAfter+1)*interval*time.Second + interval*time.Second
	st = inst.API.tkWaitTrunk(t, "peer", `reachability "down" after `+strconv.Itoa(downAfter)+" missed probes", downBound+time.Second,
		func(st tkState) bool { return st.Reachability == "down" })
	downAt := time.Since(stopped)
	t.Logf("down %v after the peer was stopped: %s", downAt.Round(time.Millisecond), st.Raw)
	// Hysteresis: on loopback a live peer answers at once, so the first miss is a probe
	// sent after the peer went silent; with one probe in flight and a 1 s timeout,
	// downAfter misses take at least downAfter seconds (100 ms for timer granularity).
	if minDown := time.Duration(downAfter)*interval*time.Second - 100*time.Millisecond; downAt < minDown {
		t.Errorf("trunk went down %v after the peer stopped answering, expected no sooner than %d missed probes (%v)", downAt.Round(time.Millisecond), downAfter, minDown)
	}
	if st.LastError == "" {
		t.Errorf("trunk down by probe: expected last_error to say why (the probe's timeout), got %s", st.Raw)
	}

	p2 := peer(2, true)
	restarted := time.Now()
	// upAfter answered probes: the first goes out within an interval (one in flight may
	// still time out first), then one per interval: (upAfter+1)*interval + timeout = 4 s,
	// plus the same second.
	upBound := time.Duration(upAfter+1)*interval*time.Second + interval*time.Second
	st = inst.API.tkWaitTrunk(t, "peer", `reachability "up" again after `+strconv.Itoa(upAfter)+" answered probes", upBound+time.Second,
		func(st tkState) bool { return st.Reachability == "up" })
	t.Logf("up %v after the peer restarted: %s", time.Since(restarted).Round(time.Millisecond), st.Raw)
	if st.LastCode != 200 {
		t.Errorf("trunk up again: expected last_code 200, got %s", st.Raw)
	}
	upAt := time.Now()
	r2 := p2.Stop()
	// Hysteresis: the trunk may be up only after upAfter answered probes, so the peer
	// must have received that many OPTIONS before the status said up.
	if n := optionsBefore(t, r2, upAt); n < upAfter {
		t.Errorf("trunk up again after the peer had received %d OPTIONS, expected at least probe_up_after = %d (%v)%s", n, upAfter, r2, firstError(r2))
	}
}

// reTraceHead is the head of a message in a SIPp -trace_msg log: the time line, then the
// direction line.
var reTraceHead = regexp.MustCompile(`(?m)^-+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n\w+ message received[^\n]*\n\s*OPTIONS `)

// optionsBefore counts the OPTIONS requests a SIPp peer received before t0.
func optionsBefore(t testing.TB, r *sippResult, t0 time.Time) int {
	t.Helper()
	data, err := os.ReadFile(r.MessageLog)
	if err != nil {
		t.Fatalf("read SIPp messages: %v", err)
	}
	n := 0
	for _, m := range reTraceHead.FindAllStringSubmatch(string(data), -1) {
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(m[1]), time.Local)
		if err != nil {
			t.Fatalf("SIPp message time %q: %v", m[1], err)
		}
		if at.Before(t0) {
			n++
		}
	}
	return n
}
