package e2e

import (
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown: SIGTERM stops new calls (503 with Retry-After, before any
// challenge) while the call in progress goes on to its natural end; then Trunkline
// exits by itself with status 0 and the call's CDR is there after a restart.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := startTrunkline(t, withArgs("--drain-timeout", "30s"))
	inst.API.createExtension(t, "1001", pw1001, "Caller 1001")
	inst.API.createExtension(t, "1002", pw1002, "Callee 1002")
	uas := calleeUAS(t, inst, "uas.xml", 0)

	long := caller(inst, "uac_auth.xml", "1002", 5*time.Second)
	proc := startSIPp(t, long)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if calls := inst.API.calls(t); len(calls) == 1 && calls[0].State == "answered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first call was not answered within 10 s: %+v", inst.API.calls(t))
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := inst.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the signal land before the next INVITE
	if !inst.running() {
		t.Fatal("trunkline exited at SIGTERM although a call was in progress (expected it to drain)")
	}
	late := &sippRun{Name: "late-caller", Scenario: "uac_drain_503.xml", Remote: inst.SIPAddr(),
		Service: "1002", Caller: "1001", Calls: 1, Timeout: 20 * time.Second, TraceMsg: true}
	expectCalls(t, runSIPp(t, late), 1, "a call during the drain: exactly 503 with Retry-After, no challenge")

	expectCalls(t, proc.Wait(30*time.Second), 1, "the call in progress at SIGTERM: answered, 5 s, BYE from the caller, 200")
	expectUASCalls(t, uas.Wait(20*time.Second), 1, "callee 1002 of the call in progress")

	select {
	case <-inst.done:
	case <-time.After(15 * time.Second):
		t.Fatal("trunkline did not exit within 15 s after its last call ended")
	}
	if inst.err != nil {
		t.Fatalf("trunkline exited with %v after draining, want status 0", inst.err)
	}
	inst.start()
	c := inst.API.cdrByCallID(t, long.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1002", Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true})
}
