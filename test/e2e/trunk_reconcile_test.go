package e2e

import (
	"maps"
	"strconv"
	"testing"
	"time"
)

// TestTrunkReconcile: editing a trunk re-registers it only when a registration setting
// changed, never touches the other trunk, and does not disturb a call in progress.
func TestTrunkReconcile(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp", "kamailio", "kamcmd")
	gw := pstnGateway(t, "uas.xml")
	k := startKamailio(t, kamOpts{PSTNGW: carrierIP + ":" + strconv.Itoa(gw.Port)})
	inst := startTrunkline(t)
	inst.API.tkCreateExtension(t, "1001", pw1001, "Caller 1001", allPermissions)
	b1 := itspTrunk("itsp1", k, "pbx1", pbx1Pass, 600)
	b1["default_outbound"] = true
	b1["dids"] = []map[string]string{{"number": didPBX1, "extension": "1001"}}
	b2 := itspTrunk("itsp2", k, "pbx2", pbx2Pass, 600)
	b2["dids"] = []map[string]string{{"number": "4930200200", "extension": "1001"}}
	inst.API.tkCreateTrunk(t, b1)
	inst.API.tkCreateTrunk(t, b2)
	inst.API.tkWaitTrunk(t, "itsp1", `registration "registered"`, 20*time.Second, isRegistered)
	inst.API.tkWaitTrunk(t, "itsp2", `registration "registered"`, 20*time.Second, isRegistered)

	// A call over itsp1 that lasts through both edits.
	const callLen = 12 * time.Second
	run := outboundCaller(inst, "uac_auth.xml", pstnNumber, callLen)
	callStart := time.Now()
	callP := startSIPp(t, run)
	inst.API.tkWaitTrunk(t, "itsp1", "active_calls 1 (the call is up)", 15*time.Second,
		func(st tkState) bool { return st.ActiveCalls == 1 })
	waitAnswered(t, inst, run.CallIDOf(1))

	n1, n2 := len(k.registers("pbx1")), len(k.registers("pbx2"))

	// 1. The same body again: same runtime key, nothing is re-sent.
	inst.API.tkPutTrunk(t, "itsp1", b1)
	time.Sleep(3 * time.Second)
	if got := k.registers("pbx1"); len(got) != n1 {
		t.Errorf("PUT itsp1 with an identical body: expected no new REGISTER of pbx1, got %d:\n%s", len(got)-n1, joinRegisters(got[n1:]))
	}
	if got := k.registers("pbx2"); len(got) != n2 {
		t.Errorf("PUT itsp1 with an identical body: expected no new REGISTER of pbx2, got %d:\n%s", len(got)-n2, joinRegisters(got[n2:]))
	}
	for _, name := range []string{"itsp1", "itsp2"} {
		if st, _ := inst.API.tkStatus(t, name); st.Registration != "registered" {
			t.Errorf("after the identical PUT: expected trunk %s still registered, got %s", name, st.Raw)
		}
	}
	checkActive(t, inst, "itsp1", run.CallIDOf(1), "after the identical PUT")

	// 2. A new register_expiry: itsp1 re-registers (un-REGISTER, then REGISTER asking
	// 660 s); itsp2 is left alone.
	changed := maps.Clone(b1)
	changed["register_expiry"] = 660
	inst.API.tkPutTrunk(t, "itsp1", changed)
	deadline := time.Now().Add(20 * time.Second) // one challenge round trip; bounds a missing REGISTER
	for !hasRegisterOK(k, "pbx1", "660") {
		if time.Now().After(deadline) {
			t.Fatalf("PUT itsp1 with register_expiry 660: expected pbx1 to register again with Expires 660 within 20 s; REGISTERs since:\n%s",
				joinRegisters(k.registers("pbx1")[n1:]))
		}
		time.Sleep(100 * time.Millisecond)
	}
	inst.API.tkWaitTrunk(t, "itsp1", `registration "registered" after the re-registration`, 20*time.Second, isRegistered)
	time.Sleep(2 * time.Second)
	after1 := k.registers("pbx1")[n1:]
	sawUnregister, sawNew := false, false
	for _, r := range after1 {
		switch {
		case r.Expires == "0" && !sawNew:
			sawUnregister = true
		case r.Expires == "660":
			sawNew = true
		default:
			t.Errorf("after the changed PUT: unexpected REGISTER of pbx1 (expected an un-REGISTER, then REGISTERs with Expires 660): %s", r.Line)
		}
	}
	if !sawUnregister || !sawNew {
		t.Errorf("after the changed PUT: expected an un-REGISTER (Expires 0) of pbx1 followed by a REGISTER with Expires 660, got:\n%s", joinRegisters(after1))
	}
	if got := k.registers("pbx2"); len(got) != n2 {
		t.Errorf("PUT itsp1 with a new register_expiry: expected no new REGISTER of pbx2, got %d:\n%s", len(got)-n2, joinRegisters(got[n2:]))
	}
	if st, _ := inst.API.tkStatus(t, "itsp2"); st.Registration != "registered" {
		t.Errorf("after the changed PUT of itsp1: expected trunk itsp2 still registered, got %s", st.Raw)
	}
	if exp, ok, dump := bindingOf(k, "pbx1", trunkContact(inst, "itsp1")); !ok || exp <= 600 {
		t.Errorf("provider location of pbx1 after the changed PUT: expected our binding with more than 600 s left (660 granted), got (found %v, expires %d):\n%s", ok, exp, dump)
	}
	checkActive(t, inst, "itsp1", run.CallIDOf(1), "after the changed PUT")

	// The call survived: the caller hangs up after callLen, the BYE goes through.
	res := callP.Wait(callLen + 30*time.Second)
	elapsed := time.Since(callStart)
	expectCalls(t, res, 1, "1001 -> "+pstnNumber+" over itsp1 while itsp1 was edited twice: 200, 12 s, BYE -> 200")
	expectCalls(t, gw.Wait(20*time.Second), 1, "PSTN gateway: the call, BYE from the caller")
	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: pstnNumber, Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true, Direction: "outbound"})
	checkCDRTrunk(t, c, "itsp1")
	// The caller paused callLen between its ACK and its BYE: billsec is at least that
	// (less a second for rounding) and at most the time SIPp ran.
	if lo, hi := int(callLen/time.Second)-1, int(elapsed/time.Second)+1; c.BillSec < lo || c.BillSec > hi {
		t.Errorf("CDR billsec = %d, expected %d..%d (the caller's %v pause; SIPp ran %v) (CDR: %s)", c.BillSec, lo, hi, callLen, elapsed.Round(time.Millisecond), c.Raw)
	}
	inst.API.tkWaitTrunk(t, "itsp1", "active_calls 0 after the call", 10*time.Second,
		func(st tkState) bool { return st.ActiveCalls == 0 })
}

func hasRegisterOK(k *kamailio, user, expires string) bool {
	for _, r := range k.registersOK(user) {
		if r.Expires == expires {
			return true
		}
	}
	return false
}

// waitAnswered waits until GET /api/v1/calls shows the call answered.
func waitAnswered(t *testing.T, inst *instance, callID string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		calls := inst.API.calls(t)
		for _, c := range calls {
			if c.CallID == callID && c.State == "answered" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected call %s answered within 15 s; active calls: %+v", callID, calls)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkActive checks that the call is still up and counted on its trunk.
func checkActive(t *testing.T, inst *instance, trunk, callID, when string) {
	t.Helper()
	found := false
	calls := inst.API.calls(t)
	for _, c := range calls {
		if c.CallID == callID && c.State == "answered" {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: expected call %s still answered, active calls: %+v", when, callID, calls)
	}
	if st, _ := inst.API.tkStatus(t, trunk); st.ActiveCalls != 1 {
		t.Errorf("%s: expected trunk %s to count 1 active call, got %s", when, trunk, st.Raw)
	}
}
