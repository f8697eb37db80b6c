package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestKill9Restart: Trunkline is killed with SIGKILL during a call and restarted on the
// same data directory: the extensions, the registration of 1002 and the CDR of the call
// completed before the crash are all still there, and 1002 can be called again through
// the binding that survived.
func TestKill9Restart(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)
	port := freeUDPPort(t)
	registerWithSIPp(t, inst, "1002", pw1002, port)
	uas := startSIPp(t, &sippRun{Name: "callee-1002", Scenario: "uas.xml", Port: port, Calls: 3, Timeout: 120 * time.Second})

	// Call 1 completes and leaves a CDR.
	run1 := caller(inst, "uac_auth.xml", "1002", 500*time.Millisecond)
	run1.Name = "caller-1001-first"
	expectCalls(t, runSIPp(t, run1), 1, "first call 1001 -> 1002 before the crash")
	before := inst.API.cdrByCallID(t, run1.CallIDOf(1))

	// Call 2 is up (answered) when Trunkline is killed.
	run2 := caller(inst, "uac_auth.xml", "1002", 60*time.Second)
	run2.Name = "caller-1001-crashed"
	run2.Timeout = 90 * time.Second
	long := startSIPp(t, run2)
	waitActiveCall(t, inst, run2.CallIDOf(1), "answered")
	inst.Kill9()
	long.Stop()

	inst.Restart()

	var exts []string
	for _, e := range inst.API.extensions(t) {
		exts = append(exts, e.Number)
	}
	if !slices.Equal(exts, []string{"1001", "1002"}) {
		t.Errorf("extensions after kill -9 and restart: %v, expected [1001 1002]", exts)
	}

	wantContact := fmt.Sprintf("sip:1002@127.0.0.1:%d", port)
	var found []binding
	for _, b := range inst.API.registrations(t) {
		if b.AOR == "1002" {
			found = append(found, b)
		}
	}
	if len(found) != 1 || !strings.HasPrefix(found[0].Contact, wantContact) {
		t.Errorf("bindings of 1002 after kill -9 and restart: %+v, expected one with contact %s", found, wantContact)
	}

	after := inst.API.cdrByCallID(t, run1.CallIDOf(1))
	if after.ID != before.ID || after.Disposition != before.Disposition || after.Caller != before.Caller ||
		after.Callee != before.Callee || after.BillSec != before.BillSec || after.SIPCode != before.SIPCode ||
		!after.StartTime.Equal(before.StartTime) || !after.EndTime.Equal(before.EndTime) {
		t.Errorf("CDR of the completed call changed across kill -9 and restart:\nbefore: %s\nafter:  %s", before.Raw, after.Raw)
	}

	// The binding is usable: 1002 is called at its registered contact without registering again.
	run3 := caller(inst, "uac_auth.xml", "1002", 500*time.Millisecond)
	run3.Name = "caller-1001-after"
	expectCalls(t, runSIPp(t, run3), 1, "call 1001 -> 1002 after the restart, through the binding that survived")
	c3 := inst.API.cdrByCallID(t, run3.CallIDOf(1))
	checkCDR(t, c3, cdrWant{Caller: "1001", Callee: "1002", Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true})
	uas.Stop()
}

// waitActiveCall waits until GET /api/v1/calls lists the call in the given state.
func waitActiveCall(t testing.TB, inst *instance, callID, state string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last []activeCall
	for time.Now().Before(deadline) {
		last = inst.API.calls(t)
		for _, c := range last {
			if c.CallID == callID && c.State == state {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("expected call %s in state %q in GET /api/v1/calls within 15 s; got %+v", callID, state, last)
}
