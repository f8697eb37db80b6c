package trunk

import (
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

// regTrunk is a register trunk pointing at the fake provider.
func regTrunk(name string, p *fakeProvider, user, pass string, expiry int) model.Trunk {
	return model.Trunk{
		Name: name, Kind: model.TrunkRegister, Enabled: true,
		Host: "127.0.0.1", Port: p.port, Username: user, Password: pass,
		RegisterExpiry: expiry, OptionsInterval: -1,
	}
}

func TestRegisterAndRefresh(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			p := newFakeProvider(t, "alice", "secret")
			p.set(func(p *fakeProvider) { p.alg = alg })
			var mu sync.Mutex
			var changes []model.TrunkState
			cfg := testConfig(t, newOurSide(t))
			cfg.OnChange = func(s model.TrunkState) { mu.Lock(); changes = append(changes, s); mu.Unlock() }
			m := NewManager(cfg)
			tr := regTrunk("t1", p, "alice", "secret", 2)
			m.Reconcile([]model.Trunk{tr})
			startManager(t, m)

			eventually(t, 3*time.Second, "registered", func() bool {
				s, _ := m.State("t1")
				return s.Registration == RegRegistered
			})
			s, _ := m.State("t1")
			if s.LastCode != 200 || s.RegisteredUntil == nil || s.Target != p.addr {
				t.Fatalf("state after register: %+v", s)
			}
			if !m.Usable("t1") {
				t.Fatal("registered trunk not usable")
			}
			// Refresh: a second attempt well before the 2 s expiry runs out.
			eventually(t, 3*time.Second, "refresh", func() bool { return len(p.attempts("alice")) >= 2 })
			a := p.attempts("alice")
			// 85% of 2 s after the 200, which came one challenge round
			// after a[0]: before the binding expires.
			if gap := a[1].at.Sub(a[0].at); gap < 1500*time.Millisecond || gap >= 2*time.Second {
				t.Fatalf("refresh after %v, want about 1.7 s (85%% of 2 s)", gap)
			}
			// One Call-ID per session, CSeq increasing (RFC 3261 §10.2.4).
			recs := p.records()
			for i := 1; i < len(recs); i++ {
				if recs[i].callID != recs[0].callID || recs[i].cseq <= recs[i-1].cseq {
					t.Fatalf("REGISTER %d: call-id %s cseq %d after %s %d", i, recs[i].callID, recs[i].cseq, recs[0].callID, recs[i-1].cseq)
				}
			}
			if got, ok := m.IdentifyContactUser(ContactUser(tr)); !ok || got != "t1" {
				t.Fatalf("IdentifyContactUser = %q %v", got, ok)
			}
			mu.Lock()
			n := len(changes)
			mu.Unlock()
			if n == 0 {
				t.Fatal("OnChange never called")
			}
		})
	}
}

func TestRegisterMinExpires(t *testing.T) {
	t.Parallel()
	p := newFakeProvider(t, "bob", "pw")
	p.set(func(p *fakeProvider) { p.minExpires = 3 })
	m := NewManager(testConfig(t, newOurSide(t)))
	m.Reconcile([]model.Trunk{regTrunk("t", p, "bob", "pw", 2)})
	startManager(t, m)
	eventually(t, 3*time.Second, "registered", func() bool {
		s, _ := m.State("t")
		return s.Registration == RegRegistered
	})
	var exp []int
	for _, r := range p.records() {
		if r.authed {
			exp = append(exp, r.expires)
		}
	}
	if len(exp) < 2 || exp[0] != 2 || exp[1] != 3 {
		t.Fatalf("authed REGISTER expiries %v, want [2 3 ...]", exp)
	}
}

