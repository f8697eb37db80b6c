package media

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// freeRange finds pairs consecutive free RTP/RTCP port pairs on 127.0.0.1,
// starting at a random high even port.
func freeRange(t testing.TB, pairs int) (min, max int) {
	t.Helper()
	bind := udpBinder(loopback)
	for range 100 {
		min = 20000 + 2*rand.IntN(20000)
		max = min + 2*pairs - 1
		var got []pair
		for p := min; p < max; p += 2 {
			pr, err := bind(p)
			if err != nil {
				break
			}
			got = append(got, pr)
		}
		for _, pr := range got {
			closePair(pr)
		}
		if len(got) == pairs {
			return min, max
		}
	}
	t.Fatal("no free port range on 127.0.0.1")
	return 0, 0
}

func newTestManager(t testing.TB, pairs int, quarantine time.Duration) *Manager {
	t.Helper()
	min, max := freeRange(t, pairs)
	m, err := NewManager(Config{BindIP: loopback, PortMin: min, PortMax: max, Quarantine: quarantine})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

// peer is a UDP endpoint standing in for a phone.
type peer struct {
	t    testing.TB
	conn *net.UDPConn
}

func newPeer(t testing.TB) *peer {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, conn: c}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// rtpPacket returns a minimal RTP packet (RFC 3550 §5.1) with pt and seq.
func rtpPacket(pt uint8, seq uint16) []byte {
	b := make([]byte, 172) // 12 header + 160 bytes of G.711 (20 ms)
	b[0] = 0x80
	b[1] = pt
	binary.BigEndian.PutUint16(b[2:], seq)
	return b
}

func (p *peer) send(to netip.AddrPort, b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatal(err)
	}
}

// recv reads one packet or fails after a second.
func (p *peer) recv() ([]byte, netip.AddrPort) {
	p.t.Helper()
	buf := make([]byte, 2048)
	p.conn.SetReadDeadline(time.Now().Add(time.Second))
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		p.t.Fatal(err)
	}
	return buf[:n], from
}

// quiet asserts that nothing arrives for a short while.
func (p *peer) quiet() {
	p.t.Helper()
	buf := make([]byte, 2048)
	p.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, from, err := p.conn.ReadFromUDPAddrPort(buf); err == nil {
		p.t.Fatalf("unexpected %d bytes from %v", n, from)
	}
}

