package trunk

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/trunkline/trunkline/internal/model"
)

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 2 * time.Second, Max: 5 * time.Minute}
	// r = 0: the nominal delay, doubling to the cap.
	want := []time.Duration{2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i, w := range want {
		if got := b.Next(0); got != w*time.Second {
			t.Fatalf("failure %d: %v, want %v", i, got, w*time.Second)
		}
	}
	// Jitter only shortens, by at most a quarter, and never beats the cap.
	for _, r := range []float64{0, 0.3, 0.999, 1, -1, 7} {
		b := Backoff{Min: time.Second, Max: 10 * time.Second}
		for n := range 10 {
			nominal := b.nominal(n)
			got := b.Next(r)
			if got > nominal || got < nominal*3/4 || got > 10*time.Second {
				t.Fatalf("r=%v n=%d: %v outside [%v, %v]", r, n, got, nominal*3/4, nominal)
			}
		}
	}
	b.Reset()
	if got := b.Next(0); got != 2*time.Second {
		t.Fatalf("after Reset: %v", got)
	}
	// Degenerate configurations never produce a tight loop or overflow.
	for _, bb := range []Backoff{{}, {Min: -1, Max: -1}, {Min: time.Hour, Max: time.Second}, {Min: 1, Max: 1<<63 - 1}} {
		for range 100 {
			if d := bb.Next(1); d <= 0 {
				t.Fatalf("%+v: delay %v", bb, d)
			}
		}
	}
}

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		code       int
		afterCreds bool
		want       outcomeKind
	}{
		{200, false, outcomeOK},
		{202, true, outcomeOK},
		{401, false, outcomeTransient},
		{401, true, outcomeAuth},
		{407, true, outcomeAuth},
		{403, false, outcomeAuth},
		{404, true, outcomeAuth},
		{408, true, outcomeTransient},
		{423, true, outcomeTransient},
		{480, true, outcomeTransient},
		{500, true, outcomeTransient},
		{503, false, outcomeTransient},
		{603, true, outcomeTransient},
	}
	for _, tt := range tests {
		if got := classifyStatus(tt.code, tt.afterCreds); got != tt.want {
			t.Errorf("classifyStatus(%d, %v) = %v, want %v", tt.code, tt.afterCreds, got, tt.want)
		}
	}
}

func TestRegMachine(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := regMachine{
		net:   Backoff{Min: 2 * time.Second, Max: 5 * time.Minute},
		auth:  Backoff{Min: 5 * time.Minute, Max: time.Hour},
		rnd:   func() float64 { return 0 },
		state: RegUnregistered,
	}
	type step struct {
		o         outcome
		wantState string
		wantWait  time.Duration
	}
	steps := []step{
		{outcome{kind: outcomeTransient, reason: "timeout"}, RegFailed, 2 * time.Second},
		{outcome{kind: outcomeTransient, code: 503, hold: 30 * time.Second}, RegFailed, 30 * time.Second}, // Retry-After beats 4 s
		{outcome{kind: outcomeTransient}, RegFailed, 8 * time.Second},
		{outcome{kind: outcomeOK, code: 200, granted: 600 * time.Second}, RegRegistered, 510 * time.Second},
		{outcome{kind: outcomeTransient}, RegFailed, 2 * time.Second}, // reset by success
		{outcome{kind: outcomeAuth, code: 403, reason: "Forbidden"}, RegFailed, 5 * time.Minute},
		{outcome{kind: outcomeAuth, code: 401}, RegFailed, 10 * time.Minute},
		{outcome{kind: outcomeOK, code: 200, granted: time.Second}, RegRegistered, time.Second}, // floor
		{outcome{kind: outcomeAuth, code: 404}, RegFailed, 5 * time.Minute},
	}
	now := t0
	for i, s := range steps {
		m.start()
		if m.state != RegRegistering && m.state != RegRegistered && m.state != RegFailed {
			t.Fatalf("step %d: start left %q", i, m.state)
		}
		got := m.apply(now, s.o)
		if m.state != s.wantState || got != s.wantWait {
			t.Fatalf("step %d: state %q wait %v, want %q %v", i, m.state, got, s.wantState, s.wantWait)
		}
		switch m.state {
		case RegRegistered:
			if !m.until.Equal(now.Add(s.o.granted)) || !m.next.IsZero() || m.err != "" {
				t.Fatalf("step %d: until %v next %v err %q", i, m.until, m.next, m.err)
			}
		case RegFailed:
			if !m.next.Equal(now.Add(got)) || !m.until.IsZero() || m.code != s.o.code {
				t.Fatalf("step %d: next %v until %v code %d", i, m.next, m.until, m.code)
			}
		}
		now = now.Add(got)
	}
	// The first attempt shows "registering"; a refresh stays "registered".
	fresh := regMachine{state: RegUnregistered}
	fresh.start()
	if fresh.state != RegRegistering {
		t.Fatalf("first attempt: %q", fresh.state)
	}
	fresh.state = RegRegistered
	fresh.start()
	if fresh.state != RegRegistered {
		t.Fatalf("refresh: %q", fresh.state)
	}
}

