package e2e

import (
	"testing"
	"time"
)

// TestRTPTimeout: both phones send RTP for 7 s and then fall silent without a BYE (a
// phone that lost its network). With --rtp-timeout 2s Trunkline ends the call itself:
// both legs get a BYE, and the CDR says the system hung up for "RTP timeout". The call
// must not be cut while media flows (billsec covers the 7 s of RTP plus the timeout).
func TestRTPTimeout(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	requireRoot(t)
	inst := startTrunkline(t, withArgs("--rtp-timeout", "2s"))
	inst.API.createExtension(t, "1001", pw1001, "Caller 1001")
	inst.API.createExtension(t, "1002", pw1002, "Callee 1002")
	uas := calleeUAS(t, inst, "uas_pcap.xml", 0)

	run := caller(inst, "uac_pcap_silent.xml", "1002", 0)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "caller 1001: call, 7 s of RTP, silence, then a BYE from Trunkline")
	expectCalls(t, uas.Wait(30*time.Second), 1, "callee 1002: call, 7 s of RTP, silence, then a BYE from Trunkline")

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1002", Disposition: "answered", HangupBy: "system", SIPCode: 200, Answered: true})
	if c.HangupCause != "RTP timeout" {
		t.Errorf("CDR hangup_cause %q, expected \"RTP timeout\" (CDR: %s)", c.HangupCause, c.Raw)
	}
	if c.BillSec < 8 || c.BillSec > 20 {
		t.Errorf("CDR billsec %d, expected 8-20 s: 7 s of RTP, then at least the 2 s timeout (CDR: %s)", c.BillSec, c.Raw)
	}
	if want := int64(pcapPackets(t) * 9 / 10); c.RTPCallerToCallee < want || c.RTPCalleeToCaller < want {
		t.Errorf("CDR RTP %d / %d packets, expected at least %d each way (CDR: %s)", c.RTPCallerToCallee, c.RTPCalleeToCaller, want, c.Raw)
	}
}
