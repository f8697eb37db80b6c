package e2e

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Extensions of the call tests: 1001 calls, 1002 answers (a SIPp UAS).
const (
	pw1001 = "secret-1001"
	pw1002 = "secret-1002"
	pw1003 = "secret-1003"
)

// newPBX starts Trunkline with extensions 1001 and 1002.
func newPBX(t *testing.T) *instance {
	t.Helper()
	inst := startTrunkline(t)
	inst.API.createExtension(t, "1001", pw1001, "Caller 1001")
	inst.API.createExtension(t, "1002", pw1002, "Callee 1002")
	return inst
}

// calleeUAS registers 1002 from a fresh port, then starts a SIPp UAS running scenario on
// that port for one call.
func calleeUAS(t *testing.T, inst *instance, scenario string, pause time.Duration) *sippProc {
	t.Helper()
	port := freeUDPPort(t)
	registerWithSIPp(t, inst, "1002", pw1002, port)
	return startSIPp(t, &sippRun{
		Name:     "callee-1002",
		Scenario: scenario,
		Port:     port,
		Pause:    pause,
		Calls:    1,
		Timeout:  60 * time.Second,
		TraceMsg: true,
	})
}

// caller is a SIPp UAC calling as 1001 (digest user 1001) to callee. SIPp's digest uri
// defaults to sip:REMOTE_IP:PORT, which is not the Request-URI of an INVITE (RFC 2617
// §3.2.2.5 wants them equal): -auth_uri sets the INVITE's.
func caller(inst *instance, scenario, callee string, pause time.Duration) *sippRun {
	return &sippRun{
		Args:     []string{"-auth_uri", callee + "@" + inst.SIPAddr()},
		Name:     "caller-1001",
		Scenario: scenario,
		Remote:   inst.SIPAddr(),
		Service:  callee,
		Caller:   "1001",
		AuthUser: "1001",
		AuthPass: pw1001,
		Pause:    pause,
		Timeout:  45 * time.Second,
		TraceMsg: true,
	}
}

// pcapPackets counts the packets of testdata/sipp/pcap/g711a.pcap (the RTP SIPp plays).
func pcapPackets(t testing.TB) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testdata, "sipp", "pcap", "g711a.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
		t.Fatalf("g711a.pcap: not a little-endian pcap file")
	}
	n := 0
	for off := 24; off+16 <= len(data); n++ {
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	return n
}

// received returns the messages SIPp received that match.
func received(msgs []sipMsg, match func(sipMsg) bool) []sipMsg {
	var out []sipMsg
	for _, m := range msgs {
		if m.Received && match(m) {
			out = append(out, m)
		}
	}
	return out
}

func isRequest(method string) func(sipMsg) bool {
	return func(m sipMsg) bool { return m.StatusCode() == 0 && m.Method() == method }
}

func isResponse(code int, method string) func(sipMsg) bool {
	return func(m sipMsg) bool { return m.StatusCode() == code && m.Method() == method }
}

// firstPerCSeq drops retransmissions: the first message of each CSeq.
func firstPerCSeq(msgs []sipMsg) []sipMsg {
	seen := map[string]bool{}
	var out []sipMsg
	for _, m := range msgs {
		cs := strings.Join(m.Get("cseq"), ",")
		if !seen[cs] {
			seen[cs] = true
			out = append(out, m)
		}
	}
	return out
}