func TestProbeMachine(t *testing.T) {
	tests := []struct {
		name   string
		obs    string // a = answered, m = missed
		states string // reachability after each: u(nknown) U(p) D(own)
	}{
		{"first answer is up", "a", "U"},
		{"down after 3 misses", "ammm", "UUUD"},
		{"a miss streak is broken by an answer", "ammamm", "UUUUUU"},
		{"down from unknown", "mmm", "uuD"},
		{"up after 2 answers from down", "mmmaa", "uuDDU"},
		{"an answer streak is broken by a miss", "mmmamaa", "uuDDDDU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbeMachine(3, 2)
			for i, c := range tt.obs {
				p.observe(c == 'a', 10*time.Millisecond)
				want := map[byte]string{'u': ReachUnknown, 'U': ReachUp, 'D': ReachDown}[tt.states[i]]
				if p.reach != want {
					t.Fatalf("after %q: %q, want %q", tt.obs[:i+1], p.reach, want)
				}
			}
		})
	}
}

func TestRefreshDelay(t *testing.T) {
	for _, tt := range []struct{ granted, want time.Duration }{
		{600 * time.Second, 510 * time.Second},
		{60 * time.Second, 51 * time.Second},
		{2 * time.Second, 1700 * time.Millisecond},
		{time.Second, time.Second},
		{0, time.Second},
	} {
		if got := refreshDelay(tt.granted); got != tt.want {
			t.Errorf("refreshDelay(%v) = %v, want %v", tt.granted, got, tt.want)
		}
	}
}

func mustResponse(t testing.TB, raw string) *sip.Response {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return msg.(*sip.Response)
}

func TestGrantedExpiry(t *testing.T) {
	const head = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\nCall-ID: c\nCSeq: 2 REGISTER\nFrom: <sip:a@b>;tag=1\nTo: <sip:a@b>;tag=2\n"
	tests := []struct {
		name, hdrs string
		want       int
	}{
		{"contact param", "Contact: <sip:tl-x@1.2.3.4>;expires=300\nExpires: 600\n", 300},
		{"ours among several", "Contact: <sip:other@9.9.9.9>;expires=30, <sip:tl-x@1.2.3.4>;expires=120\n", 120},
		{"expires header", "Contact: <sip:tl-x@1.2.3.4>\nExpires: 90\n", 90},
		{"nothing: requested", "", 600},
		{"never longer than asked", "Expires: 7200\n", 600},
		{"dropped", "Contact: <sip:tl-x@1.2.3.4>;expires=0\n", 0},
		{"garbage ignored", "Contact: <sip:tl-x@1.2.3.4>;expires=soon\nExpires: 60\n", 60},
	}
	for _, tt := range tests {
		res := mustResponse(t, head+tt.hdrs+"Content-Length: 0\n\n")
		if got := grantedExpiry(res, "tl-x", 600); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
	res := mustResponse(t, "SIP/2.0 423 Interval Too Brief\nMin-Expires: 3600\nRetry-After: 120 (later);duration=60\nContent-Length: 0\n\n")
	if n, ok := minExpires(res); !ok || n != 3600 {
		t.Errorf("minExpires = %d %v", n, ok)
	}
	if d, ok := retryAfter(res); !ok || d != 120*time.Second {
		t.Errorf("retryAfter = %v %v", d, ok)
	}
}

func TestParseDelta(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"60", 60, true}, {" 7 ", 7, true}, {"", 0, false}, {"-1", 0, false}, {"1e3", 0, false},
		{"99999999999999999999999", maxDeltaSeconds, true},
	} {
		if got, ok := parseDeltaSeconds(tt.in); got != tt.want || ok != tt.ok {
			t.Errorf("parseDeltaSeconds(%q) = %d %v", tt.in, got, ok)
		}
	}
	if d, ok := parseRetryAfter("999999"); !ok || d != maxRetryAfter {
		t.Errorf("Retry-After cap: %v %v", d, ok)
	}
}

