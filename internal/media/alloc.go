package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"
)

// ErrNoPorts is returned (wrapped) when no RTP/RTCP port pair is free.
var ErrNoPorts = errors.New("media: no free RTP port pair")

// pair is one bound RTP/RTCP socket pair. rtp and rtcp are zero (no socket)
// when the allocator's bind function is a test fake.
type pair struct {
	port      int // RTP port; RTCP is port+1
	rtp, rtcp sock
}

// allocator hands out even RTP ports (RTCP = RTP+1, RFC 3550 §11) from a range.
// It starts at a random pair and then walks the range round-robin, skips
// ports that are in use, quarantined, or fail to bind (another process holds
// them), and quarantines released pairs for hold. It is safe for concurrent
// use.
type allocator struct {
	first, last int // first and last RTP port, both even
	hold        time.Duration
	now         func() time.Time
	bind        func(port int) (pair, error)

	mu       sync.Mutex
	next     int
	used     map[int]struct{}
	released map[int]time.Time // RTP port -> end of quarantine
}

func newAllocator(min, max int, hold time.Duration, bind func(int) (pair, error)) *allocator {
	a := &allocator{
		first:    firstRTP(min),
		last:     lastRTP(max),
		hold:     hold,
		now:      time.Now,
		bind:     bind,
		used:     make(map[int]struct{}),
		released: make(map[int]time.Time),
	}
	a.next = a.first + 2*rand.IntN(a.size())
	return a
}

// size is the number of pairs in the range.
func (a *allocator) size() int { return (a.last-a.first)/2 + 1 }

// get binds the next free pair.
func (a *allocator) get() (pair, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	var inUse, held, failed int
	for range a.size() {
		port := a.next
		a.next += 2
		if a.next > a.last {
			a.next = a.first
		}
		if _, ok := a.used[port]; ok {
			inUse++
			continue
		}
		if until, ok := a.released[port]; ok {
			if now.Before(until) {
				held++
				continue
			}
			delete(a.released, port)
		}
		p, err := a.bind(port)
		if err != nil {
			failed++
			continue
		}
		a.used[port] = struct{}{}
		return p, nil
	}
	return pair{}, fmt.Errorf("%w in %d-%d (%d in use, %d quarantined, %d failed to bind)",
		ErrNoPorts, a.first, a.last+1, inUse, held, failed)
}

// put returns port to the pool. With quarantine it is not handed out again
// before hold has passed.
func (a *allocator) put(port int, quarantine bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.used[port]; !ok {
		return
	}
	delete(a.used, port)
	if quarantine && a.hold > 0 {
		a.released[port] = a.now().Add(a.hold)
	}
}

// counts reports pairs in use and pairs still in quarantine, and forgets
// expired quarantine entries.
func (a *allocator) counts() (inUse, quarantined int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	for port, until := range a.released {
		if !now.Before(until) {
			delete(a.released, port)
		}
	}
	return len(a.used), len(a.released)
}

// udpBinder returns a bind function that opens the RTP and RTCP sockets on ip.
func udpBinder(ip netip.Addr) func(int) (pair, error) {
	network := "udp6"
	if ip.Unmap().Is4() {
		network, ip = "udp4", ip.Unmap()
	}
	return func(port int) (pair, error) {
		rtp, err := bindUDP(network, netip.AddrPortFrom(ip, uint16(port)))
		if err != nil {
			return pair{}, err
		}
		rtcp, err := bindUDP(network, netip.AddrPortFrom(ip, uint16(port+1)))
		if err != nil {
			rtp.close()
			return pair{}, err
		}
		return pair{port: port, rtp: rtp, rtcp: rtcp}, nil
	}
}
