package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The provider accounts of testdata/kamailio/db/subscriber.
const (
	pbx1Pass = "pbx1secret"
	pbx2Pass = "pbx2secret"
)

// itspTrunk is the body of a register trunk to the Kamailio provider.
func itspTrunk(name string, k *kamailio, user, password string, expiry int) map[string]any {
	return map[string]any{
		"name": name, "kind": "register",
		"host": k.IP, "port": k.Port,
		"username": user, "password": password,
		"register_expiry": expiry,
	}
}

// trunkContact is the Contact Trunkline registers for a trunk: sip:tl-<12 hex digits of
// SHA-256 over "trunkline-contact\x00"+name>@<Trunkline's SIP address> (docs/trunks.md).
func trunkContact(inst *instance, name string) string {
	sum := sha256.Sum256([]byte("trunkline-contact\x00" + name))
	return "sip:tl-" + hex.EncodeToString(sum[:6]) + "@" + inst.SIPAddr()
}

func isRegistered(st tkState) bool { return st.Registration == "registered" }

// bindingOf finds our contact among the provider's bindings of an account.
func bindingOf(k *kamailio, user, contact string) (expires int, found bool, dump string) {
	b, out, err := k.lookup(user)
	if err != nil {
		return 0, false, err.Error()
	}
	for addr, exp := range b {
		if addr == contact || strings.HasPrefix(addr, contact+";") {
			return exp, true, out
		}
	}
	return 0, false, out
}

// TestTrunkRegisterKamailio: a register trunk registers to the Kamailio provider with
// digest (plain, and with qop=auth offered); the provider's location table holds our
// Contact; the provider grants 10 s (we ask 60) and Trunkline refreshes at 85 % of what
// was granted, so the binding never lapses.
func TestTrunkRegisterKamailio(t *testing.T) {
	t.Parallel()
	for _, qop := range []bool{false, true} {
		name := "digest"
		if qop {
			name = "digest-qop-auth"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			requirePeer(t, "kamailio", "kamcmd")
			const granted = 10 * time.Second
			k := startKamailio(t, kamOpts{AuthQOP: qop, MinExpires: 5, MaxExpires: int(granted.Seconds())})
			inst := startTrunkline(t)
			inst.API.tkCreateTrunk(t, itspTrunk("itsp", k, "pbx1", pbx1Pass, 60))

			// One REGISTER round trip on loopback; 20 s only bounds a trunk that never registers.
			st := inst.API.tkWaitTrunk(t, "itsp", `registration "registered"`, 20*time.Second, isRegistered)
			if st.LastCode != 200 || st.Target != k.Addr() {
				t.Errorf("registered trunk status: expected last_code 200 and target %s, got %s", k.Addr(), st.Raw)
			}
			contact := trunkContact(inst, "itsp")
			if exp, ok, dump := bindingOf(k, "pbx1", contact); !ok || exp <= 0 {
				t.Errorf("provider location of pbx1: expected a live binding of %s, got (found %v, expires %d):\n%s", contact, ok, exp, dump)
			}

			// The digest answers: username pbx1, realm itsp.lab; with qop offered, qop=auth
			// with nc and cnonce (RFC 2617 §3.2.2), without it none of them.
			var answered []kamRegister
			for _, r := range k.registers("pbx1") {
				if r.Credentials != "none" {
					answered = append(answered, r)
				}
			}
			if len(answered) == 0 {
				t.Fatalf("provider got no REGISTER with credentials from pbx1; REGISTERs:\n%s", joinRegisters(k.registers("")))
			}
			for _, r := range answered {
				c := r.Credentials
				ok := strings.Contains(c, `username="pbx1"`) && strings.Contains(c, `realm="itsp.lab"`)
				hasQop := strings.Contains(c, "qop=auth") || strings.Contains(c, `qop="auth"`)
				if qop {
					ok = ok && hasQop && strings.Contains(c, "nc=") && strings.Contains(c, "cnonce=")
				} else {
					ok = ok && !hasQop && !strings.Contains(c, "cnonce=")
				}
				if !ok {
					t.Errorf("REGISTER credentials (qop offered: %v): expected username pbx1, realm itsp.lab and qop=auth/nc/cnonce exactly when offered; got: %s", qop, c)
				}
			}

			// Refreshes: watch until the provider has accepted 3 REGISTERs (the first and two
			// refreshes, due at about 8.5 s and 17 s). 35 s bounds refreshes that never come.
			// Meanwhile the binding must stay in the provider's location table with time left
			// and the trunk must stay "registered".
			start := time.Now()
			var lapses []string
			for len(k.registersOK("pbx1")) < 3 {
				if exp, ok, dump := bindingOf(k, "pbx1", contact); !ok || exp <= 0 {
					lapses = append(lapses, fmt.Sprintf("+%.1fs: binding found %v, expires %d:\n%s", time.Since(start).Seconds(), ok, exp, dump))
				}
				if st, code := inst.API.tkStatus(t, "itsp"); code != 200 || st.Registration != "registered" {
					lapses = append(lapses, fmt.Sprintf("+%.1fs: trunk status %d %s", time.Since(start).Seconds(), code, st.Raw))
				}
				if time.Since(start) > 35*time.Second {
					t.Fatalf("expected the provider to accept 3 REGISTERs of pbx1 (refresh at 85 %% of the granted %v) within 35 s; accepted:\n%s\nall REGISTERs:\n%s",
						granted, joinRegisters(k.registersOK("pbx1")), joinRegisters(k.registers("")))
				}
				time.Sleep(250 * time.Millisecond)
			}
			if len(lapses) > 0 {
				t.Errorf("expected the binding to stay live and the trunk registered while refreshing; lapses:\n%s", strings.Join(lapses, "\n"))
			}
			oks := k.registersOK("pbx1")
			for i := 1; i < len(oks); i++ {
				gap := oks[i].At.Sub(oks[i-1].At)
				if gap >= granted {
					t.Errorf("refresh %d came %v after the previous accepted REGISTER, expected less than the granted %v (binding lapsed):\n%s",
						i, gap.Round(time.Millisecond), granted, joinRegisters(oks))
				}
			}
			for _, r := range oks {
				if r.Expires != "60" || !strings.Contains(r.Contact, contact) {
					t.Errorf("accepted REGISTER: expected Expires 60 (register_expiry) and Contact %s, got: %s", contact, r.Line)
				}
			}
			t.Logf("accepted REGISTERs:\n%s", joinRegisters(oks))
		})
	}
}

