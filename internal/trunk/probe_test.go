package trunk

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

func TestProbeDownAndUp(t *testing.T) {
	t.Parallel()
	p := newFakeProvider(t, "x", "y")
	cfg := testConfig(t, newOurSide(t))
	cfg.ProbeTimeout = 300 * time.Millisecond
	m := NewManager(cfg)
	tr := model.Trunk{Name: "ip", Kind: model.TrunkIP, Enabled: true, Host: "127.0.0.1", Port: p.port,
		OptionsInterval: 1, ProbeDownAfter: 2, ProbeUpAfter: 2}
	m.Reconcile([]model.Trunk{tr})
	if s, _ := m.State("ip"); s.Reachability != ReachUnknown {
		t.Fatalf("initial reachability %q", s.Reachability)
	}
	startManager(t, m)

	// 405 to OPTIONS still means up; the first answer from unknown is enough.
	eventually(t, 2*time.Second, "up", func() bool {
		s, _ := m.State("ip")
		return s.Reachability == ReachUp
	})
	if s, _ := m.State("ip"); s.RTTMillis <= 0 || s.LastCode != 405 {
		t.Fatalf("after probe: %+v", s)
	}
	if !m.Usable("ip") {
		t.Fatal("up trunk not usable")
	}

	p.set(func(p *fakeProvider) { p.silentOpts = true })
	misses := p.optionsCount()
	eventually(t, 4*time.Second, "down", func() bool {
		s, _ := m.State("ip")
		return s.Reachability == ReachDown
	})
	if n := p.optionsCount() - misses; n < 2 {
		t.Fatalf("down after %d probes, want 2 misses", n)
	}
	if m.Usable("ip") {
		t.Fatal("down trunk usable")
	}

	p.set(func(p *fakeProvider) { p.silentOpts = false })
	answered := p.optionsCount()
	eventually(t, 4*time.Second, "up again", func() bool {
		s, _ := m.State("ip")
		return s.Reachability == ReachUp
	})
	if n := p.optionsCount() - answered; n < 2 {
		t.Fatalf("up after %d probes, want 2 answers", n)
	}
	// At most one probe in flight, one per interval: about 1/s.
	total := p.optionsCount()
	time.Sleep(1500 * time.Millisecond)
	if n := p.optionsCount() - total; n > 2 {
		t.Fatalf("%d probes in 1.5 s at a 1 s interval", n)
	}
}

func TestIdentifySource(t *testing.T) {
	t.Parallel()
	m := NewManager(Config{Resolver: fakeResolver{ips: map[string][]netip.Addr{
		"sbc.example.test": {netip.MustParseAddr("198.51.100.7")},
	}}})
	m.Reconcile([]model.Trunk{
		{Name: "wide", Kind: model.TrunkIP, Enabled: true, Host: "203.0.113.1", AssociatedIPs: []string{"203.0.113.0/24"}, OptionsInterval: -1},
		{Name: "narrow", Kind: model.TrunkIP, Enabled: true, Host: "192.0.2.1", AssociatedIPs: []string{"203.0.113.77", " 2001:db8::/32"}, OptionsInterval: -1},
		{Name: "named", Kind: model.TrunkIP, Enabled: true, Host: "sbc.example.test", Port: 5060, OptionsInterval: -1},
		{Name: "off", Kind: model.TrunkIP, Enabled: false, Host: "192.0.2.99"},
		{Name: "reg", Kind: model.TrunkRegister, Enabled: true, Host: "192.0.2.50", Register: new(bool), OptionsInterval: -1},
	})
	tests := []struct {
		ip   string
		want string
	}{
		{"203.0.113.1", "wide"},
		{"203.0.113.200", "wide"},
		{"203.0.113.77", "narrow"}, // /32 beats /24
		{"::ffff:203.0.113.77", "narrow"},
		{"192.0.2.1", "narrow"},
		{"2001:db8::5", "narrow"},
		{"192.0.2.99", ""},    // disabled
		{"192.0.2.50", "reg"}, // register trunks too: a register:false (Twilio-style) provider calls from its host
		{"198.51.100.7", ""},
	}
	for _, tt := range tests {
		got, ok := m.IdentifySource(netip.MustParseAddr(tt.ip))
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("IdentifySource(%s) = %q %v, want %q", tt.ip, got, ok, tt.want)
		}
	}
	// Names resolve once the trunk runs.
	startManager(t, m)
	eventually(t, 2*time.Second, "named resolved", func() bool {
		got, _ := m.IdentifySource(netip.MustParseAddr("198.51.100.7"))
		return got == "named"
	})
	if tg, ok := m.Target("named"); !ok || tg.Addr != "198.51.100.7:5060" || tg.Transport != "udp" {
		t.Fatalf("Target(named) = %+v %v", tg, ok)
	}
}

