package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// sipRequest builds a request from 127.0.0.1:localPort to Trunkline; drop names headers
// to leave out, extra is appended to the headers, body is sent as is.
func sipRequest(method, target string, localPort int, drop []string, extra []string, contentLength int, body string) []byte {
	hdrs := [][2]string{
		{"Via", fmt.Sprintf("SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-e2e-%s;rport", localPort, randomHex(6))},
		{"Max-Forwards", "70"},
		{"From", fmt.Sprintf("<sip:probe@127.0.0.1:%d>;tag=%s", localPort, randomHex(4))},
		{"To", "<sip:" + target + ">"},
		{"Call-ID", randomHex(8) + "@127.0.0.1"},
		{"CSeq", "1 " + method},
		{"Contact", fmt.Sprintf("<sip:probe@127.0.0.1:%d>", localPort)},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:%s SIP/2.0\r\n", method, target)
	for _, h := range hdrs {
		skip := false
		for _, d := range drop {
			skip = skip || strings.EqualFold(d, h[0])
		}
		if !skip {
			fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
		}
	}
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	if contentLength < 0 {
		contentLength = len(body)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", contentLength, body)
	return []byte(b.String())
}

// exchangeUDP sends one datagram and collects what comes back within wait (until the
// first final response if untilFinal). No answer at all is a valid outcome for a
// malformed message (it was dropped).
func exchangeUDP(t testing.TB, conn *net.UDPConn, to *net.UDPAddr, msg []byte, wait time.Duration, untilFinal bool) []sipMsg {
	t.Helper()
	if _, err := conn.WriteToUDP(msg, to); err != nil {
		t.Fatalf("send %d bytes: %v", len(msg), err)
	}
	var out []sipMsg
	buf := make([]byte, 65535)
	deadline := time.Now().Add(wait)
	for {
		_ = conn.SetReadDeadline(deadline)
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return out
			}
			t.Fatalf("read: %v", err)
		}
		m := parseSIP(string(buf[:n]))
		out = append(out, m)
		if untilFinal && m.StatusCode() >= 200 {
			return out
		}
	}
}

// TestMalformedSIP: garbage and broken requests are answered 4xx or dropped, never with
// anything else, and Trunkline keeps serving afterwards (UDP and TCP). OPTIONS is
// answered 200, an unsupported method 405 with Allow.
func TestMalformedSIP(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := startTrunkline(t)
	server := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: inst.SIPPort}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lp := conn.LocalAddr().(*net.UDPAddr).Port
	target := inst.SIPAddr()

	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: the same garbage every run
	garbage := make([]byte, 700)
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	cases := []struct {
		name string
		msg  []byte
	}{
		{"random garbage bytes", garbage},
		{"OPTIONS without Call-ID", sipRequest("OPTIONS", target, lp, []string{"Call-ID"}, nil, -1, "")},
		{"Content-Length larger than the body", sipRequest("OPTIONS", target, lp, nil, []string{"Content-Type: application/sdp"}, 500, "v=0\r\n")},
		{"60 KB message", sipRequest("OPTIONS", target, lp, nil, []string{"X-Padding: " + strings.Repeat("a", 60*1024)}, -1, "")},
	}
	for _, tc := range cases {
		resps := exchangeUDP(t, conn, server, tc.msg, time.Second, false)
		for _, r := range resps {
			if c := r.StatusCode(); c < 400 || c > 499 {
				t.Errorf("%s (%d bytes over UDP): expected a 4xx response or none, got %q", tc.name, len(tc.msg), r.First)
			}
		}
		t.Logf("%s: %d response(s) %v", tc.name, len(resps), firstLines(resps))
	}

	// An unsupported method: 405 with an Allow header.
	resps := exchangeUDP(t, conn, server, sipRequest("PUBLISH", target, lp, nil, []string{"Event: presence"}, -1, ""), 5*time.Second, true)
	if len(resps) == 0 {
		t.Errorf("PUBLISH: expected 405 Method Not Allowed with Allow, got no response")
	}
	for _, r := range resps {
		if r.StatusCode() == 100 {
			continue
		}
		if r.StatusCode() != 405 || len(r.Get("allow")) == 0 {
			t.Errorf("PUBLISH: expected 405 with an Allow header, got:\n%s", r)
		}
	}

	// Still alive: SIPp's OPTIONS gets 200 over UDP.
	res := runSIPp(t, &sippRun{Name: "options-udp", Scenario: "options.xml", Remote: target, Timeout: 15 * time.Second})
	expectCalls(t, res, 1, "OPTIONS over UDP after the malformed messages: 200")

	// TCP: garbage on one connection (any answer must be 4xx, the server may close it),
	// then OPTIONS on a new connection gets 200.
	tc, err := net.Dial("tcp4", target)
	if err != nil {
		t.Fatalf("TCP connect to %s: %v", target, err)
	}
	if _, err := tc.Write(append(garbage, "\r\n\r\n"...)); err != nil {
		t.Fatalf("TCP write: %v", err)
	}
	_ = tc.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 65535)
	n, _ := tc.Read(buf)
	tc.Close()
	if n > 0 {
		r := parseSIP(string(buf[:n]))
		if c := r.StatusCode(); c < 400 || c > 499 {
			t.Errorf("garbage over TCP: expected a 4xx response or none, got %q", firstLine(buf[:n]))
		}
	}
	res = runSIPp(t, &sippRun{Name: "options-tcp", Scenario: "options.xml", Remote: target, TCP: true, Timeout: 15 * time.Second})
	expectCalls(t, res, 1, "OPTIONS over TCP on a new connection after garbage: 200")

	// The process must have survived all of it.
	if !inst.running() {
		t.Errorf("trunkline is no longer running (exit: %v)", inst.err)
	}
}

func firstLines(ms []sipMsg) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.First)
	}
	return out
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(s)
}
