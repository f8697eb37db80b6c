//go:build linux

package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux relay: a few workers, each waiting in epoll_wait on the sockets of the
// sessions it owns, reading one datagram per ready socket and sending it on.
//
// Why not a goroutine per socket blocking in ReadFrom, as before (relay_other.go):
// at 50 packets a second per socket, every packet found its goroutine parked, so
// each one cost a read that failed with EAGAIN, the runtime's own epoll_wait, a
// thread wake-up and a goroutine switch before the read that got it and the send
// (docs/benchmarks.md, P3 profile). Here a packet costs its recvfrom and its
// sendto, and one epoll_wait serves every socket that became ready meanwhile:
// the way rtpengine's userspace relay works, which P3 measures us against.
//
// The sockets are made with socket(2), not package net, so Go's own poller never
// sees them (it would wake up for every packet too). Reads and writes are
// non-blocking raw system calls with addresses in fixed buffers: nothing is
// allocated per packet.

// sock is one bound, non-blocking UDP socket; the zero value is no socket (test
// binders).
type sock struct {
	fd   int
	open bool
}

func (s sock) valid() bool { return s.open }

func (s sock) close() error {
	if !s.open {
		return nil
	}
	return unix.Close(s.fd)
}

// bindUDP opens a non-blocking UDP socket on ap; network is "udp4" or "udp6".
func bindUDP(network string, ap netip.AddrPort) (sock, error) {
	family := unix.AF_INET
	if network == "udp6" {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return sock{}, fmt.Errorf("media: socket: %w", err)
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET6 {
		// As package net does for "udp6": IPv6 only, never IPv4-mapped traffic.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			unix.Close(fd)
			return sock{}, fmt.Errorf("media: IPV6_V6ONLY: %w", err)
		}
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	} else {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return sock{}, fmt.Errorf("media: bind %s: %w", ap, err)
	}
	return sock{fd: fd, open: true}, nil
}

// relayState is a stream's registration with its worker and the socket address of
// where its packets went last, kept in kernel form so that sending needs no
// conversion while the destination stays the same.
type relayState struct {
	worker *epollWorker
	slot   int32

	dst    netip.AddrPort
	sa     unix.RawSockaddrInet6 // large enough for either family
	saLen  uint32
	family int // of the socket packets are sent from (the other leg's)
}

// relayPool is the Manager's set of workers, started with the first session.
type relayPool struct {
	once    sync.Once
	err     error
	log     *slog.Logger
	workers []*epollWorker
	next    atomic.Uint32
}

func (p *relayPool) start() error {
	p.once.Do(func() {
		n := min(runtime.GOMAXPROCS(0), 4)
		for range n {
			w, err := newEpollWorker(p.log)
			if err != nil {
				p.err = err
				for _, w := range p.workers {
					w.shutdown()
				}
				p.workers = nil
				return
			}
			p.workers = append(p.workers, w)
		}
	})
	return p.err
}

func (p *relayPool) shutdown() {
	p.once.Do(func() {}) // no workers may start after this
	for _, w := range p.workers {
		w.shutdown()
	}
}

// startRelay hands the session's four streams to one worker. s.mu is held.
func (s *Session) startRelay() {
	p := &s.m.relay
	if err := p.start(); err != nil {
		s.log.Error("media: relay not started", "error", err)
		return
	}
	if len(p.workers) == 0 {
		return // shut down
	}
	w := p.workers[int(p.next.Add(1))%len(p.workers)]
	a, b := &s.legs[LegA], &s.legs[LegB]
	for _, r := range []relayRoute{
		{in: &a.rtp, out: &b.rtp, pts: &a.pts, s: s, kind: "rtp", leg: LegA},
		{in: &b.rtp, out: &a.rtp, pts: &b.pts, s: s, kind: "rtp", leg: LegB},
		{in: &a.rtcp, out: &b.rtcp, s: s, kind: "rtcp", leg: LegA},
		{in: &b.rtcp, out: &a.rtcp, s: s, kind: "rtcp", leg: LegB},
	} {
		if err := w.add(r); err != nil {
			s.log.Error("media: relay", "port", r.in.port, "error", err)
		}
	}
}

// stopRelay takes the streams from their worker (waiting for a batch in progress
// to finish), then closes the sockets.
func (s *Session) stopRelay() error {
	var errs []error
	for i := range s.legs {
		l := &s.legs[i]
		for _, st := range []*stream{&l.rtp, &l.rtcp} {
			if w := st.relay.worker; w != nil {
				w.remove(st)
			}
			errs = append(errs, st.sock.close())
		}
	}
	return errors.Join(errs...)
}

// relayRoute is what a worker does with packets arriving on in.
type relayRoute struct {
	in, out *stream
	pts     *atomicPTTable // nil: no payload type rewriting (RTCP)
	s       *Session
	kind    string
	leg     Leg
}

// epollWorker owns an epoll instance and the goroutine that waits on it.
type epollWorker struct {
	epfd   int
	wakeFD int // eventfd: shutdown wakes the worker through it
	log    *slog.Logger
	stop   atomic.Bool
	done   chan struct{}

	// mu is held while a batch of ready sockets is handled, and by add and
	// remove: once remove returns, no packet of the stream is being handled, so
	// its socket may be closed (and its number reused) safely.
	mu    sync.Mutex
	slots []*relayRoute // index: the epoll event's data
	free  []int32

	// Buffers of the worker goroutine, on the heap so that the raw system calls
	// get stable addresses.
	buf     [bufSize]byte
	from    unix.RawSockaddrAny
	fromLen uint32
	events  [256]unix.EpollEvent
}

