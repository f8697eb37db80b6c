package sipedge

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestResponseAddr(t *testing.T) {
	for _, tc := range []struct {
		via, src, want string
	}{
		{"SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK1;rport", "127.0.0.1:40000", "127.0.0.1:40000"},
		{"SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK1", "127.0.0.1:40000", "127.0.0.1:5070"},
		{"SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1", "127.0.0.1:40000", "127.0.0.1:5060"},
		{"SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bK1;rport=1234", "127.0.0.1:40000", "127.0.0.1:5070"},
		{"SIP/2.0/UDP [::1]:5070;branch=z9hG4bK1;rport", "[::1]:40000", "[::1]:40000"},
	} {
		req := testRequest(t, "REGISTER", "sip:"+testRealm, []string{"Via: " + tc.via,
			"From: <sip:1001@r>;tag=a", "To: <sip:1001@r>", "Call-ID: x", "CSeq: 1 REGISTER"})
		req.SetSource(tc.src)
		got, err := responseAddr(req)
		if err != nil || got.String() != tc.want {
			t.Errorf("Via %q from %s: %v, %v; want %s", tc.via, tc.src, got, err, tc.want)
		}
	}
}

// TestStatelessRegisterUDP drives a real Edge over loopback UDP: the challenge, the
// authenticated REGISTER, its retransmission (answered 200 again, not refused as a
// replay), and responses sent where RFC 3261 §18.2.2 and RFC 3581 say.
func TestStatelessRegisterUDP(t *testing.T) {
	e, err := New(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t)
	env.loc.now = time.Now
	env.auth = NewAuthenticator(AuthConfig{Realm: testRealm})
	env.reg = NewRegistrar(RegistrarConfig{}, env.auth, testDir{"1001": {Number: "1001", Password: "secret-1001"}}, env.loc, nil, nil)
	e.Mount(Handlers{Registrar: env.reg, Auth: env.auth})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The phone sends from one socket and names another in Via (no rport): the
	// responses must go to the Via port.
	send, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	recv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	srv := net.UDPAddrFromAddrPort(e.Addr())
	viaPort := recv.LocalAddr().(*net.UDPAddr).Port
	exchange := func(on *net.UDPConn, text string) *sip.Response {
		t.Helper()
		if _, err := send.WriteToUDP([]byte(text), srv); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		on.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := on.Read(buf)
		if err != nil {
			t.Fatalf("no response: %v", err)
		}
		msg, err := sip.ParseMessage(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		return msg.(*sip.Response)
	}
	request := func(via string, cseq int, auth string) string {
		h := []string{"Via: SIP/2.0/UDP " + via + ";branch=z9hG4bK-" + strings.Repeat("a", cseq),
			"Max-Forwards: 70", "From: <sip:1001@" + testRealm + ">;tag=f1", "To: <sip:1001@" + testRealm + ">",
			"Call-ID: stateless-1", "CSeq: " + strconv.Itoa(cseq) + " REGISTER",
			"Contact: <sip:1001@127.0.0.1:" + strconv.Itoa(viaPort) + ">", "Expires: 600"}
		if auth != "" {
			h = append(h, "Authorization: "+auth)
		}
		return "REGISTER sip:" + testRealm + " SIP/2.0\r\n" + strings.Join(h, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
	}
	via := "127.0.0.1:" + strconv.Itoa(viaPort)
	chal := exchange(recv, request(via, 1, ""))
	if chal.StatusCode != 401 {
		t.Fatalf("first REGISTER: %d, want 401", chal.StatusCode)
	}
	authed := request(via, 2, testAnswer(t, chal, "MD5", "1001", "secret-1001", "REGISTER", "sip:"+testRealm, 1))
	for i := range 2 { // the second is a retransmission
		res := exchange(recv, authed)
		if res.StatusCode != 200 || len(testContacts(res)) != 1 {
			t.Fatalf("authenticated REGISTER #%d: %d %s %q", i+1, res.StatusCode, res.Reason, testContacts(res))
		}
	}
	if n := len(env.loc.Lookup("1001")); n != 1 {
		t.Errorf("%d bindings, want 1", n)
	}
	// With rport the response goes back to the sending socket.
	sendPort := send.LocalAddr().(*net.UDPAddr).Port
	res := exchange(send, request("127.0.0.1:9;rport", 3, ""))
	if res.StatusCode != 401 {
		t.Fatalf("rport REGISTER: %d", res.StatusCode)
	}
	if v, _ := res.Via().Params.Get("rport"); v != strconv.Itoa(sendPort) {
		t.Errorf("response Via rport=%q, want %d", v, sendPort)
	}
}

// discardConn is a net.PacketConn whose writes go nowhere.
type discardConn struct{ net.PacketConn }

func (discardConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }

// BenchmarkStatelessRegister is the whole UDP REGISTER path after the socket read:
// parse, middleware, digest, location update and the serialised 200 (the write is
// discarded). Requests differ in CSeq and nonce count, as a phone's do.
func BenchmarkStatelessRegister(b *testing.B) {
	e, err := New(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	env := newTestEnv(b)
	env.loc.now = time.Now
	env.auth = NewAuthenticator(AuthConfig{Realm: testRealm, MaxNonces: 1 << 20})
	env.reg = NewRegistrar(RegistrarConfig{}, env.auth, testDir{"1001": {Number: "1001", Password: "secret-1001"}}, env.loc, nil, nil)
	e.Mount(Handlers{Registrar: env.reg, Auth: env.auth})
	e.fast.Load().conn = discardConn{}
	chal := env.auth.Challenge(testRequest(b, "REGISTER", "sip:"+testRealm, registerHeaders("1001", "bench", 1)), false, false)
	props := sip.TransportReadProps{Transport: "UDP", LocalAddr: e.udp.LocalAddr(),
		RemoteAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5062}}

	const batch = 1024
	reqs := make([][]byte, 0, batch)
	prepare := func(from int) {
		reqs = reqs[:0]
		for i := from; i < from+batch; i++ {
			h := registerHeaders("1001", "bench", i+2, "Contact: <sip:1001@127.0.0.1:5062>", "Expires: 600",
				"User-Agent: bench", "Authorization: "+testAnswer(b, chal, "MD5", "1001", "secret-1001", "REGISTER", "sip:"+testRealm, i+1))
			reqs = append(reqs, []byte("REGISTER sip:"+testRealm+" SIP/2.0\r\n"+strings.Join(h, "\r\n")+"\r\nContent-Length: 0\r\n\r\n"))
		}
	}
	benchInBatches(b, batch, prepare, func(i int) {
		if out, _ := e.readFilter(props, reqs[i%batch]); out != nil {
			b.Fatal("not taken by the stateless path")
		}
	})
	b.StopTimer()
	if bs := env.loc.Lookup("1001"); len(bs) != 1 || bs[0].CSeq != uint32(b.N+1) {
		b.Fatalf("binding after %d REGISTERs: %+v", b.N, bs)
	}
}

// FuzzStatelessRegister feeds arbitrary datagrams that start like a REGISTER to the
// stateless path: it must never panic (the read loop has no recover of its own
// beyond readFilter's), and must either take the datagram or hand it back unchanged
// to sipgo.
func FuzzStatelessRegister(f *testing.F) {
	base := "REGISTER sip:" + testRealm + " SIP/2.0\r\n" + strings.Join(registerHeaders("1001", "fz", 1,
		"Contact: <sip:1001@127.0.0.1:5062>", "Expires: 600"), "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
	f.Add([]byte(base))
	f.Add([]byte(strings.Replace(base, "CSeq: 1 REGISTER", "CSeq: 1 INVITE", 1)))
	f.Add([]byte(strings.Replace(base, "Via: SIP/2.0/UDP 127.0.0.1:5062", "Via: SIP/2.0/UDP [::1", 1)))
	f.Add([]byte(strings.Replace(base, "Contact: <sip:1001@127.0.0.1:5062>", "Contact: *", 1)))
	f.Add([]byte(base + "Authorization: Digest username=\"1001\", nonce=\"x\", response=\"\"\r\n"))
	f.Add([]byte("REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;rport=0\r\n\r\n"))
	f.Add([]byte("REGISTER \r\n\r\n"))

	e, err := New(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	env := newTestEnv(f)
	env.loc.now = time.Now
	e.Mount(Handlers{Registrar: env.reg, Auth: env.auth, Bans: env.bans})
	e.fast.Load().conn = discardConn{}
	props := sip.TransportReadProps{Transport: "UDP", LocalAddr: e.udp.LocalAddr(),
		RemoteAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5062}}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := slices.Clone(data)
		out, err := e.readFilter(props, data)
		if err != nil {
			t.Fatalf("readFilter returned an error (it would stop the read loop): %v", err)
		}
		if out != nil && !bytes.Equal(out, in) {
			t.Fatalf("readFilter handed back changed bytes")
		}
	})
}