func TestRegisterWrongPassword(t *testing.T) {
	t.Parallel()
	for _, code := range []int{401, 403} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			p := newFakeProvider(t, "carol", "right")
			p.set(func(p *fakeProvider) { p.wrongCode = code })
			m := NewManager(testConfig(t, newOurSide(t)))
			m.Reconcile([]model.Trunk{regTrunk("t", p, "carol", "wrong", 60)})
			startManager(t, m)
			eventually(t, 2*time.Second, "failed", func() bool {
				s, _ := m.State("t")
				return s.Registration == RegFailed
			})
			s, _ := m.State("t")
			if s.LastCode != code || s.LastError == "" || s.NextAttempt == nil {
				t.Fatalf("state %+v, want code %d with error and next attempt", s, code)
			}
			if m.Usable("t") {
				t.Fatal("failed trunk usable")
			}
			// Auth back-off 400 ms doubling to 1.6 s (jitter -25%): within 3 s
			// at most 1 + 3 retries; a tight loop would send hundreds.
			start := len(p.attempts(""))
			time.Sleep(3 * time.Second)
			a := p.attempts("")
			if n := len(a) - start; n < 1 || n > 4 {
				t.Fatalf("%d attempts in 3 s with auth back-off", n)
			}
			for i := 2; i < len(a); i++ {
				if g, prev := a[i].at.Sub(a[i-1].at), a[i-1].at.Sub(a[i-2].at); g < prev*5/4 && g < 1100*time.Millisecond {
					t.Fatalf("gap %d %v did not grow from %v", i, g, prev)
				}
			}
		})
	}
}

func TestRegisterProviderSilentThenBack(t *testing.T) {
	t.Parallel()
	p := newFakeProvider(t, "dave", "pw")
	p.set(func(p *fakeProvider) { p.silent = true })
	m := NewManager(testConfig(t, newOurSide(t)))
	m.Reconcile([]model.Trunk{regTrunk("t", p, "dave", "pw", 60)})
	startManager(t, m)
	eventually(t, 3*time.Second, "failed", func() bool {
		s, _ := m.State("t")
		return s.Registration == RegFailed && s.LastError != ""
	})
	// Timeouts of 600 ms then back-off 200, 400, 800, 1000 ms (jittered).
	eventually(t, 6*time.Second, "4 attempts", func() bool { return len(p.attempts("")) >= 4 })
	a := p.attempts("")
	var gaps []time.Duration
	for i := 1; i < len(a); i++ {
		gaps = append(gaps, a[i].at.Sub(a[i-1].at))
	}
	if gaps[len(gaps)-1] <= gaps[0] {
		t.Fatalf("gaps did not grow: %v", gaps)
	}
	for _, g := range gaps {
		if g < 700*time.Millisecond { // timeout 600 ms + at least 150 ms back-off
			t.Fatalf("gap %v too short: %v", g, gaps)
		}
	}
	p.set(func(p *fakeProvider) { p.silent = false })
	eventually(t, 4*time.Second, "registered again", func() bool {
		s, _ := m.State("t")
		return s.Registration == RegRegistered
	})
}

func TestUnregister(t *testing.T) {
	t.Parallel()
	p := newFakeProvider(t, "erin", "pw")
	m := NewManager(testConfig(t, newOurSide(t)))
	a := regTrunk("a", p, "erin", "pw", 60)
	m.Reconcile([]model.Trunk{a})
	stop := startManager(t, m)
	eventually(t, 3*time.Second, "registered", func() bool {
		s, _ := m.State("a")
		return s.Registration == RegRegistered
	})
	// Removing the trunk un-REGISTERs it.
	m.Reconcile(nil)
	eventually(t, 3*time.Second, "un-REGISTER on removal", func() bool { return p.unregisters("erin") == 1 })
	if _, ok := m.State("a"); ok {
		t.Fatal("removed trunk still has a state")
	}
	// Disabling un-REGISTERs and shows "off".
	m.Reconcile([]model.Trunk{a})
	eventually(t, 3*time.Second, "registered again", func() bool {
		s, _ := m.State("a")
		return s.Registration == RegRegistered
	})
	off := a
	off.Enabled = false
	m.Reconcile([]model.Trunk{off})
	eventually(t, 3*time.Second, "un-REGISTER on disable", func() bool {
		s, _ := m.State("a")
		return p.unregisters("erin") == 2 && s.Registration == RegOff
	})
	if m.Usable("a") {
		t.Fatal("disabled trunk usable")
	}
	// Shutdown un-REGISTERs.
	m.Reconcile([]model.Trunk{a})
	eventually(t, 3*time.Second, "registered after enable", func() bool {
		s, _ := m.State("a")
		return s.Registration == RegRegistered
	})
	stop()
	if n := p.unregisters("erin"); n != 3 {
		t.Fatalf("%d un-REGISTERs after shutdown, want 3", n)
	}
	if s, _ := m.State("a"); s.Registration != RegUnregistered {
		t.Fatalf("after shutdown: %+v", s)
	}
}