// call sets up a started session between two fresh peers.
func call(t *testing.T, m *Manager) (s *Session, a, b *peer) {
	t.Helper()
	s, err := m.NewSession(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a, b = newPeer(t), newPeer(t)
	s.SetRemote(LegA, a.addr())
	s.SetRemote(LegB, b.addr())
	s.Start()
	return s, a, b
}

func TestRelayBothWays(t *testing.T) {
	m := newTestManager(t, 2, time.Second)
	s, a, b := call(t, m)
	for _, d := range []struct {
		name     string
		from, to *peer
		via      Leg
		out      Leg
	}{
		{"A to B", a, b, LegA, LegB},
		{"B to A", b, a, LegB, LegA},
	} {
		for i := range 100 {
			d.from.send(s.LocalAddr(d.via), rtpPacket(0, uint16(i)))
		}
		for i := range 100 {
			pkt, from := d.to.recv()
			if seq := binary.BigEndian.Uint16(pkt[2:]); seq != uint16(i) || len(pkt) != 172 {
				t.Fatalf("%s: packet %d: seq %d, %d bytes", d.name, i, seq, len(pkt))
			}
			if from != s.LocalAddr(d.out) {
				t.Fatalf("%s: came from %v, want the relay's %v", d.name, from, s.LocalAddr(d.out))
			}
		}
	}
	// The relay counts a packet after its write returns, so the receiver can see the
	// last packet a moment before the counter does: wait for the counters to settle.
	st := s.Stats()
	for deadline := time.Now().Add(2 * time.Second); (st.AtoB.Packets != 100 || st.BtoA.Packets != 100) && time.Now().Before(deadline); st = s.Stats() {
		time.Sleep(time.Millisecond)
	}
	if st.AtoB.Packets != 100 || st.BtoA.Packets != 100 || st.AtoB.Bytes != 17200 {
		t.Errorf("stats %+v", st)
	}
	if st.AtoB.Source != a.addr() || st.BtoA.Source != b.addr() {
		t.Errorf("latched %v, %v; want %v, %v", st.AtoB.Source, st.BtoA.Source, a.addr(), b.addr())
	}
	if time.Since(st.LastPacket) > 5*time.Second {
		t.Errorf("LastPacket %v", st.LastPacket)
	}
	if ms := m.Stats(); ms.Packets != 200 || ms.ActiveSessions != 1 || ms.PortsInUse != 4 {
		t.Errorf("manager stats %+v", ms)
	}
}

func TestRelayLatching(t *testing.T) {
	m := newTestManager(t, 2, time.Second)
	s, err := m.NewSession(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b, spoof := newPeer(t), newPeer(t), newPeer(t)
	// The SDP of A announces another address (baresip: SDP says 127.0.0.7,
	// RTP comes from 127.0.0.1). The relay must follow the real source.
	s.SetRemote(LegA, netip.MustParseAddrPort("127.0.0.7:30000"))
	s.SetRemote(LegB, b.addr())
	s.Start()

	a.send(s.LocalAddr(LegA), rtpPacket(0, 1)) // latches leg A onto a
	b.recv()
	spoof.send(s.LocalAddr(LegA), rtpPacket(0, 666))
	a.send(s.LocalAddr(LegA), rtpPacket(0, 2))
	if pkt, _ := b.recv(); binary.BigEndian.Uint16(pkt[2:]) != 2 {
		t.Fatalf("B got seq %d, want 2 (spoofed packet passed)", binary.BigEndian.Uint16(pkt[2:]))
	}
	b.quiet()
	if st := s.Stats(); st.AtoB.Dropped != 1 || st.AtoB.Packets != 2 {
		t.Errorf("stats %+v", st.AtoB)
	}

	// B -> A goes to the latched source, not to the SDP address.
	b.send(s.LocalAddr(LegB), rtpPacket(0, 3))
	if pkt, _ := a.recv(); binary.BigEndian.Uint16(pkt[2:]) != 3 {
		t.Fatal("A did not get B's packet")
	}

	// A re-INVITE moving A's media resets the latch: the next source wins.
	s.SetRemote(LegA, spoof.addr())
	spoof.send(s.LocalAddr(LegA), rtpPacket(0, 4))
	if pkt, _ := b.recv(); binary.BigEndian.Uint16(pkt[2:]) != 4 {
		t.Fatal("new source after re-INVITE was not relayed")
	}
	a.send(s.LocalAddr(LegA), rtpPacket(0, 5))
	b.quiet()
	if st := s.Stats(); st.AtoB.Source != spoof.addr() || st.AtoB.Dropped != 2 {
		t.Errorf("after re-INVITE: %+v", st.AtoB)
	}
}

func TestRelayRTCP(t *testing.T) {
	m := newTestManager(t, 2, time.Second)
	s, a, b := call(t, m)
	ra, rb := newPeer(t), newPeer(t)
	s.SetPeer(LegA, Offer{RTP: a.addr(), RTCP: ra.addr()})
	s.SetPeer(LegB, Offer{RTP: b.addr(), RTCP: rb.addr()})
	rtcpA := netip.AddrPortFrom(s.LocalAddr(LegA).Addr(), s.LocalAddr(LegA).Port()+1)
	rtcpB := netip.AddrPortFrom(s.LocalAddr(LegB).Addr(), s.LocalAddr(LegB).Port()+1)
	sr := []byte{0x80, 200, 0, 6, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	ra.send(rtcpA, sr)
	if pkt, from := rb.recv(); len(pkt) != len(sr) || from != rtcpB {
		t.Fatalf("RTCP A->B: %d bytes from %v", len(pkt), from)
	}
	// RTCP latches on its own: a's RTP socket sending RTCP does not count.
	a.send(rtcpA, sr)
	rb.quiet()
	rb.send(rtcpB, sr)
	if _, from := ra.recv(); from != rtcpA {
		t.Fatalf("RTCP B->A from %v", from)
	}
	st := s.Stats()
	for deadline := time.Now().Add(2 * time.Second); st.BtoA.RTCPPackets != 1 && time.Now().Before(deadline); st = s.Stats() {
		time.Sleep(time.Millisecond) // counted after the write returns
	}
	if st.AtoB.RTCPPackets != 1 || st.BtoA.RTCPPackets != 1 || st.AtoB.Dropped != 1 || st.AtoB.Packets != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRelayPayloadMap(t *testing.T) {
	m := newTestManager(t, 2, time.Second)
	s, a, b := call(t, m)
	s.SetPayloadMap(LegA, map[uint8]uint8{101: 96})
	a.send(s.LocalAddr(LegA), rtpPacket(0x80|101, 1)) // marker bit set
	if pkt, _ := b.recv(); pkt[1] != 0x80|96 {
		t.Fatalf("byte 1 = %#x, want marker + PT 96", pkt[1])
	}
	a.send(s.LocalAddr(LegA), rtpPacket(8, 2))
	if pkt, _ := b.recv(); pkt[1] != 8 {
		t.Fatalf("PCMA rewritten to %d", pkt[1])
	}
	s.SetPayloadMap(LegA, nil)
	a.send(s.LocalAddr(LegA), rtpPacket(101, 3))
	if pkt, _ := b.recv(); pkt[1] != 101 {
		t.Fatalf("map not cleared: PT %d", pkt[1])
	}
}

func TestRelayNoRoute(t *testing.T) {
	m := newTestManager(t, 2, time.Second)
	s, err := m.NewSession(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := newPeer(t)
	s.Start() // no SetRemote for B yet
	a.send(s.LocalAddr(LegA), rtpPacket(0, 1))
	deadline := time.Now().Add(time.Second)
	for s.Stats().AtoB.NoRoute != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", s.Stats().AtoB)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestExhaustionAndQuarantine(t *testing.T) {
	m := newTestManager(t, 2, time.Minute) // room for one session
	s, err := m.NewSession(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewSession(t.Context()); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("second session: err = %v, want ErrNoPorts", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewSession(t.Context()); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("right after Close: err = %v, want ErrNoPorts (quarantine)", err)
	}
	st := m.Stats()
	if st.PortsQuarantined != 4 || st.PortsInUse != 0 || st.AllocFailures != 2 || st.ActiveSessions != 0 {
		t.Errorf("stats %+v", st)
	}
	later := time.Now().Add(time.Minute)
	m.alloc.mu.Lock()
	m.alloc.now = func() time.Time { return later }
	m.alloc.mu.Unlock()
	s2, err := m.NewSession(t.Context())
	if err != nil {
		t.Fatalf("after quarantine: %v", err)
	}
	s2.Close()
}

// TestCloseStopsForwarding: after Close nothing of the session is relayed and its
// sockets are closed (the ports bind again); Shutdown ends the relay's goroutines.
func TestCloseStopsForwarding(t *testing.T) {
	base := runtime.NumGoroutine()
	min, max := freeRange(t, 2)
	m, err := NewManager(Config{BindIP: loopback, PortMin: min, PortMax: max, Quarantine: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, a, b := call(t, m)
	to := s.LocalAddr(LegA)
	a.send(to, rtpPacket(0, 1))
	b.recv()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s.Start() // no-op after Close
	a.send(to, rtpPacket(0, 2))
	b.quiet()
	for _, l := range []Leg{LegA, LegB} {
		p, err := udpBinder(loopback)(int(s.LocalAddr(l).Port()))
		if err != nil {
			t.Errorf("leg %v port still bound after Close: %v", l, err)
			continue
		}
		closePair(p)
	}
	if st := m.Stats(); st.ActiveSessions != 0 || st.Sessions != 1 {
		t.Errorf("stats %+v", st)
	}
	if err := m.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitGoroutines(t, base)
}

func TestContextClosesSession(t *testing.T) {
	m := newTestManager(t, 2, time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	s, err := m.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	cancel()
	deadline := time.Now().Add(time.Second)
	for m.Stats().ActiveSessions != 0 {
		if time.Now().After(deadline) {
			t.Fatal("session still active after its context ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := m.NewSession(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("NewSession with a done context: %v", err)
	}
}

func TestShutdown(t *testing.T) {
	m := newTestManager(t, 4, time.Second)
	call(t, m)
	call(t, m)
	if err := m.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.NewSession(t.Context()); !errors.Is(err, ErrShutdown) {
		t.Errorf("NewSession after Shutdown: %v", err)
	}
	if st := m.Stats(); st.ActiveSessions != 0 || st.PortsInUse != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := m.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want <= %d", runtime.NumGoroutine(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamLatching pins the latch rules without sockets.
func TestStreamLatching(t *testing.T) {
	t0 := time.Unix(1000, 0)
	x := netip.MustParseAddrPort("127.0.0.1:4000")
	y := netip.MustParseAddrPort("127.0.0.1:5000")
	sdpAddr := netip.MustParseAddrPort("127.0.0.7:4000")
	type step struct {
		remote netip.AddrPort // SetRemote before the packet, if valid
		src    netip.AddrPort
		at     time.Duration
		ok     bool
		dest   netip.AddrPort // dest() after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first source latches", []step{
			{remote: sdpAddr, src: x, ok: true, dest: x},
			{src: y, at: time.Second, ok: false, dest: x},
			{src: x, at: 2 * time.Second, ok: true, dest: x},
		}},
		{"re-latch after 2s of silence", []step{
			{src: x, ok: true, dest: x},
			{src: y, at: relatchAfter, ok: false, dest: x},
			{src: y, at: relatchAfter + time.Millisecond, ok: true, dest: y},
			{src: x, at: relatchAfter + 2*time.Millisecond, ok: false, dest: y},
		}},
		{"same SDP address keeps the latch", []step{
			{remote: sdpAddr, src: x, ok: true, dest: x},
			{remote: sdpAddr, src: y, at: time.Millisecond, ok: false, dest: x},
		}},
		{"new SDP address resets the latch", []step{
			{remote: sdpAddr, src: x, ok: true, dest: x},
			{remote: y, src: y, at: time.Millisecond, ok: true, dest: y},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s stream
			for i, st := range tt.steps {
				if st.remote.IsValid() {
					s.setRemote(st.remote)
				}
				if ok, _ := s.accept(st.src, t0.Add(st.at)); ok != st.ok {
					t.Fatalf("step %d: accept = %v", i, ok)
				}
				if d := s.dest(); d != st.dest {
					t.Fatalf("step %d: dest = %v, want %v", i, d, st.dest)
				}
			}
		})
	}
	var s stream
	s.setRemote(netip.MustParseAddrPort("0.0.0.0:4000"))
	if s.dest().IsValid() {
		t.Error("hold address is a destination")
	}
	s.setRemote(netip.MustParseAddrPort("127.0.0.1:0"))
	if s.dest().IsValid() {
		t.Error("port 0 is a destination")
	}
}

func TestPTTable(t *testing.T) {
	tab := newPTTable(map[uint8]uint8{101: 96, 8: 8, 200: 1})
	tests := []struct {
		in   []byte
		want byte
	}{
		{rtpPacket(101, 1), 96},
		{rtpPacket(0x80|101, 1), 0x80 | 96},
		{rtpPacket(0, 1), 0},
		{[]byte{0x80, 101}, 101},                              // too short
		{append([]byte{0x40, 101}, make([]byte, 10)...), 101}, // not version 2
		{append([]byte{0x80, 200}, make([]byte, 10)...), 200}, // muxed RTCP SR
	}
	for i, tt := range tests {
		tab.apply(tt.in)
		if tt.in[1] != tt.want {
			t.Errorf("%d: byte 1 = %d, want %d", i, tt.in[1], tt.want)
		}
	}
	if newPTTable(map[uint8]uint8{8: 8}) != nil {
		t.Error("identity map should be nil")
	}
}

// BenchmarkRelayForward pushes RTP packets through a real loopback session,
// one at a time: peer A sends, the relay forwards, peer B reads. allocs/op
// counts every goroutine, so 0 proves the forwarding loop does not allocate.
func BenchmarkRelayForward(b *testing.B) {
	m := newTestManager(b, 2, time.Second)
	s, err := m.NewSession(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pa, pb := newPeer(b), newPeer(b)
	s.SetRemote(LegA, pa.addr())
	s.SetRemote(LegB, pb.addr())
	s.SetPayloadMap(LegA, map[uint8]uint8{101: 96})
	s.Start()
	to := s.LocalAddr(LegA)
	pkt := rtpPacket(0, 1)
	buf := make([]byte, 2048)
	pa.send(to, pkt) // latch before measuring
	pb.recv()
	pb.conn.SetReadDeadline(time.Now().Add(time.Minute))
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := pa.conn.WriteToUDPAddrPort(pkt, to); err != nil {
			b.Fatal(err)
		}
		if _, _, err := pb.conn.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoute measures the per-packet decision (latch check, counters,
// destination) without sockets.
func BenchmarkRoute(b *testing.B) {
	var in, out stream
	src := netip.MustParseAddrPort("127.0.0.1:4000")
	out.setRemote(netip.MustParseAddrPort("127.0.0.1:5000"))
	tab := newPTTable(map[uint8]uint8{101: 96})
	pkt := rtpPacket(101, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, _ := route(&in, &out, src, time.Now()); !ok {
			b.Fatal("dropped")
		}
		tab.apply(pkt)
	}
}