// TestCallRTP: 1001 (SIPp, 407 auth) calls 1002 (SIPp UAS registered with its own port);
// both play g711a.pcap; the relay must forward most of it in each direction, the SDP on
// both legs must point at the relay, and the CDR must say answered.
func TestCallRTP(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	requireRoot(t)
	inst := newPBX(t)
	uas := calleeUAS(t, inst, "uas_pcap.xml", 0)

	run := caller(inst, "uac_pcap.xml", "1002", 0)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "call 1001 -> 1002 (407, INVITE with credentials, 200, ACK, 8 s of RTP, BYE, 200)")
	ures := uas.Wait(20 * time.Second)
	expectCalls(t, ures, 1, "callee 1002 (INVITE, 100, 180, 200, ACK, RTP, BYE)")

	// SDP rewritten to the relay on both legs.
	if invites := firstPerCSeq(received(readSIPpMessages(t, ures.MessageLog), isRequest("INVITE"))); len(invites) != 1 {
		t.Errorf("callee: expected 1 INVITE from Trunkline, got %d", len(invites))
	} else {
		checkRelaySDP(t, inst, "INVITE to the callee", invites[0])
	}
	if oks := firstPerCSeq(received(readSIPpMessages(t, res.MessageLog), isResponse(200, "INVITE"))); len(oks) != 1 {
		t.Errorf("caller: expected one 200 OK to the INVITE, got %d", len(oks))
	} else {
		checkRelaySDP(t, inst, "200 OK to the caller", oks[0])
	}

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1002", Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true})
	// Each side plays the whole pcap (236 packets of 30 ms = 7 s) inside an 8 s call; on
	// loopback nothing is lost, so the relay must forward at least 90 % of it each way.
	want := int64(pcapPackets(t) * 9 / 10)
	if c.RTPCallerToCallee < want || c.RTPCalleeToCaller < want {
		t.Errorf("CDR RTP packets caller->callee %d, callee->caller %d; expected at least %d each way (90 %% of the %d-packet pcap each side played) (CDR: %s)",
			c.RTPCallerToCallee, c.RTPCalleeToCaller, want, pcapPackets(t), c.Raw)
	}
}

// TestCallCancel: the caller gives up while the callee rings: 487 to the caller, CANCEL
// to the callee, CDR cancelled by the caller.
func TestCallCancel(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)
	uas := calleeUAS(t, inst, "uas_noanswer.xml", 0)

	run := caller(inst, "uac_cancel.xml", "1002", time.Second)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "caller 1001: 407, INVITE, 180, CANCEL, 200 (CANCEL), exactly 487 (INVITE)")
	ures := uas.Wait(20 * time.Second)
	expectCalls(t, ures, 1, "callee 1002: INVITE, 180, then CANCEL from Trunkline, 487, ACK")

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1002", Disposition: "cancelled", HangupBy: "caller", SIPCode: 487})
}

// TestCallerEarlyBye: the caller ends the early dialog (after 180) with BYE instead of
// CANCEL: it gets 200 for the BYE and 487 for the INVITE, the callee gets a CANCEL, and the
// CDR says cancelled by the caller.
func TestCallerEarlyBye(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)
	uas := calleeUAS(t, inst, "uas_noanswer.xml", 0)

	run := caller(inst, "uac_early_bye.xml", "1002", time.Second)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "caller 1001: 407, INVITE, 180, BYE, 200 (BYE), exactly 487 (INVITE)")
	ures := uas.Wait(20 * time.Second)
	expectCalls(t, ures, 1, "callee 1002: INVITE, 180, then CANCEL from Trunkline, 487, ACK")

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1002", Disposition: "cancelled", HangupBy: "caller", SIPCode: 487})
}

// TestCalleeBye: the callee hangs up; the caller gets a BYE; CDR answered, hung up by
// the callee.
func TestCalleeBye(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)
	uas := calleeUAS(t, inst, "uas_bye.xml", time.Second)

	run := caller(inst, "uac_wait_bye.xml", "1002", 0)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "caller 1001: 407, INVITE, 200, ACK, then a BYE relayed from the callee")
	ures := uas.Wait(20 * time.Second)
	expectCalls(t, ures, 1, "callee 1002: answers, sends BYE after 1 s, gets 200")

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1002", Disposition: "answered", HangupBy: "callee", SIPCode: 200, Answered: true})
}

