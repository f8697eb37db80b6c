package media

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// relatchAfter is how long a latched source must be silent before another
// source may take its place (a phone that changed its NAT binding or
// network). It is a protocol constant of the relay, not a tunable.
const relatchAfter = 2 * time.Second

// bufSize is the read buffer of the relay. Longer datagrams are truncated;
// RTP over a 1500 byte MTU never comes close.
const bufSize = 2048

// stream is one socket of one leg (its RTP or its RTCP socket) and the state
// of the peer behind it. Packets received on a stream are sent from the
// stream of the same kind on the other leg.
type stream struct {
	sock sock // the socket; zero in unit tests of route
	port int
	// relay is the platform relay's per-stream state (relay_linux.go: the
	// cached destination address).
	relay relayState

	mu       sync.Mutex
	remote   netip.AddrPort // from SDP; used until latched
	latched  netip.AddrPort // source of accepted packets; invalid until latched
	lastRecv time.Time      // last accepted packet

	packets, bytes atomic.Uint64 // received here and forwarded
	dropped        atomic.Uint64 // from a source other than the latched one
	noRoute        atomic.Uint64 // accepted, but the other leg had no address yet
	writeErrors    atomic.Uint64
	last           atomic.Int64 // unix ns of lastRecv, for Stats
}

// accept reports whether a packet from src may pass, latching onto src when
// the stream has not latched yet or its latched source has been silent for
// longer than relatchAfter (symmetric RTP, RFC 4961). It reports whether it
// latched, so the caller can log outside the hot path.
func (s *stream) accept(src netip.AddrPort, now time.Time) (ok, latched bool) {
	s.mu.Lock()
	switch {
	case src == s.latched:
	case !s.latched.IsValid() || now.Sub(s.lastRecv) > relatchAfter:
		s.latched, latched = src, true
	default:
		s.mu.Unlock()
		return false, false
	}
	s.lastRecv = now
	s.mu.Unlock()
	s.last.Store(now.UnixNano())
	return true, latched
}

// dest is where packets for the peer behind s go: the latched source if
// there is one, else the address from SDP. It is invalid when neither is
// usable (no SDP yet, port 0, or the unspecified address of an RFC 2543
// style hold).
func (s *stream) dest() netip.AddrPort {
	s.mu.Lock()
	d := s.latched
	if !d.IsValid() {
		d = s.remote
	}
	s.mu.Unlock()
	if d.Port() == 0 || d.Addr().IsUnspecified() {
		return netip.AddrPort{}
	}
	return d
}

// setRemote records the peer's address from SDP. A different address than
// before (a re-INVITE moved the media) drops the latch, so the next packet
// latches afresh; the same address keeps it. It reports whether it reset.
func (s *stream) setRemote(a netip.AddrPort) bool {
	a = unmap(a)
	s.mu.Lock()
	defer s.mu.Unlock()
	if a == s.remote {
		return false
	}
	s.remote = a
	reset := s.latched.IsValid()
	s.latched = netip.AddrPort{}
	return reset
}

func (s *stream) source() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latched
}

// route decides the fate of one packet that arrived on in from src: it
// returns the address to send it to from out, or false if it is dropped.
// It does not allocate.
func route(in, out *stream, src netip.AddrPort, now time.Time) (netip.AddrPort, bool, bool) {
	ok, latched := in.accept(src, now)
	if !ok {
		in.dropped.Add(1)
		return netip.AddrPort{}, false, false
	}
	dst := out.dest()
	if !dst.IsValid() {
		in.noRoute.Add(1)
		return netip.AddrPort{}, false, latched
	}
	return dst, true, latched
}

// atomicPTTable holds the payload type table of one direction; nil: no rewriting.
type atomicPTTable = atomic.Pointer[ptTable]

// ptTable maps RTP payload types of packets from one leg to those the other
// leg expects. Index and value are 7-bit payload types.
type ptTable [128]uint8

func newPTTable(m map[uint8]uint8) *ptTable {
	t := new(ptTable)
	for i := range t {
		t[i] = uint8(i)
	}
	n := 0
	for from, to := range m {
		if from < 128 && to < 128 && from != to {
			t[from] = to
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return t
}

// apply rewrites the payload type of an RTP packet (RFC 3550 §5.1) in place.
// Packets that are not RTP version 2, or carry an RTCP packet type multiplexed
// on the RTP port (RFC 5761 §4: 64-95), are left alone.
func (t *ptTable) apply(pkt []byte) {
	if t == nil || len(pkt) < 12 || pkt[0]>>6 != 2 {
		return
	}
	pt := pkt[1] & 0x7f
	if pt >= 64 && pt < 96 {
		return
	}
	pkt[1] = pkt[1]&0x80 | t[pt]
}

// unmap turns an IPv4-mapped IPv6 address into plain IPv4, so that addresses
// from sockets and from SDP compare equal.
func unmap(a netip.AddrPort) netip.AddrPort {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return a
}
