// Package call is Trunkline's B2BUA call control. A Call joins two dialogs (legs): the
// caller's (leg A, we are its UAS) and the callee's (leg B, we are its UAC). Call
// control forks the INVITE to every registered contact of the callee, relays
// provisional and final responses, bridges BYE, re-INVITE, UPDATE, INFO and MESSAGE
// leg to leg with each leg's own SDP, and writes one CDR when the call ends.
package call

import (
	"context"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/media"
	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/routing"
)

// Caller identifies who sent an initial INVITE, as sipedge authenticated or
// recognised it: an extension, or a trunk.
type Caller struct {
	Extension string
	Trunk     string
	Source    netip.AddrPort
	Transport string
}

// name is how the caller appears in logs and CDRs.
func (c Caller) name() string {
	if c.Trunk != "" {
		return "trunk:" + c.Trunk
	}
	return c.Extension
}

// Routes gives the current routing snapshot.
type Routes interface {
	Load() *routing.Snapshot
}

// TrunkRuntime is the live side of trunks that call control needs.
type TrunkRuntime interface {
	// Target is where calls to the trunk go now ("ip:port"), over which transport, and
	// the outbound proxy ("host[:port]") to name in a Route header, if any.
	Target(name string) (addr, transport, proxy string, ok bool)
	// Usable: enabled and not down (probe, registration, Retry-After).
	Usable(name string) bool
	// Acquire takes a call slot (max_calls); Release gives it back.
	Acquire(name string) bool
	Release(name string)
	// MarkDown holds the trunk down for d (503 with Retry-After).
	MarkDown(name string, d time.Duration, reason string)
	// ContactUser is the user of the trunk's registration Contact (DID source "auto").
	ContactUser(name string) string
}

// Locator returns the live registered contacts of an AOR, best first.
type Locator interface {
	Lookup(aor string) []model.Binding
}

// CDRWriter persists finished calls.
type CDRWriter interface {
	InsertCDR(ctx context.Context, c *model.CDR) error
}

// Config tunes call control. Zero values mean the documented defaults.
type Config struct {
	// RingTimeout ends an unanswered call with 480. 0 = 60s.
	RingTimeout time.Duration
	// RTPTimeout hangs up an answered call whose media stopped in both directions
	// for this long (a lost BYE, a crashed phone), unless a leg is on hold. Calls that
	// never carried RTP are left alone. 0 = off.
	RTPTimeout time.Duration
	// Log receives call events; nil discards.
	Log *slog.Logger
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Deps are the components call control drives.
type Deps struct {
	// Dgram sends over UDP from the listening socket; Stream over TCP/TLS.
	Dgram, Stream *sipgo.Client
	Contact       sip.ContactHeader
	Media         *media.Manager
	Routes        Routes
	Trunks        TrunkRuntime // nil: no trunk calls
	Locator       Locator
	CDRs          CDRWriter
}

// Manager owns every call in progress.
type Manager struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	dgram *sipgo.DialogUA
	strm  *sipgo.DialogUA

	mu      sync.Mutex
	base    context.Context // set by Run; nil before
	calls   map[string]*Call
	dialogs map[string]*leg // dialogKey(Call-ID, our tag) → leg

	extCalls map[string]int // calls per extension (as caller, or as the callee that answered)

	active   sync.WaitGroup
	draining atomic.Bool
	seq      atomic.Uint64
}

// New builds a Manager. It starts no goroutine; Run makes it take calls.
func New(cfg Config, deps Deps) *Manager {
	if cfg.RingTimeout == 0 {
		cfg.RingTimeout = 60 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{
		cfg:  cfg,
		deps: deps,
		log:  cfg.Log,
		// RewriteContact: requests inside a dialog go to the address the peer's
		// messages came from, not to its Contact, so phones behind NAT work.
		dgram:    &sipgo.DialogUA{Client: deps.Dgram, ContactHDR: deps.Contact, RewriteContact: true},
		strm:     &sipgo.DialogUA{Client: deps.Stream, ContactHDR: deps.Contact, RewriteContact: true},
		calls:    make(map[string]*Call),
		dialogs:  make(map[string]*leg),
		extCalls: make(map[string]int),
	}
}

func (m *Manager) dialogUA(transport string) *sipgo.DialogUA {
	if transport == "udp" || transport == "" {
		return m.dgram
	}
	return m.strm
}

// Run takes calls until ctx is done, then hangs up whatever is still up.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	m.base = ctx
	m.mu.Unlock()
	var tick <-chan time.Time
	if m.cfg.RTPTimeout > 0 {
		t := time.NewTicker(min(max(m.cfg.RTPTimeout/4, 250*time.Millisecond), 5*time.Second))
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			m.HangupAll("shutdown")
			return nil
		case <-tick:
			m.sweepMedia()
		}
	}
}