func TestAcquireRelease(t *testing.T) {
	t.Parallel()
	var m *Manager
	var calls atomic.Int32
	m = NewManager(Config{OnChange: func(s model.TrunkState) {
		calls.Add(1)
		_ = m.States() // OnChange may call the Manager without deadlock
		_, _ = m.IdentifySource(netip.MustParseAddr("192.0.2.1"))
	}})
	m.Reconcile([]model.Trunk{
		{Name: "two", Kind: model.TrunkIP, Enabled: true, MaxCalls: 2},
		{Name: "any", Kind: model.TrunkIP, Enabled: true},
		{Name: "off", Kind: model.TrunkIP, MaxCalls: 5},
	})
	if !m.Acquire("two") || !m.Acquire("two") {
		t.Fatal("could not acquire below the limit")
	}
	if m.Acquire("two") {
		t.Fatal("acquired above max_calls")
	}
	if s, _ := m.State("two"); s.ActiveCalls != 2 {
		t.Fatalf("ActiveCalls = %d", s.ActiveCalls)
	}
	m.Release("two")
	if !m.Acquire("two") {
		t.Fatal("no slot after release")
	}
	for range 100 {
		if !m.Acquire("any") {
			t.Fatal("unlimited trunk refused")
		}
	}
	if m.Acquire("off") || m.Acquire("missing") {
		t.Fatal("acquired a disabled or unknown trunk")
	}
	m.Release("missing")
	for range 3 {
		m.Release("two")
	}
	if s, _ := m.State("two"); s.ActiveCalls != 0 {
		t.Fatalf("ActiveCalls after over-release = %d", s.ActiveCalls)
	}
	// A soft edit keeps the count and applies the new limit.
	m.Acquire("two")
	m.Reconcile([]model.Trunk{{Name: "two", Kind: model.TrunkIP, Enabled: true, MaxCalls: 1}})
	if m.Acquire("two") {
		t.Fatal("new limit not applied")
	}
	m.MarkDown("two", time.Hour, "503 Retry-After")
	if m.Usable("two") {
		t.Fatal("usable during a MarkDown hold")
	}
	m.MarkDown("two", 0, "")
	if !m.Usable("two") {
		t.Fatal("not usable after the hold was lifted")
	}
	m.Reconcile([]model.Trunk{{Name: "two", Kind: model.TrunkIP, Enabled: false}})
	if s, _ := m.State("two"); s.Registration != RegOff || m.Usable("two") || calls.Load() == 0 {
		t.Fatalf("disabled: %+v, %d OnChange calls", s, calls.Load())
	}
}

func TestAcquireMaxCPS(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := NewManager(Config{Now: func() time.Time { return now }})
	m.Reconcile([]model.Trunk{{Name: "cps", Kind: model.TrunkIP, Enabled: true, MaxCPS: 2}})
	steps := []struct {
		advance time.Duration
		want    bool
	}{
		{0, true}, {0, true}, {0, false}, // a burst of one second's worth
		{250 * time.Millisecond, false}, // half a token
		{250 * time.Millisecond, true},  // one token after 0.5 s at 2/s
		{0, false},
		{10 * time.Second, true}, {0, true}, {0, false}, // refill capped at the burst
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		got := m.Acquire("cps")
		if got != st.want {
			t.Fatalf("step %d (+%v): Acquire = %v, want %v", i, st.advance, got, st.want)
		}
		if got {
			m.Release("cps") // CPS limits starts, not concurrent calls
		}
	}
}
