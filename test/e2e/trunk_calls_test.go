package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Calls over SIP trunks: digest on INVITE, IP-authenticated trunk, a gateway that
// registers to us, and calls both ways through the Kamailio provider.

const (
	pstnNumber = "+4915112345678" // an external number the extensions dial
	pstnCaller = "+4915550001111" // the PSTN party calling our DIDs
	didPBX1    = "4930100100"     // DID of provider account pbx1 (testdata/kamailio/db/did)
)

// pstnGateway starts the "PSTN" SIPp UAS on the carrier address for one call; Kamailio
// terminates calls to it (PSTN_GW).
func pstnGateway(t testing.TB, scenario string) *sippProc {
	t.Helper()
	return startSIPpOn(t, carrierIP, &sippRun{
		Name:     "pstn-gateway",
		Scenario: scenario,
		Calls:    1,
		Timeout:  60 * time.Second,
		TraceMsg: true,
	})
}

// outboundCaller is 1001 dialling an external number through Trunkline (407 digest at
// Trunkline first, as every extension call).
func outboundCaller(inst *instance, scenario, number string, pause time.Duration) *sippRun {
	r := caller(inst, scenario, number, pause)
	r.Name = "caller-1001-out"
	return r
}

// checkRTP checks that the relay forwarded at least 90 % of the pcap each side played
// (the same bar as TestCallRTP: on loopback nothing is lost).
func checkRTP(t testing.TB, what string, c cdr) {
	t.Helper()
	want := int64(pcapPackets(t) * 9 / 10)
	if c.RTPCallerToCallee < want || c.RTPCalleeToCaller < want {
		t.Errorf("%s: CDR RTP packets caller->callee %d, callee->caller %d; expected at least %d each way (90 %% of the %d-packet pcap each side played) (CDR: %s)",
			what, c.RTPCallerToCallee, c.RTPCalleeToCaller, want, pcapPackets(t), c.Raw)
	}
}

func checkCDRTrunk(t testing.TB, c cdr, want string) {
	t.Helper()
	if got := trunkOfCDR(c); got != want {
		t.Errorf("CDR trunk = %q, expected %q (CDR: %s)", got, want, c.Raw)
	}
}

// firstInvite is the first INVITE a SIPp process received (-trace_msg).
func firstInvite(t testing.TB, res *sippResult) (sipMsg, bool) {
	t.Helper()
	inv := firstPerCSeq(received(readSIPpMessages(t, res.MessageLog), isRequest("INVITE")))
	if len(inv) == 0 {
		return sipMsg{}, false
	}
	return inv[0], true
}

// TestTrunkDigestOnInvite: a register trunk with "register": false. 1001 calls an external
// number; the provider challenges Trunkline's INVITE with 407, Trunkline answers with the
// trunk's credentials and the call reaches the PSTN gateway behind the provider; RTP both
// ways through the relay; no REGISTER is ever sent.
func TestTrunkDigestOnInvite(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp", "kamailio", "kamcmd")
	requireRoot(t)
	gw := pstnGateway(t, "uas_pcap.xml")
	k := startKamailio(t, kamOpts{PSTNGW: carrierIP + ":" + strconv.Itoa(gw.Port)})
	inst := startTrunkline(t)
	inst.API.tkCreateExtension(t, "1001", pw1001, "Caller 1001", allPermissions)
	body := itspTrunk("itsp", k, "pbx1", pbx1Pass, 600)
	body["register"] = false
	body["default_outbound"] = true
	inst.API.tkCreateTrunk(t, body)
	// The runtime loads the trunk right away; 10 s only bounds a trunk never loaded.
	inst.API.tkWaitTrunk(t, "itsp", `registration "off" (a trunk that does not register)`, 10*time.Second,
		func(st tkState) bool { return st.Registration == "off" })

	run := outboundCaller(inst, "uac_pcap.xml", pstnNumber, 0)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "1001 -> "+pstnNumber+" over trunk itsp (register false): 407 at Trunkline, 200 from the PSTN gateway via the provider, 8 s of RTP, BYE")
	gres := gw.Wait(20 * time.Second)
	expectCalls(t, gres, 1, "PSTN gateway behind the provider: INVITE, 200, ACK, RTP, BYE")

	// The provider challenged Trunkline's INVITE once and let the answer through as pbx1.
	challenged := dedupTxn(k.logLines("INVITE challenged 407", fmt.Sprintf("from 127.0.0.1:%d", inst.SIPPort)))
	terminated := dedupTxn(k.logLines("termination by pbx1:"))
	if len(challenged) != 1 || len(terminated) != 1 {
		t.Errorf("provider log: expected 1 INVITE from Trunkline challenged with 407 and 1 termination authenticated as pbx1; got %d challenged, %d terminated:\n%s\n%s",
			len(challenged), len(terminated), strings.Join(challenged, "\n"), strings.Join(terminated, "\n"))
	}
	if inv, ok := firstInvite(t, gres); !ok {
		t.Errorf("PSTN gateway: expected an INVITE, got none")
	} else if cust := inv.Get("X-Lab-Customer"); len(cust) != 1 || cust[0] != "pbx1" || !strings.HasPrefix(inv.First, "INVITE sip:"+pstnNumber+"@") {
		t.Errorf("PSTN gateway: expected INVITE sip:%s@... with X-Lab-Customer: pbx1 (digest-authenticated customer), got:\n%s", pstnNumber, inv)
	}
	if regs := k.registers(""); len(regs) != 0 {
		t.Errorf("register false: expected no REGISTER at the provider, got %d:\n%s", len(regs), joinRegisters(regs))
	}

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: pstnNumber, Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true, Direction: "outbound"})
	checkCDRTrunk(t, c, "itsp")
	checkRTP(t, "outbound call over the digest-on-INVITE trunk", c)
}

