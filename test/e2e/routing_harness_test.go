package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Harness additions of the routing tests.
//
// Trunkline identifies an ip trunk by the source address of its INVITEs and a
// register trunk by the address its host resolves to. The extensions' SIPp UAs run
// on 127.0.0.1, so every provider SIPp runs on an address of its own (127.0.0.11,
// 127.0.0.12, ...: all of 127.0.0.0/8 is loopback on Linux and needs no setup), and
// a second Trunkline (branch_test.go) listens on 127.0.0.2.

// withSIPHost makes Trunkline listen for SIP on ip (same port) and advertise ip in
// Contact and SDP. Go's flag package keeps the last value of a repeated flag, so
// these override what startTrunkline puts first.
func withSIPHost(ip string) option {
	return func(i *instance) {
		i.extra = append(i.extra, "--sip-listen", ip+":"+strconv.Itoa(i.SIPPort), "--external-ip", ip)
	}
}

// sipAddrAt is Trunkline's SIP address when it listens on ip (withSIPHost).
func sipAddrAt(inst *instance, ip string) string { return ip + ":" + strconv.Itoa(inst.SIPPort) }

// onAddress makes SIPp bind ip for SIP and media: SIPp keeps the last -i / -mi, and
// the harness puts "-i 127.0.0.1 -mi 127.0.0.1" before s.Args.
func onAddress(s *sippRun, ip string) *sippRun {
	s.Args = append(s.Args, "-i", ip, "-mi", ip)
	return s
}

// startSIPpAt starts a background SIPp on ip and waits until it has bound ip:port.
// Stopped when the test ends.
func startSIPpAt(t testing.TB, s *sippRun, ip string) *sippProc {
	t.Helper()
	return startSIPpOnProc(t, ip, s, true)
}

// providerUAS starts a SIPp UAS playing a provider (trunk far end) on ip, for up to
// calls calls (more than the test places: a UAS that exited would turn a wrong
// INVITE into an ICMP error instead of a message in its trace). -trace_msg on.
func providerUAS(t testing.TB, name, scenario, ip string, calls int, pause time.Duration) *sippProc {
	t.Helper()
	return startSIPpAt(t, &sippRun{
		Name: name, Scenario: scenario, Calls: calls, Pause: pause,
		Timeout: 60 * time.Second, TraceMsg: true,
	}, ip)
}

// registerAt registers user at the Trunkline listening on addr from 127.0.0.1:port
// (REGISTER -> 401 -> REGISTER with credentials -> 200), like registerWithSIPp.
func registerAt(t testing.TB, addr, user, password string, port int) {
	t.Helper()
	r := runSIPp(t, &sippRun{
		Name:     "register-" + user,
		Scenario: "register_auth.xml",
		Remote:   addr,
		Port:     port,
		CSV:      registerCSV(regLine{user, user, password, 3600, fmt.Sprintf("127.0.0.1:%d", port)}),
		Timeout:  20 * time.Second,
		TraceMsg: true,
	})
	expectCalls(t, r, 1, "REGISTER of "+user+" at "+addr+" (401 challenge, then 200)")
	if t.Failed() {
		t.FailNow()
	}
}

// extensionUAS registers user at addr from a fresh port of 127.0.0.1 and starts a
// SIPp UAS with scenario there for up to calls calls.
func extensionUAS(t testing.TB, addr, user, password, scenario string, calls int, pause time.Duration) *sippProc {
	t.Helper()
	port := freeUDPPort(t)
	registerAt(t, addr, user, password, port)
	return startSIPp(t, &sippRun{
		Name: "ext-" + user, Scenario: scenario, Port: port, Pause: pause,
		Calls: calls, Timeout: 60 * time.Second, TraceMsg: true,
	})
}

// trunkCaller is a provider calling into Trunkline from ip without credentials
// (route_uac_trunk.xml): Request-URI user ruriUser, To user toUser, From user from.
func trunkCaller(inst *instance, name, ip, ruriUser, toUser, from string, pause time.Duration) *sippRun {
	return onAddress(&sippRun{
		Name: name, Scenario: "route_uac_trunk.xml", Remote: inst.SIPAddr(),
		Caller: from, Pause: pause, Timeout: 30 * time.Second, TraceMsg: true,
		Args: []string{"-key", "ruri_user", ruriUser, "-key", "to_user", toUser},
	}, ip)
}

