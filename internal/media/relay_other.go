//go:build !linux

package media

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Outside Linux the relay is a goroutine per socket blocking in ReadFrom: portable
// and simple, and what Trunkline used everywhere before relay_linux.go.

// sock is one bound UDP socket; the zero value is no socket (test binders).
type sock struct{ c *net.UDPConn }

func (s sock) valid() bool { return s.c != nil }

func (s sock) close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}

// bindUDP opens a UDP socket on ap; network is "udp4" or "udp6".
func bindUDP(network string, ap netip.AddrPort) (sock, error) {
	c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return sock{}, err
	}
	return sock{c}, nil
}

// relayState is per-stream state of the platform relay: none here.
type relayState struct{}

// relayPool is the Manager's relay machinery: none here.
type relayPool struct{ log *slog.Logger }

func (p *relayPool) shutdown() {}

// startRelay starts the four forwarding goroutines. s.mu is held.
func (s *Session) startRelay() {
	a, b := &s.legs[LegA], &s.legs[LegB]
	s.wg.Add(4)
	go s.pump(&a.rtp, &b.rtp, &a.pts, "rtp", LegA)
	go s.pump(&b.rtp, &a.rtp, &b.pts, "rtp", LegB)
	go s.pump(&a.rtcp, &b.rtcp, nil, "rtcp", LegA)
	go s.pump(&b.rtcp, &a.rtcp, nil, "rtcp", LegB)
}

// stopRelay closes the sockets, which ends the goroutines, and waits for them.
func (s *Session) stopRelay() error {
	var errs []error
	for i := range s.legs {
		l := &s.legs[i]
		errs = append(errs, l.rtp.sock.close(), l.rtcp.sock.close())
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// pump forwards packets from in to the peer behind out until in's socket is
// closed. It uses one buffer for its whole life and allocates nothing per
// packet. pts, if it holds a table, rewrites RTP payload types.
func (s *Session) pump(in, out *stream, pts *atomicPTTable, kind string, l Leg) {
	defer s.wg.Done()
	buf := make([]byte, bufSize)
	for {
		n, src, err := in.sock.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. a transient ICMP error; the socket stays usable
		}
		dst, ok, latched := route(in, out, unmap(src), time.Now())
		if latched {
			s.log.Info("media: latched", "leg", l, "kind", kind, "port", in.port, "source", unmap(src))
		}
		if !ok {
			continue
		}
		if pts != nil {
			pts.Load().apply(buf[:n])
		}
		if _, err := out.sock.c.WriteToUDPAddrPort(buf[:n], dst); err != nil {
			in.writeErrors.Add(1)
			continue
		}
		in.packets.Add(1)
		in.bytes.Add(uint64(n))
	}
}