// TestTrunkReRegisterAfterProviderRestart: the provider dies (SIGKILL, bindings lost) and
// comes back on the same address; Trunkline notices when its refresh fails and registers
// again by itself.
func TestTrunkReRegisterAfterProviderRestart(t *testing.T) {
	t.Parallel()
	requirePeer(t, "kamailio", "kamcmd")
	k := startKamailio(t, kamOpts{MinExpires: 5, MaxExpires: 10})
	inst := startTrunkline(t)
	inst.API.tkCreateTrunk(t, itspTrunk("itsp", k, "pbx1", pbx1Pass, 60))
	inst.API.tkWaitTrunk(t, "itsp", `registration "registered"`, 20*time.Second, isRegistered)
	contact := trunkContact(inst, "itsp")

	k.Kill9()
	killed := time.Now()
	// The provider granted 10 s: the refresh is due 8.5 s after the last 200 at the latest
	// and a REGISTER without answer fails after the 8 s request timeout (docs/trunks.md),
	// so the trunk leaves "registered" within about 17 s; 30 s bounds it.
	st := inst.API.tkWaitTrunk(t, "itsp", `registration to leave "registered" after the provider died`, 30*time.Second,
		func(st tkState) bool { return st.Registration != "registered" })
	t.Logf("trunk left \"registered\" %v after the provider was killed: %s", time.Since(killed).Round(time.Millisecond), st.Raw)
	if st.Registration != "failed" || st.NextAttempt == nil || st.LastError == "" {
		t.Errorf("after a refresh without answer: expected registration \"failed\" with next_attempt and last_error set, got %s", st.Raw)
	}

	k.Start()
	restarted := time.Now()
	// Back-off after network errors: 2 s doubling (jittered down to 3/4). The provider was
	// down for one or two failed attempts, so the next try is due within 4-8 s, and an
	// attempt already under way still reaches the new provider with its retransmissions
	// (8 s request timeout): registered again within about 16 s; 40 s bounds it.
	st = inst.API.tkWaitTrunk(t, "itsp", `registration "registered" again after the provider restarted`, 40*time.Second, isRegistered)
	t.Logf("registered again %v after the provider restarted: %s", time.Since(restarted).Round(time.Millisecond), st.Raw)
	if exp, ok, dump := bindingOf(k, "pbx1", contact); !ok || exp <= 0 {
		t.Errorf("restarted provider's location of pbx1: expected a live binding of %s, got (found %v, expires %d):\n%s", contact, ok, exp, dump)
	}
	oks := k.registersOK("pbx1")
	var before, after int
	log := k.logText()
	restart := max(strings.Index(log, "==== e2e: start #2"), 0)
	for _, line := range strings.Split(log[restart:], "\n") {
		if reRegOK.MatchString(line) {
			after++
		}
	}
	before = len(oks) - after
	if before < 1 || after < 1 {
		t.Errorf("expected accepted REGISTERs of pbx1 before the kill and after the restart, got %d before and %d after:\n%s", before, after, joinRegisters(oks))
	}
}