// tracedMsg is a message of a -trace_msg log with the time SIPp logged it.
type tracedMsg struct {
	sipMsg
	At time.Time
}

// traceSepTime is the line SIPp writes before each traced message:
// "----------------------------------------------- 2026-11-21 09:02:47.217676"
// "UDP message received [231] bytes :" / "UDP message sent (653 bytes):"
var traceSepTime = regexp.MustCompile(`(?m)^-{20,} (\d{4}-\d\d-\d\d [0-9:.]+)\n(?:UDP|TCP|TLS) message (sent|received)[^\n]*\n\n`)

// readSIPpTrace parses a -trace_msg log keeping SIPp's timestamps (local time,
// microseconds). Read it after the SIPp has stopped: SIPp buffers the file.
func readSIPpTrace(t testing.TB, path string) []tracedMsg {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read sipp message log: %v", err)
	}
	text := string(data)
	locs := traceSepTime.FindAllStringSubmatchIndex(text, -1)
	var out []tracedMsg
	for i, loc := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		m := parseSIP(text[loc[1]:end])
		m.Received = text[loc[4]:loc[5]] == "received"
		at, err := time.ParseInLocation("2006-01-02 15:04:05.999999", text[loc[2]:loc[3]], time.Local)
		if err != nil {
			t.Fatalf("sipp trace %s: timestamp %q: %v", path, text[loc[2]:loc[3]], err)
		}
		if m.First != "" {
			out = append(out, tracedMsg{sipMsg: m, At: at})
		}
	}
	return out
}

// tracedInvites are the initial INVITEs a SIPp received (first of each Call-ID and
// CSeq: retransmissions dropped; re-INVITEs carry a To tag and are left out).
func tracedInvites(msgs []tracedMsg) []tracedMsg {
	seen := map[string]bool{}
	var out []tracedMsg
	for _, m := range msgs {
		if !m.Received || m.StatusCode() != 0 || m.Method() != "INVITE" {
			continue
		}
		if to := strings.Join(m.Get("to"), ""); strings.Contains(strings.ToLower(to), "tag=") {
			continue
		}
		k := strings.Join(m.Get("call-id"), "") + "|" + strings.Join(m.Get("cseq"), "")
		if !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	return out
}

// tracedFirst returns the first message matching, or ok=false.
func tracedFirst(msgs []tracedMsg, match func(tracedMsg) bool) (tracedMsg, bool) {
	for _, m := range msgs {
		if match(m) {
			return m, true
		}
	}
	return tracedMsg{}, false
}

// stopTrace stops a background SIPp (so that its trace is complete) and returns its
// messages.
func stopTrace(t testing.TB, p *sippProc) []tracedMsg {
	t.Helper()
	res := p.Stop()
	return readSIPpTrace(t, res.MessageLog)
}

// ruriUser is the user part of a request's Request-URI.
func ruriUser(m sipMsg) string {
	f := strings.Fields(m.First)
	if len(f) < 2 {
		return ""
	}
	return uriUser(f[1])
}

// describeInvites lists INVITEs for failure messages.
func describeInvites(msgs []tracedMsg) string {
	if len(msgs) == 0 {
		return "(none)"
	}
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "\n  %s %s (To: %s)", m.At.Format("15:04:05.000000"), m.First, strings.Join(m.Get("to"), ""))
	}
	return b.String()
}

// compactJSON squeezes JSON (or "code body" text) onto one line for logs.
func compactJSON(b []byte) string {
	var out bytes.Buffer
	if i := bytes.IndexByte(b, '{'); i >= 0 && json.Compact(&out, b[i:]) == nil {
		return string(b[:i]) + out.String()
	}
	return string(b)
}

// ms formats a duration in milliseconds with a fraction.
func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