func TestResolveTargets(t *testing.T) {
	r := fakeResolver{
		srv: map[string][]*net.SRV{
			"_sip._udp.prov.test": {
				{Target: "b.prov.test.", Port: 5070, Priority: 20, Weight: 0},
				{Target: "a.prov.test.", Port: 5060, Priority: 10, Weight: 5},
			},
			"_sips._tcp.prov.test": {{Target: "tls.prov.test.", Port: 5061, Priority: 1}},
			"_sip._udp.none.test":  {{Target: ".", Port: 0}},
		},
		ips: map[string][]netip.Addr{
			"a.prov.test":   {netip.MustParseAddr("2001:db8::a"), netip.MustParseAddr("192.0.2.10")},
			"b.prov.test":   {netip.MustParseAddr("192.0.2.20")},
			"tls.prov.test": {netip.MustParseAddr("192.0.2.30")},
			"none.test":     {netip.MustParseAddr("192.0.2.40")},
			"prov.test":     {netip.MustParseAddr("192.0.2.99")},
		},
	}
	v4 := netip.MustParseAddr("127.0.0.1")
	rnd := func() float64 { return 0.5 }
	tests := []struct {
		host      string
		port      int
		transport string
		want      []string
	}{
		{"prov.test", 0, "udp", []string{"192.0.2.10:5060", "[2001:db8::a]:5060", "192.0.2.20:5070"}},
		{"prov.test", 0, "tls", []string{"192.0.2.30:5061"}},
		{"prov.test", 0, "tcp", []string{"192.0.2.99:5060"}}, // no SRV: A with default port
		{"prov.test", 5080, "udp", []string{"192.0.2.99:5080"}},
		{"none.test", 0, "udp", []string{"192.0.2.40:5060"}}, // "." = no SRV service
		{"192.0.2.1", 0, "tls", []string{"192.0.2.1:5061"}},
		{"2001:db8::1", 5062, "udp", []string{"[2001:db8::1]:5062"}},
	}
	for _, tt := range tests {
		got, err := resolveTargets(t.Context(), r, tt.host, tt.port, tt.transport, v4, rnd)
		if err != nil {
			t.Errorf("%s/%s: %v", tt.host, tt.transport, err)
			continue
		}
		var addrs []string
		for _, g := range got {
			addrs = append(addrs, g.Addr)
		}
		if strings.Join(addrs, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s:%d/%s = %v, want %v", tt.host, tt.port, tt.transport, addrs, tt.want)
		}
	}
	if _, err := resolveTargets(t.Context(), r, "missing.test", 0, "udp", v4, rnd); err == nil {
		t.Error("no error for an unknown name")
	}
	// Weighted order within a priority follows the random draw (RFC 2782).
	recs := []*net.SRV{{Target: "x", Weight: 1}, {Target: "y", Weight: 98}}
	if o := orderSRV(recs, func() float64 { return 0.5 }); o[0].Target != "y" {
		t.Errorf("weight 98 not first at r=0.5: %v", o[0].Target)
	}
	if o := orderSRV(recs, func() float64 { return 0 }); o[0].Target != "x" {
		t.Errorf("weight 1 not first at r=0: %v", o[0].Target)
	}
}

func TestSplitHostPort(t *testing.T) {
	for _, tt := range []struct {
		in   string
		host string
		port int
	}{
		{"proxy.test", "proxy.test", 0}, {"proxy.test:5070", "proxy.test", 5070},
		{"sip:proxy.test:5070;lr", "proxy.test", 5070}, {"<sip:10.0.0.1;lr>", "10.0.0.1", 0},
		{"[2001:db8::1]:5060", "2001:db8::1", 5060}, {"2001:db8::1", "2001:db8::1", 0},
	} {
		h, p, err := splitHostPort(tt.in)
		if err != nil || h != tt.host || p != tt.port {
			t.Errorf("splitHostPort(%q) = %q %d %v", tt.in, h, p, err)
		}
	}
}

func TestContactUserAndKey(t *testing.T) {
	a := model.Trunk{Name: "provider-a", Kind: model.TrunkRegister, Enabled: true, Host: "sip.test", Username: "u", Password: "p"}
	if got := ContactUser(a); got != ContactUser(a) || !strings.HasPrefix(got, "tl-") || len(got) != 15 || strings.Contains(got, "provider") {
		t.Fatalf("ContactUser = %q", got)
	}
	b := a
	b.Name = "provider-b"
	if ContactUser(a) == ContactUser(b) {
		t.Fatal("two trunks share a Contact user")
	}
	soft := a
	soft.DIDs = []model.TrunkDID{{Number: "1"}}
	soft.CallerIDHeaders = []string{"pai"}
	soft.DefaultCallerID = "+1"
	soft.MaxCalls = 9
	soft.OptionsInterval = 60
	soft.AssociatedIPs = []string{"192.0.2.0/24"}
	soft.Transport = "UDP"
	soft.RegisterExpiry = 600 // the default spelled out
	if runtimeKey(a) != runtimeKey(soft) {
		t.Fatal("soft edits change the runtime key")
	}
	for _, f := range []func(*model.Trunk){
		func(t *model.Trunk) { t.Password = "q" },
		func(t *model.Trunk) { t.Host = "other.test" },
		func(t *model.Trunk) { t.Port = 5070 },
		func(t *model.Trunk) { t.Transport = "tcp" },
		func(t *model.Trunk) { t.RegisterExpiry = 300 },
		func(t *model.Trunk) { t.OutboundProxy = "p.test" },
		func(t *model.Trunk) { t.AuthID = "id" },
	} {
		c := a
		f(&c)
		if runtimeKey(c) == runtimeKey(a) {
			t.Errorf("hard edit %+v keeps the key", c)
		}
	}
}
