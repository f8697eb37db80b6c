package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestBaresip: a real softphone. baresip registers as 1003 (digest, 401), dials 1002 (a
// SIPp UAS; baresip answers the 407 itself) and the call is answered; then a SIPp UAC as
// 1001 calls 1003 and baresip auto-answers. Both CDRs: answered, RTP relayed both ways.
func TestBaresip(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp", "baresip")
	requireRoot(t)
	inst := newPBX(t)
	inst.API.createExtension(t, "1003", pw1003, "baresip 1003")

	phone := startBaresip(t, inst, "1003", pw1003)
	reg := phone.waitRegistered(15 * time.Second)
	t.Logf("baresip reginfo: %s", strings.TrimSpace(reg))
	var bound []binding
	for _, b := range inst.API.registrations(t) {
		if b.AOR == "1003" {
			bound = append(bound, b)
		}
	}
	wantContact := fmt.Sprintf("@127.0.0.1:%d", phone.SIPPort)
	if len(bound) != 1 || !strings.Contains(bound[0].Contact, wantContact) {
		t.Fatalf("GET /api/v1/registrations: expected one binding of 1003 with a contact at 127.0.0.1:%d (baresip), got %+v", phone.SIPPort, bound)
	}

	// baresip (1003) -> 1002 (SIPp UAS playing the pcap). Held for 5 s after the answer.
	uas := calleeUAS(t, inst, "uas_pcap.xml", 0)
	if _, err := phone.Command("dial", "sip:1002@"+inst.SIPAddr()); err != nil {
		t.Fatalf("baresip dial 1002: %v", err)
	}
	phone.waitFor("listcalls", "", "ESTABLISHED", 15*time.Second)
	var callID string
	for _, c := range inst.API.calls(t) {
		if c.Caller == "1003" && c.Callee == "1002" {
			callID = c.CallID
		}
	}
	if callID == "" {
		t.Errorf("GET /api/v1/calls during the established call 1003 -> 1002: no such call in %+v", inst.API.calls(t))
	}
	const hold = 5 * time.Second
	time.Sleep(hold)
	if _, err := phone.Command("hangup", ""); err != nil {
		t.Errorf("baresip hangup: %v", err)
	}
	ures := uas.Wait(20 * time.Second)
	expectCalls(t, ures, 1, "callee 1002 (SIPp UAS): INVITE from baresip via Trunkline, 200, ACK, RTP, BYE")
	if callID != "" {
		c := inst.API.cdrByCallID(t, callID)
		checkCDR(t, c, cdrWant{Caller: "1003", Callee: "1002", Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true})
		// 5 s of call: baresip sends 50 packets/s (ptime 20), the pcap 33 packets/s
		// (30 ms). Require at least half of that each way.
		if c.RTPCallerToCallee < 125 || c.RTPCalleeToCaller < 83 {
			t.Errorf("CDR RTP packets caller->callee %d, callee->caller %d; expected >= 125 (half of 5 s at 50/s from baresip) and >= 83 (half of 5 s at 33/s from the pcap) (CDR: %s)",
				c.RTPCallerToCallee, c.RTPCalleeToCaller, c.Raw)
		}
	}

	// 1001 (SIPp, plays the pcap for 7 s, BYE after 8 s) -> 1003: baresip answers by itself.
	run := caller(inst, "uac_pcap.xml", "1003", 0)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "call 1001 -> 1003 (baresip auto-answer): 407, 200, ACK, 8 s RTP, BYE")
	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1003", Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true})
	// The pcap: 236 packets, 90 % must arrive; baresip: 8 s at 50/s = 400, half required.
	want := int64(pcapPackets(t) * 9 / 10)
	if c.RTPCallerToCallee < want || c.RTPCalleeToCaller < 200 {
		t.Errorf("CDR RTP packets caller->callee %d, callee->caller %d; expected >= %d (90 %% of the pcap) and >= 200 (half of 8 s at 50/s from baresip) (CDR: %s)",
			c.RTPCallerToCallee, c.RTPCalleeToCaller, want, c.Raw)
	}
}