// TestTrunkIPAuth: an ip trunk recognises the carrier by its source address: a DID call
// from 127.0.0.3 goes straight to the DID's extension without a challenge; the same INVITE
// from 127.0.0.9 is challenged (exactly 407) and logged as coming from an unidentified
// source.
func TestTrunkIPAuth(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)
	inst.API.tkCreateTrunk(t, map[string]any{
		"name": "carrier", "kind": "ip",
		"associated_ips": []string{carrierIP + "/32"},
		"dids":           []map[string]string{{"number": didPBX1, "extension": "1002"}},
	})
	uas := calleeUAS(t, inst, "uas.xml", 0)

	run := &sippRun{Name: "carrier", Scenario: "trunk_uac.xml", Remote: inst.SIPAddr(), Service: didPBX1,
		Caller: pstnCaller, Pause: time.Second, Timeout: 30 * time.Second, TraceMsg: true}
	res := runSIPpOn(t, carrierIP, run)
	expectCalls(t, res, 1, "carrier 127.0.0.3 -> DID "+didPBX1+": no challenge, 200 from extension 1002, BYE")
	ures := uas.Wait(20 * time.Second)
	expectCalls(t, ures, 1, "extension 1002: INVITE for DID "+didPBX1+" from the carrier, 200, ACK, BYE")

	// The CDR's callee is the extension that answered (call.go), not the DID.
	c := inst.API.cdrByCallID(t, callIDOn(run, carrierIP, 1))
	checkCDR(t, c, cdrWant{Caller: pstnCaller, Callee: "1002", Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true, Direction: "inbound"})
	checkCDRTrunk(t, c, "carrier")

	stray := &sippRun{Name: "stray", Scenario: "trunk_uac_407.xml", Remote: inst.SIPAddr(), Service: didPBX1,
		Caller: pstnCaller, Timeout: 20 * time.Second, TraceMsg: true}
	sres := runSIPpOn(t, strayIP, stray)
	expectCalls(t, sres, 1, "127.0.0.9 -> DID "+didPBX1+" without credentials: exactly 407, never answered")
	want := fmt.Sprintf("source=%s:%d", strayIP, stray.Port)
	var lines []string
	for _, line := range strings.Split(readTextFile(t, inst.LogPath), "\n") {
		if strings.Contains(line, "invite from unidentified source challenged") && strings.Contains(line, want) {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 {
		t.Errorf("Trunkline log: expected one \"invite from unidentified source challenged\" line with %s, got %d:\n%s", want, len(lines), strings.Join(lines, "\n"))
	}
	all := inst.API.cdrs(t)
	for _, r := range all {
		if r.CallID == callIDOn(stray, strayIP, 1) {
			t.Errorf("the challenged INVITE from %s must not become a call; got a CDR: %s", strayIP, r.Raw)
		}
	}
}

// TestTrunkAcceptRegister: a gateway registers to Trunkline with the credentials of an
// accept_register trunk and then receives the trunk's outbound calls at its contact.
func TestTrunkAcceptRegister(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := startTrunkline(t)
	inst.API.tkCreateExtension(t, "1001", pw1001, "Caller 1001", allPermissions)
	inst.API.tkCreateTrunk(t, map[string]any{
		"name": "gw", "kind": "accept_register",
		"username": "gw1", "password": "gw1secret!",
		"default_outbound": true,
	})
	port := freeUDPPort(t)
	registerWithSIPp(t, inst, "gw1", "gw1secret!", port)
	gw := startSIPp(t, &sippRun{Name: "gateway-gw1", Scenario: "uas.xml", Port: port, Calls: 1, Timeout: 60 * time.Second, TraceMsg: true})

	run := outboundCaller(inst, "uac_auth.xml", pstnNumber, time.Second)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "1001 -> "+pstnNumber+" over trunk gw: 407, 200 from the registered gateway, BYE")
	gres := gw.Wait(20 * time.Second)
	expectCalls(t, gres, 1, "gateway gw1 (registered contact): INVITE, 200, ACK, BYE")
	if inv, ok := firstInvite(t, gres); !ok {
		t.Errorf("gateway: expected an INVITE, got none")
	} else if !strings.HasPrefix(inv.First, "INVITE sip:"+pstnNumber+"@127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("gateway: expected INVITE sip:%s@127.0.0.1:%d (its registered contact with the number as user), got:\n%s", pstnNumber, port, inv)
	}

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: pstnNumber, Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true, Direction: "outbound"})
	checkCDRTrunk(t, c, "gw")
}

