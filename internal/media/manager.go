package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// ErrShutdown is returned by NewSession after Shutdown.
var ErrShutdown = errors.New("media: manager shut down")

// Manager owns the port range and the live sessions. Its methods are safe for
// concurrent use. NewManager starts no goroutine; the relay's start with the
// first session's Start and end in Shutdown.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	alloc *allocator
	relay relayPool // the forwarding machinery (relay_linux.go, relay_other.go)

	mu       sync.Mutex
	sessions map[*Session]struct{}
	shut     bool
	created  uint64
	failures uint64
	closed   Counters // sums of closed sessions, both directions
}

// NewManager checks cfg (after filling its defaults) and returns a manager.
// It binds no socket yet.
func NewManager(cfg Config) (*Manager, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:      cfg,
		log:      cfg.Log,
		sessions: make(map[*Session]struct{}),
	}
	m.relay.log = cfg.Log
	m.alloc = newAllocator(cfg.PortMin, cfg.PortMax, cfg.Quarantine, udpBinder(cfg.BindIP))
	return m, nil
}

// NewSession binds an RTP/RTCP port pair for each leg and returns the
// session, not yet started. The error wraps ErrNoPorts when the range is
// exhausted. The session closes itself when ctx ends, so a call's context
// bounds its media; Close may still be called earlier.
func (m *Manager) NewSession(ctx context.Context) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	shut := m.shut
	m.mu.Unlock()
	if shut {
		return nil, ErrShutdown
	}
	a, err := m.alloc.get()
	if err != nil {
		m.fail()
		return nil, err
	}
	b, err := m.alloc.get()
	if err != nil {
		closePair(a)
		m.alloc.put(a.port, false) // never advertised: no late packets to fear
		m.fail()
		return nil, err
	}
	s := &Session{m: m}
	s.log = m.log.With("port_a", a.port, "port_b", b.port)
	for i, p := range []pair{a, b} {
		l := &s.legs[i]
		l.rtp.sock, l.rtp.port = p.rtp, p.port
		l.rtcp.sock, l.rtcp.port = p.rtcp, p.port+1
	}
	m.mu.Lock()
	if m.shut {
		m.mu.Unlock()
		closePair(a)
		closePair(b)
		m.alloc.put(a.port, false)
		m.alloc.put(b.port, false)
		return nil, ErrShutdown
	}
	m.sessions[s] = struct{}{}
	m.created++
	m.mu.Unlock()
	s.watch(ctx)
	return s, nil
}

func (m *Manager) fail() {
	m.mu.Lock()
	m.failures++
	m.mu.Unlock()
}

func closePair(p pair) {
	p.rtp.close()
	p.rtcp.close()
}

// release is called by Session.Close after its goroutines have ended: the
// session's final counters join the totals and its ports go to quarantine.
func (m *Manager) release(s *Session) {
	m.mu.Lock()
	if _, ok := m.sessions[s]; ok {
		delete(m.sessions, s)
		st := s.Stats()
		m.closed.add(st.AtoB)
		m.closed.add(st.BtoA)
	}
	m.mu.Unlock()
	for i := range s.legs {
		m.alloc.put(s.legs[i].rtp.port, true)
	}
}

// Shutdown closes every session and makes NewSession fail with ErrShutdown.
// It is idempotent. ctx is accepted for symmetry with other components;
// closing a session does not block on the network.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.shut = true
	list := make([]*Session, 0, len(m.sessions))
	for s := range m.sessions {
		list = append(list, s)
	}
	m.mu.Unlock()
	var errs []error
	for _, s := range list {
		errs = append(errs, s.Close())
	}
	m.relay.shutdown()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("media: shutdown: %w", err)
	}
	return ctx.Err()
}

// ManagerStats are the relay's totals for /metrics. Packet counters include
// closed sessions and both directions, so they only grow.
type ManagerStats struct {
	ActiveSessions   int
	PortsInUse       int    // RTP and RTCP ports bound (4 per session)
	PortsQuarantined int    // RTP and RTCP ports waiting out their quarantine
	PortsTotal       int    // RTP and RTCP ports in the range
	Sessions         uint64 // sessions created since NewManager
	AllocFailures    uint64 // NewSession calls that found no free port pair

	Packets, Bytes         uint64 // RTP forwarded
	RTCPPackets, RTCPBytes uint64 // RTCP forwarded
	Dropped                uint64 // wrong source (see Counters.Dropped)
	NoRoute                uint64
	WriteErrors            uint64
}

// Stats returns the totals. The forwarding goroutines count into their own
// session's atomic counters (no shared cache line per packet); Stats adds
// them up, which costs O(active sessions).
func (m *Manager) Stats() ManagerStats {
	inUse, held := m.alloc.counts()
	m.mu.Lock()
	sum := m.closed
	st := ManagerStats{
		ActiveSessions:   len(m.sessions),
		PortsInUse:       2 * inUse,
		PortsQuarantined: 2 * held,
		PortsTotal:       2 * m.alloc.size(),
		Sessions:         m.created,
		AllocFailures:    m.failures,
	}
	for s := range m.sessions {
		ss := s.Stats()
		sum.add(ss.AtoB)
		sum.add(ss.BtoA)
	}
	m.mu.Unlock()
	st.Packets, st.Bytes = sum.Packets, sum.Bytes
	st.RTCPPackets, st.RTCPBytes = sum.RTCPPackets, sum.RTCPBytes
	st.Dropped, st.NoRoute, st.WriteErrors = sum.Dropped, sum.NoRoute, sum.WriteErrors
	return st
}