const wakeSlot = -1

func newEpollWorker(log *slog.Logger) (*epollWorker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("media: epoll_create: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("media: eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeSlot}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("media: epoll_ctl: %w", err)
	}
	w := &epollWorker{epfd: epfd, wakeFD: wake, log: log, done: make(chan struct{})}
	go w.run()
	return w, nil
}

func (w *epollWorker) add(r relayRoute) error {
	if !r.in.sock.valid() {
		return nil // test binder: no socket
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var slot int32
	if n := len(w.free); n > 0 {
		slot, w.free = w.free[n-1], w.free[:n-1]
	} else {
		slot = int32(len(w.slots))
		w.slots = append(w.slots, nil)
	}
	rr := r
	w.slots[slot] = &rr
	// Level-triggered: a socket with a datagram left after its one read is
	// reported again by the next epoll_wait.
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, r.in.sock.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: slot}); err != nil {
		w.slots[slot] = nil
		w.free = append(w.free, slot)
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	r.in.relay.worker, r.in.relay.slot = w, slot
	return nil
}

func (w *epollWorker) remove(st *stream) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st.relay.worker != w {
		return
	}
	unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, st.sock.fd, nil)
	w.slots[st.relay.slot] = nil
	w.free = append(w.free, st.relay.slot)
	st.relay.worker = nil
}

func (w *epollWorker) shutdown() {
	if w.stop.Swap(true) {
		<-w.done
		return
	}
	var one = [8]byte{1}
	unix.Write(w.wakeFD, one[:])
	<-w.done
	unix.Close(w.epfd)
	unix.Close(w.wakeFD)
}

func (w *epollWorker) run() {
	defer close(w.done)
	for !w.stop.Load() {
		n, err := unix.EpollWait(w.epfd, w.events[:], -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			w.log.Error("media: epoll_wait; relay worker stopped", "error", err)
			return
		}
		now := time.Now()
		w.mu.Lock()
		for i := range n {
			slot := w.events[i].Fd
			if slot < 0 || int(slot) >= len(w.slots) {
				continue // the wake-up event, or a stale one
			}
			if r := w.slots[slot]; r != nil {
				w.forward(r, now)
			}
		}
		w.mu.Unlock()
	}
}

// forward relays one datagram waiting on r.in. w.mu is held.
func (w *epollWorker) forward(r *relayRoute, now time.Time) {
	in, out := r.in, r.out
	n, src, ok := w.recv(in.sock.fd)
	if !ok {
		return
	}
	dst, pass, latched := route(in, out, src, now)
	if latched {
		r.s.log.Info("media: latched", "leg", r.leg, "kind", r.kind, "port", in.port, "source", src)
	}
	if !pass {
		return
	}
	pkt := w.buf[:n]
	if r.pts != nil {
		r.pts.Load().apply(pkt)
	}
	if !out.sock.valid() || !in.relay.send(out.sock.fd, pkt, dst) {
		in.writeErrors.Add(1)
		return
	}
	in.packets.Add(1)
	in.bytes.Add(uint64(n))
}

// recv reads one datagram into w.buf; ok is false if there was none (another
// event raced us to it) or the read failed.
func (w *epollWorker) recv(fd int) (n int, src netip.AddrPort, ok bool) {
	w.fromLen = unix.SizeofSockaddrAny
	r, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd),
		uintptr(unsafe.Pointer(&w.buf[0])), uintptr(len(w.buf)), unix.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(&w.from)), uintptr(unsafe.Pointer(&w.fromLen)))
	if errno != 0 {
		return 0, netip.AddrPort{}, false
	}
	switch w.from.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&w.from))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		src = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&w.from))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		src = unmap(netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(p[0])<<8|uint16(p[1])))
	default:
		return 0, netip.AddrPort{}, false
	}
	return int(r), src, true
}

// send writes pkt to dst from fd, rebuilding the kernel address only when dst
// differs from the last one. It reports success.
func (rs *relayState) send(fd int, pkt []byte, dst netip.AddrPort) bool {
	if dst != rs.dst || rs.saLen == 0 {
		if !rs.setDst(fd, dst) {
			return false
		}
	}
	_, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd),
		uintptr(unsafe.Pointer(&pkt[0])), uintptr(len(pkt)), unix.MSG_DONTWAIT,
		uintptr(unsafe.Pointer(&rs.sa)), uintptr(rs.saLen))
	return errno == 0
}

// setDst fills rs.sa for dst in the family of the socket fd (an IPv4 destination
// from an IPv6 socket becomes IPv4-mapped; an IPv6 one from an IPv4 socket cannot
// be reached).
func (rs *relayState) setDst(fd int, dst netip.AddrPort) bool {
	if rs.family == 0 {
		f, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil {
			return false
		}
		rs.family = f
	}
	rs.dst, rs.saLen = dst, 0
	rs.sa = unix.RawSockaddrInet6{}
	port := dst.Port()
	switch {
	case rs.family == unix.AF_INET && dst.Addr().Unmap().Is4():
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rs.sa))
		sa.Family = unix.AF_INET
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		sa.Addr = dst.Addr().Unmap().As4()
		rs.saLen = unix.SizeofSockaddrInet4
	case rs.family == unix.AF_INET6:
		rs.sa.Family = unix.AF_INET6
		p := (*[2]byte)(unsafe.Pointer(&rs.sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		rs.sa.Addr = dst.Addr().As16()
		rs.saLen = unix.SizeofSockaddrInet6
	default:
		return false
	}
	return true
}