func TestReconcileOnlyChangedTrunkReregisters(t *testing.T) {
	t.Parallel()
	p := newFakeProvider(t, "u", "pw")
	m := NewManager(testConfig(t, newOurSide(t)))
	// Two trunks on one account: their Contact users tell them apart.
	a := regTrunk("a", p, "u", "pw", 60)
	b := regTrunk("b", p, "u", "pw", 60)
	m.Reconcile([]model.Trunk{a, b})
	startManager(t, m)
	eventually(t, 3*time.Second, "both registered", func() bool {
		sa, _ := m.State("a")
		sb, _ := m.State("b")
		return sa.Registration == RegRegistered && sb.Registration == RegRegistered
	})
	before := len(p.records())
	sa, _ := m.State("a")

	// Identical config, and edits that do not matter to registration.
	m.Reconcile([]model.Trunk{a, b})
	a2 := a
	a2.DIDs = []model.TrunkDID{{Number: "+4930123"}}
	a2.DefaultCallerID = "+4930999"
	a2.CallerIDHeaders = []string{"pai"}
	a2.MaxCalls = 3
	m.Reconcile([]model.Trunk{a2, b})
	time.Sleep(400 * time.Millisecond)
	if n := len(p.records()); n != before {
		t.Fatalf("%d REGISTERs after no-op reconciles", n-before)
	}
	if s, _ := m.State("a"); s.LastChange != sa.LastChange || s.Registration != RegRegistered {
		t.Fatalf("state changed by no-op reconcile: %+v", s)
	}

	// Editing b's expiry re-registers b only: an un-REGISTER and a new
	// session (new Call-ID) for b, nothing for a.
	b2 := b
	b2.RegisterExpiry = 120
	aUser := ContactUser(a)
	m.Reconcile([]model.Trunk{a2, b2})
	eventually(t, 3*time.Second, "b re-registered", func() bool {
		for _, r := range p.records()[before:] {
			if r.authed && r.expires == 120 {
				return true
			}
		}
		return false
	})
	time.Sleep(200 * time.Millisecond)
	var aCalls, others int // REGISTERs of a and of b since the no-op reconciles
	for _, r := range p.records()[before:] {
		if r.contact == aUser {
			aCalls++
		} else {
			others++
		}
	}
	if aCalls != 0 || others < 4 { // b: un-REGISTER (2) + REGISTER (2)
		t.Fatalf("after editing b: %d REGISTERs of a's session, %d others", aCalls, others)
	}
	if s, _ := m.State("a"); s.LastChange != sa.LastChange {
		t.Fatal("a's state changed when b was edited")
	}
}

func TestRegisterSRVFailover(t *testing.T) {
	t.Parallel()
	p1 := newFakeProvider(t, "gina", "pw")
	p2 := newFakeProvider(t, "gina", "pw")
	p1.set(func(p *fakeProvider) { p.silent = true })
	cfg := testConfig(t, newOurSide(t))
	cfg.Resolver = fakeResolver{
		srv: map[string][]*net.SRV{"_sip._udp.prov.test": {
			{Target: "one.prov.test.", Port: uint16(p1.port), Priority: 10},
			{Target: "two.prov.test.", Port: uint16(p2.port), Priority: 20},
		}},
		ips: map[string][]netip.Addr{
			"one.prov.test": {netip.MustParseAddr("127.0.0.1")},
			"two.prov.test": {netip.MustParseAddr("127.0.0.1")},
		},
	}
	m := NewManager(cfg)
	tr := regTrunk("t", p1, "gina", "pw", 60)
	tr.Host, tr.Port = "prov.test", 0
	m.Reconcile([]model.Trunk{tr})
	startManager(t, m)
	eventually(t, 3*time.Second, "registered on the second target", func() bool {
		s, _ := m.State("t")
		return s.Registration == RegRegistered
	})
	if tg, _ := m.Target("t"); tg.Addr != p2.addr || tg.Host != "two.prov.test" {
		t.Fatalf("target %+v, want %s", tg, p2.addr)
	}
	if len(p1.attempts("")) == 0 {
		t.Fatal("first SRV target never tried")
	}
	// The first target coming back does not move us: we stay where the
	// registration is.
	p1.set(func(p *fakeProvider) { p.silent = false })
	time.Sleep(300 * time.Millisecond)
	if tg, _ := m.Target("t"); tg.Addr != p2.addr {
		t.Fatalf("moved to %s", tg.Addr)
	}
}