// TestTrunkWrongPassword: the provider refuses our credentials; the trunk is "failed"
// with the provider's 401, and Trunkline does not retry in a loop: after an auth failure
// the back-off is 5 min (jittered down to 3/4 = 225 s), so within the next 10 s no new
// REGISTER may arrive.
func TestTrunkWrongPassword(t *testing.T) {
	t.Parallel()
	requirePeer(t, "kamailio", "kamcmd")
	k := startKamailio(t, kamOpts{})
	inst := startTrunkline(t)
	inst.API.tkCreateTrunk(t, itspTrunk("itsp", k, "pbx1", "not-the-password", 600))

	st := inst.API.tkWaitTrunk(t, "itsp", `registration "failed"`, 20*time.Second,
		func(st tkState) bool { return st.Registration == "failed" })
	if st.LastCode != 401 {
		t.Errorf("wrong password: expected last_code 401 (the provider's answer to our credentials), got %s", st.Raw)
	}
	if st.NextAttempt == nil || time.Until(*st.NextAttempt) < 200*time.Second {
		t.Errorf("wrong password: expected next_attempt at least 225 s (3/4 of the 5 min auth back-off) after the failure, got %s", st.Raw)
	}
	if _, ok, dump := bindingOf(k, "pbx1", trunkContact(inst, "itsp")); ok {
		t.Errorf("provider location of pbx1: expected no binding after a refused REGISTER, got:\n%s", dump)
	}

	first := k.registers("")
	time.Sleep(10 * time.Second)
	all := k.registers("")
	// One attempt is the REGISTER the provider challenges and the one answering the
	// challenge. A third is allowed for a challenge with stale=true (answered once more,
	// docs/trunks.md), which Kamailio does not send for a fresh nonce.
	if len(all) < 2 || len(all) > 3 {
		t.Errorf("expected 2 REGISTERs (challenged, then with the wrong credentials; at most 3) and none in the 10 s after the failure; got %d (%d when the trunk turned failed):\n%s",
			len(all), len(first), joinRegisters(all))
	}
	if len(all) != len(first) {
		t.Errorf("expected no REGISTER during the 10 s after the auth failure (5 min back-off), got %d more:\n%s", len(all)-len(first), joinRegisters(all[len(first):]))
	}
	if st, _ := inst.API.tkStatus(t, "itsp"); st.Registration != "failed" || st.LastCode != 401 {
		t.Errorf("10 s after the failure: expected the trunk still failed with last_code 401, got %s", st.Raw)
	}
	for _, r := range all {
		if r.User != "pbx1" {
			t.Errorf("expected REGISTERs of pbx1 only, got: %s", r.Line)
		}
	}
}