// sweepMedia ends answered calls whose RTP stopped for RTPTimeout (not on hold).
func (m *Manager) sweepMedia() {
	now := m.cfg.Now()
	m.mu.Lock()
	calls := make([]*Call, 0, len(m.calls))
	for _, c := range m.calls {
		calls = append(calls, c)
	}
	m.mu.Unlock()
	for _, c := range calls {
		c.mu.Lock()
		answered := !c.answered.IsZero() && !c.ended
		c.mu.Unlock()
		if !answered || c.hold.Load() || c.media == nil {
			continue
		}
		last := c.media.Stats().LastPacket
		if last.IsZero() || now.Sub(last) < m.cfg.RTPTimeout {
			continue
		}
		c.log.Info("no RTP for too long: hanging up", "silent", now.Sub(last).Round(time.Second), "rtp_timeout", m.cfg.RTPTimeout)
		go c.abort(model.PartySystem, "RTP timeout")
	}
}

func (m *Manager) context() context.Context {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.base
}

// Draining reports whether new calls are refused.
func (m *Manager) Draining() bool { return m.draining.Load() }

// Drain stops taking new calls (they get 503) and waits until every active call has
// ended or ctx is done; then it hangs up the rest.
func (m *Manager) Drain(ctx context.Context) {
	m.draining.Store(true)
	done := make(chan struct{})
	go func() { m.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		m.HangupAll("shutdown")
		<-done
	}
}

// HangupAll ends every call: answered ones with BYE on both legs, ringing ones with
// CANCEL towards the callee and 503 to the caller.
func (m *Manager) HangupAll(cause string) {
	m.mu.Lock()
	calls := make([]*Call, 0, len(m.calls))
	for _, c := range m.calls {
		calls = append(calls, c)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() { defer wg.Done(); c.abort(model.PartySystem, cause) }()
	}
	wg.Wait()
}

// Active lists the calls in progress, oldest first.
func (m *Manager) Active() []model.ActiveCall {
	m.mu.Lock()
	out := make([]model.ActiveCall, 0, len(m.calls))
	for _, c := range m.calls {
		out = append(out, c.view())
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].StartTime.Before(out[j].StartTime) })
	return out
}

// Count is the number of calls in progress.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

func dialogKey(callID, ourTag string) string { return callID + "\x00" + ourTag }

func (m *Manager) addDialog(key string, l *leg) {
	m.mu.Lock()
	m.dialogs[key] = l
	m.mu.Unlock()
}

func (m *Manager) lookupDialog(req *sip.Request) *leg {
	to := req.To()
	if to == nil || req.CallID() == nil {
		return nil
	}
	tag, _ := to.Params.Get("tag")
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dialogs[dialogKey(req.CallID().Value(), tag)]
}

// HasDialog reports whether req belongs to a dialog of a call in progress.
func (m *Manager) HasDialog(req *sip.Request) bool { return m.lookupDialog(req) != nil }

func (m *Manager) forget(c *Call) {
	m.mu.Lock()
	delete(m.calls, c.id)
	for _, l := range []*leg{c.a, c.b} {
		if l != nil && l.key != "" {
			delete(m.dialogs, l.key)
		}
	}
	m.mu.Unlock()
}

// extensionFree reports whether ext is below its max_calls.
func (m *Manager) extensionFree(snap *routing.Snapshot, ext string) bool {
	e, ok := snap.Extension(ext)
	if !ok || e.MaxCalls <= 0 {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.extCalls[ext] < e.MaxCalls
}

// takeExtension counts a call of ext, unless it is at its max_calls (force counts
// it anyway: emergency calls).
func (m *Manager) takeExtension(snap *routing.Snapshot, ext string, force bool) bool {
	e, _ := snap.Extension(ext)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !force && e.MaxCalls > 0 && m.extCalls[ext] >= e.MaxCalls {
		return false
	}
	m.extCalls[ext]++
	return true
}

func (m *Manager) releaseExtension(ext string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.extCalls[ext] <= 1 {
		delete(m.extCalls, ext)
		return
	}
	m.extCalls[ext]--
}