// TestTrunkPSTNThroughKamailio: the whole path through the provider, both ways at once,
// with RTP: the PSTN calls DID 4930100100, the provider sends the call to Trunkline's
// registration, Trunkline rings extension 1002; and 1001 calls out through the provider
// (407 answered with the trunk's credentials) to the PSTN gateway.
func TestTrunkPSTNThroughKamailio(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp", "kamailio", "kamcmd")
	requireRoot(t)
	gw := pstnGateway(t, "uas_pcap.xml")
	k := startKamailio(t, kamOpts{PSTNGW: carrierIP + ":" + strconv.Itoa(gw.Port)})
	inst := startTrunkline(t)
	inst.API.tkCreateExtension(t, "1001", pw1001, "Caller 1001", allPermissions)
	inst.API.createExtension(t, "1002", pw1002, "Callee 1002")
	body := itspTrunk("itsp", k, "pbx1", pbx1Pass, 600)
	body["default_outbound"] = true
	body["dids"] = []map[string]string{{"number": didPBX1, "extension": "1002"}}
	inst.API.tkCreateTrunk(t, body)
	inst.API.tkWaitTrunk(t, "itsp", `registration "registered"`, 20*time.Second, isRegistered)
	ext := calleeUAS(t, inst, "uas_pcap.xml", 0)

	in := &sippRun{Name: "pstn-caller", Scenario: "trunk_uac_pcap.xml", Remote: k.Addr(), Service: didPBX1,
		Caller: pstnCaller, Timeout: 45 * time.Second, TraceMsg: true}
	out := outboundCaller(inst, "uac_pcap.xml", pstnNumber, 0)
	inP := startSIPpOn(t, carrierIP, in)
	outP := startSIPp(t, out)
	inRes := inP.Wait(65 * time.Second)
	outRes := outP.Wait(65 * time.Second)
	expectCalls(t, inRes, 1, "PSTN "+pstnCaller+" -> DID "+didPBX1+" via the provider to extension 1002: 200, 8 s of RTP, BYE")
	expectCalls(t, outRes, 1, "1001 -> "+pstnNumber+" via the provider to the PSTN gateway: 200, 8 s of RTP, BYE")
	expectCalls(t, ext.Wait(20*time.Second), 1, "extension 1002: the DID call, RTP, BYE")
	expectCalls(t, gw.Wait(20*time.Second), 1, "PSTN gateway: the outbound call, RTP, BYE")

	contact := trunkContact(inst, "itsp")
	if lines := dedupTxn(k.logLines("origination DID " + didPBX1 + " -> pbx1 at " + contact)); len(lines) != 1 {
		t.Errorf("provider log: expected the DID call delivered to our registration %s once, got %d lines:\n%s", contact, len(lines), strings.Join(lines, "\n"))
	}
	if lines := dedupTxn(k.logLines("termination by pbx1:")); len(lines) != 1 {
		t.Errorf("provider log: expected one outbound call authenticated as pbx1, got %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}

	cin := inst.API.cdrByCallID(t, callIDOn(in, carrierIP, 1))
	checkCDR(t, cin, cdrWant{Caller: pstnCaller, Callee: "1002", Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true, Direction: "inbound"})
	checkCDRTrunk(t, cin, "itsp")
	checkRTP(t, "inbound DID call", cin)

	cout := inst.API.cdrByCallID(t, out.CallIDOf(1))
	checkCDR(t, cout, cdrWant{Caller: "1001", Callee: pstnNumber, Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true, Direction: "outbound"})
	checkCDRTrunk(t, cout, "itsp")
	checkRTP(t, "outbound call", cout)
}