// TestCalleeBusy486: the callee answers 486; the caller gets exactly 486.
func TestCalleeBusy486(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)
	uas := calleeUAS(t, inst, "uas_486.xml", 0)

	run := caller(inst, "uac_486.xml", "1002", 0)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "caller 1001: 407, INVITE with credentials, exactly 486 (relayed from the callee)")
	ures := uas.Wait(20 * time.Second)
	expectCalls(t, ures, 1, "callee 1002: INVITE, 486, ACK from Trunkline")

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1002", Disposition: "busy", HangupBy: "callee", SIPCode: 486})
}

// TestUnregistered480: calling a known extension that has no registration gives 480.
func TestUnregistered480(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)

	run := caller(inst, "uac_480.xml", "1002", 0)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "caller 1001 -> 1002 (extension exists, not registered): 407, then exactly 480")

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1002", Disposition: "failed", HangupBy: "system", SIPCode: 480})
}

// TestUnknown404: calling a number that is no extension gives 404 (after the caller
// authenticated).
func TestUnknown404(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)

	run := caller(inst, "uac_404.xml", "1999", 0)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "caller 1001 -> 1999 (no such extension): 407, then exactly 404")

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	// A number that is no extension goes to outbound routing, which has no trunk
	// here: the call fails there, so the CDR says outbound.
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1999", Disposition: "failed", HangupBy: "system", SIPCode: 404, Direction: "outbound"})
}

// TestHoldReinvite: the caller holds (re-INVITE a=sendonly) and resumes (a=sendrecv);
// Trunkline relays each re-INVITE to the callee and answers the caller with its own SDP
// built from the callee's answer (a=recvonly while on hold), always pointing at the relay.
func TestHoldReinvite(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)
	uas := calleeUAS(t, inst, "uas_hold.xml", 0)

	run := caller(inst, "uac_hold.xml", "1002", 500*time.Millisecond)
	res := runSIPp(t, run)
	expectCalls(t, res, 1, "caller 1001: call, re-INVITE sendonly -> 200 recvonly, re-INVITE sendrecv -> 200 sendrecv, BYE")
	ures := uas.Wait(20 * time.Second)
	expectCalls(t, ures, 1, "callee 1002: INVITE, re-INVITE with a=sendonly, re-INVITE with a=sendrecv, BYE")

	dirs := []string{"sendrecv", "sendonly", "sendrecv"}
	invites := firstPerCSeq(received(readSIPpMessages(t, ures.MessageLog), isRequest("INVITE")))
	if len(invites) != 3 {
		t.Errorf("callee: expected 3 INVITEs (call, hold, resume), got %d", len(invites))
	}
	for i, m := range invites {
		if i < len(dirs) {
			checkRelaySDP(t, inst, fmt.Sprintf("INVITE #%d to the callee", i+1), m)
			if got := sdpDirection(m.Body); got != dirs[i] {
				t.Errorf("INVITE #%d to the callee: expected direction %s, got %s:\n%s", i+1, dirs[i], got, m)
			}
		}
	}
	answers := []string{"sendrecv", "recvonly", "sendrecv"}
	oks := firstPerCSeq(received(readSIPpMessages(t, res.MessageLog), isResponse(200, "INVITE")))
	if len(oks) != 3 {
		t.Errorf("caller: expected 3 200 OKs to INVITEs (call, hold, resume), got %d", len(oks))
	}
	for i, m := range oks {
		if i < len(answers) {
			checkRelaySDP(t, inst, fmt.Sprintf("200 OK #%d to the caller", i+1), m)
			if got := sdpDirection(m.Body); got != answers[i] {
				t.Errorf("200 OK #%d to the caller: expected direction %s, got %s:\n%s", i+1, answers[i], got, m)
			}
		}
	}

	c := inst.API.cdrByCallID(t, run.CallIDOf(1))
	checkCDR(t, c, cdrWant{Caller: "1001", Callee: "1002", Disposition: "answered", HangupBy: "caller", SIPCode: 200, Answered: true})
}
