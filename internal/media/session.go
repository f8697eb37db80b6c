package media

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Leg names one side of a call.
type Leg int

// The two legs of a B2BUA call.
const (
	LegA Leg = iota // caller side
	LegB            // callee side
)

// Other returns the opposite leg.
func (l Leg) Other() Leg { return 1 - l }

func (l Leg) String() string {
	switch l {
	case LegA:
		return "A"
	case LegB:
		return "B"
	}
	return "invalid"
}

// leg is one side of a session: its RTP and RTCP sockets and the payload
// type table applied to RTP received on it.
type leg struct {
	rtp, rtcp stream
	pts       atomicPTTable
}

// Session relays the media of one call between leg A and leg B. Its methods
// are safe for concurrent use.
type Session struct {
	m     *Manager
	log   *slog.Logger
	legs  [2]leg
	wg    sync.WaitGroup // forwarding goroutines (relay_other.go)
	unctx func() bool    // stops the context.AfterFunc of NewSession

	mu      sync.Mutex
	started bool
	closed  bool
}

// LocalAddr returns the address and RTP port that leg l's peer must send to:
// the manager's advertise IP and the leg's RTP port (RTCP is port+1). Put it
// into the SDP sent to that leg.
func (s *Session) LocalAddr(l Leg) netip.AddrPort {
	return netip.AddrPortFrom(s.m.cfg.AdvertiseIP, uint16(s.legs[l].rtp.port))
}

// SetRemote records the RTP address that leg l's SDP announces (c= and m=
// port); the RTCP address becomes rtp+1 (RFC 3550 §11). Use SetPeer instead
// when the SDP is at hand, so an a=rtcp attribute (RFC 3605) is honoured.
//
// Packets for the leg go to this address until the leg's peer sends from
// somewhere (latching); the peer's source address then wins, since NATs and
// multi-homed phones often send from another address than they announce
// (RFC 4961). A different address than before (a re-INVITE moved the media)
// drops the leg's latches; the same address keeps them. Port 0 or an
// unspecified address (hold in RFC 2543 style) leaves the leg without a
// destination until its peer sends.
func (s *Session) SetRemote(l Leg, rtp netip.AddrPort) {
	var rtcp netip.AddrPort
	if rtp.Port() != 0 && rtp.Port() != 65535 {
		rtcp = netip.AddrPortFrom(rtp.Addr(), rtp.Port()+1)
	}
	s.setRemote(l, rtp, rtcp)
}

// SetPeer is SetRemote with the RTP and RTCP addresses of a parsed offer or
// answer (Offer.RTP, Offer.RTCP).
func (s *Session) SetPeer(l Leg, o Offer) { s.setRemote(l, o.RTP, o.RTCP) }

func (s *Session) setRemote(l Leg, rtp, rtcp netip.AddrPort) {
	if s.legs[l].rtp.setRemote(rtp) {
		s.log.Info("media: remote changed, latch reset", "leg", l, "kind", "rtp", "remote", rtp)
	}
	if s.legs[l].rtcp.setRemote(rtcp) {
		s.log.Info("media: remote changed, latch reset", "leg", l, "kind", "rtcp", "remote", rtcp)
	}
}

// SetPayloadMap makes the relay rewrite the RTP payload type of packets
// received from leg from, e.g. when leg A sends telephone-event as 101 but
// leg B negotiated 96 (see MapPayloads). nil clears the map. The rewrite
// breaks SRTP authentication; do not use it for SRTP calls.
func (s *Session) SetPayloadMap(from Leg, m map[uint8]uint8) {
	s.legs[from].pts.Store(newPTTable(m))
}

// Start starts forwarding the session's four sockets (RTP and RTCP of each leg):
// on Linux they join one of the manager's epoll workers (relay_linux.go),
// elsewhere each gets a goroutine (relay_other.go). Forwarding ends in Close.
// Start is a no-op after the first call or after Close.
func (s *Session) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	s.startRelay()
}

// Close stops forwarding (no packet of the session is in flight when it
// returns), closes the sockets and returns the ports to the manager, which
// quarantines them. It is idempotent; later calls return nil. Close runs by
// itself when the context given to NewSession ends.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	unctx := s.unctx
	s.mu.Unlock()
	if unctx != nil {
		unctx()
	}
	err := s.stopRelay()
	s.m.release(s)
	return err
}

// Counters count the packets one leg sent to the relay.
type Counters struct {
	Packets, Bytes         uint64 // RTP forwarded to the other leg
	RTCPPackets, RTCPBytes uint64 // RTCP forwarded to the other leg
	// Dropped counts packets (RTP and RTCP) from a source other than the
	// latched one.
	Dropped uint64
	// NoRoute counts packets accepted while the other leg had no address
	// (no SDP yet, port 0, or hold with an unspecified address).
	NoRoute uint64
	// WriteErrors counts packets the socket refused to send.
	WriteErrors uint64
	// Source is the latched RTP source; invalid until the first packet.
	Source netip.AddrPort
	// LastPacket is when the last RTP or RTCP packet from the leg was
	// accepted; zero if none was. Call control can build an RTP timeout on it.
	LastPacket time.Time
}

func (c *Counters) add(o Counters) {
	c.Packets += o.Packets
	c.Bytes += o.Bytes
	c.RTCPPackets += o.RTCPPackets
	c.RTCPBytes += o.RTCPBytes
	c.Dropped += o.Dropped
	c.NoRoute += o.NoRoute
	c.WriteErrors += o.WriteErrors
}

// Stats is a snapshot of a session's counters.
type Stats struct {
	AtoB Counters // received on leg A, sent to leg B
	BtoA Counters // received on leg B, sent to leg A
	// LastPacket is the later of AtoB.LastPacket and BtoA.LastPacket.
	LastPacket time.Time
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() Stats {
	st := Stats{AtoB: s.legs[LegA].counters(), BtoA: s.legs[LegB].counters()}
	st.LastPacket = st.AtoB.LastPacket
	if st.BtoA.LastPacket.After(st.LastPacket) {
		st.LastPacket = st.BtoA.LastPacket
	}
	return st
}

func (l *leg) counters() Counters {
	c := Counters{
		Packets:     l.rtp.packets.Load(),
		Bytes:       l.rtp.bytes.Load(),
		RTCPPackets: l.rtcp.packets.Load(),
		RTCPBytes:   l.rtcp.bytes.Load(),
		Dropped:     l.rtp.dropped.Load() + l.rtcp.dropped.Load(),
		NoRoute:     l.rtp.noRoute.Load() + l.rtcp.noRoute.Load(),
		WriteErrors: l.rtp.writeErrors.Load() + l.rtcp.writeErrors.Load(),
		Source:      l.rtp.source(),
	}
	last := max(l.rtp.last.Load(), l.rtcp.last.Load())
	if last != 0 {
		c.LastPacket = time.Unix(0, last)
	}
	return c
}

// watch closes s when ctx ends.
func (s *Session) watch(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unctx = context.AfterFunc(ctx, func() { s.Close() })
}
