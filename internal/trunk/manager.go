// Package trunk is the trunk runtime: for every configured trunk one goroutine
// registers to the provider (RFC 3261 §10.2), locates it (RFC 3263), probes
// it with OPTIONS and keeps its live state, and the Manager answers the call
// layer's questions: where to send a call, whether a trunk is usable, which
// trunk an inbound request came from, and how many calls a trunk carries.
package trunk

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

// Manager runs the trunks. NewManager starts nothing; Run runs until its ctx
// is done. Reconcile, the queries, MarkDown and Acquire/Release are safe for
// concurrent use and may be called before, during and after Run.
type Manager struct {
	cfg Config

	mu      sync.Mutex
	entries map[string]*entry
	runCtx  context.Context // set by Run; nil before
	stopped bool            // Run is returning; start no more runners
	wg      sync.WaitGroup  // runner goroutines
	// stopping holds, per trunk name, the done channel of its last stopped
	// runner: a new runner for the name waits for it, so an old un-REGISTER
	// can never remove a new binding.
	stopping map[string]<-chan struct{}

	nmu      sync.Mutex // guards queue and draining
	queue    []model.TrunkState
	draining bool
}

// entry is the Manager's record of one trunk. It outlives restarts of the
// trunk's runner, so active calls and holds carry over a config edit.
type entry struct {
	name string
	run  *runner // guarded by Manager.mu; nil when disabled or not started

	mu          sync.Mutex
	trunk       model.Trunk // latest config
	key         string      // runtimeKey(trunk)
	contactUser string      // "" unless the trunk registers
	state       model.TrunkState
	target      Target
	hasTarget   bool
	holdUntil   time.Time
	holdReason  string
	static      []staticSource // parsed associated_ips
	staticPfx   []netip.Prefix // the address/CIDR ones
	resolvedPfx []netip.Prefix // Host and named associated_ips, from the runner
	probeDown   bool
	// cps is the max_cps token bucket: tokens left and when they were counted.
	cpsTokens float64
	cpsAt     time.Time
}

// takeCPS spends one new-call token of the trunk's max_cps bucket (burst: one
// second's worth, at least 1). Callers hold e.mu.
func (e *entry) takeCPS(now time.Time) bool {
	rate := e.trunk.MaxCPS
	if rate <= 0 {
		return true
	}
	burst := max(rate, 1)
	if e.cpsAt.IsZero() {
		e.cpsTokens = burst
	} else {
		e.cpsTokens = min(burst, e.cpsTokens+now.Sub(e.cpsAt).Seconds()*rate)
	}
	e.cpsAt = now
	if e.cpsTokens < 1 {
		return false
	}
	e.cpsTokens--
	return true
}

// NewManager returns a Manager for cfg (zero values mean defaults).
func NewManager(cfg Config) *Manager {
	return &Manager{cfg: cfg.Defaults(), entries: map[string]*entry{}, stopping: map[string]<-chan struct{}{}}
}

// errRunTwice is returned by a second Run.
var errRunTwice = errors.New("trunk: Run called twice")

// Run starts the enabled trunks and runs until ctx is done. It then stops
// every trunk, each un-REGISTERing if registered (bounded by
// Config.ShutdownTimeout), waits for them and returns nil.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.runCtx != nil {
		m.mu.Unlock()
		return errRunTwice
	}
	m.runCtx = ctx
	for _, e := range m.sortedEntries() {
		if e.trunk.Enabled {
			m.startLocked(e)
		}
	}
	m.mu.Unlock()

	<-ctx.Done()

	m.mu.Lock()
	m.stopped = true
	for _, e := range m.entries {
		m.stopLocked(e, stopShutdown)
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// Reconcile makes the running set match trunks: new enabled trunks start,
// removed or disabled ones stop (un-REGISTERing), and a trunk restarts only
// when a setting its registration depends on changed (see runtimeKey). Other
// edits (DIDs, caller ID, limits, probe settings, associated_ips) are applied
// in place without a new REGISTER. Trunks are matched by name; a later
// duplicate name is ignored. Reconcile does not block on the network.
func (m *Manager) Reconcile(trunks []model.Trunk) {
	m.mu.Lock()
	defer m.drain() // after Unlock: OnChange may call the Manager
	defer m.mu.Unlock()
	seen := make(map[string]bool, len(trunks))
	for _, t := range trunks {
		if t.Name == "" || seen[t.Name] {
			continue
		}
		seen[t.Name] = true
		m.reconcileOne(t)
	}
	for name, e := range m.entries {
		if !seen[name] {
			m.stopLocked(e, stopRemoved)
			delete(m.entries, name)
		}
	}
}

func (m *Manager) reconcileOne(t model.Trunk) {
	key := runtimeKey(t)
	e, ok := m.entries[t.Name]
	if !ok {
		e = &entry{name: t.Name}
		e.state = model.TrunkState{Name: t.Name, Registration: RegOff, Reachability: ReachUnknown, LastChange: m.cfg.Now()}
		if t.Enabled && t.Registers() {
			e.state.Registration = RegUnregistered
		}
		m.entries[t.Name] = e
	}
	e.mu.Lock()
	changed := e.key != key
	e.trunk, e.key = cloneTrunk(t), key
	e.contactUser = ""
	if t.Registers() {
		e.contactUser = ContactUser(t)
	}
	e.static = parseSources(t.AssociatedIPs)
	if h, _, err := splitHostPort(t.Host); err == nil {
		e.static = append(e.static, parseSources([]string{h})...) // an IP literal Host matches at once
	}
	e.staticPfx = nil
	for _, s := range e.static {
		if s.prefix.IsValid() {
			e.staticPfx = append(e.staticPfx, s.prefix)
		}
	}
	e.mu.Unlock()

	switch {
	case !t.Enabled:
		if e.run != nil {
			m.stopLocked(e, stopDisabled)
		} else {
			m.setOff(e)
		}
	case e.run == nil:
		m.startLocked(e)
	case changed:
		m.stopLocked(e, stopRestart)
		m.startLocked(e)
	default:
		e.run.update(cloneTrunk(t))
	}
}

// stopLocked stops e's runner, if any, for reason. Caller holds m.mu.
func (m *Manager) stopLocked(e *entry, reason stopReason) {
	if e.run == nil {
		return
	}
	e.run.stop(reason)
	m.stopping[e.name] = e.run.done
	e.run = nil
}

// startLocked starts e's runner once Run is running. If a runner of the same
// name is still stopping, the new one waits for it to finish (and
// un-REGISTER) first. Caller holds m.mu.
func (m *Manager) startLocked(e *entry) {
	if m.runCtx == nil || m.stopped {
		return
	}
	prev := m.stopping[e.name]
	delete(m.stopping, e.name)
	e.mu.Lock()
	t := cloneTrunk(e.trunk)
	e.mu.Unlock()
	r := newRunner(m, e, t)
	e.run = r
	ctx, cancel := context.WithCancel(m.runCtx)
	r.cancel = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		r.run(ctx, prev)
	}()
}

// setOff shows a trunk that is not running as off.
func (m *Manager) setOff(e *entry) {
	m.apply(e, func(s *model.TrunkState, e *entry) {
		s.Registration, s.Reachability = RegOff, ReachUnknown
		s.RTTMillis, s.Target, s.RegisteredUntil, s.NextAttempt = 0, "", nil, nil
		e.hasTarget, e.probeDown, e.resolvedPfx = false, false, nil
	})
}

// update applies f to e's state and delivers the change, if any, to
// OnChange. The caller must hold no Manager lock.
func (m *Manager) update(e *entry, f func(*model.TrunkState, *entry)) {
	if m.apply(e, f) {
		m.drain()
	}
}

// apply applies f to e's state under e.mu; if the state changed it logs the
// change, queues it for OnChange (see drain) and returns true.
func (m *Manager) apply(e *entry, f func(*model.TrunkState, *entry)) bool {
	e.mu.Lock()
	old := e.state
	f(&e.state, e)
	s := e.state
	if s.Registration != old.Registration || s.Reachability != old.Reachability {
		s.LastChange = m.cfg.Now()
		e.state.LastChange = s.LastChange
	}
	changed := !stateEqual(old, s)
	if changed {
		m.enqueue(s)
	}
	e.mu.Unlock()
	if changed {
		m.logChange(old, s)
	}
	return changed
}

// enqueue queues s for OnChange. Called with e.mu held, so a trunk's states
// queue in the order they happened.
func (m *Manager) enqueue(s model.TrunkState) {
	m.nmu.Lock()
	m.queue = append(m.queue, s)
	m.nmu.Unlock()
}

// drain delivers queued states to OnChange without holding any lock, one
// caller at a time, in queue order. OnChange may therefore call the Manager.
func (m *Manager) drain() {
	m.nmu.Lock()
	if m.draining {
		m.nmu.Unlock()
		return
	}
	m.draining = true
	for len(m.queue) > 0 {
		s := m.queue[0]
		m.queue[0] = model.TrunkState{}
		m.queue = m.queue[1:]
		m.nmu.Unlock()
		m.cfg.OnChange(s)
		m.nmu.Lock()
	}
	m.draining = false
	m.nmu.Unlock()
}

// logChange logs a change once: at info when something an operator cares
// about changed (registration, reachability, last code or error, target), at
// debug for RTT and call counts.
func (m *Manager) logChange(old, s model.TrunkState) {
	if old.Registration == s.Registration && old.Reachability == s.Reachability &&
		old.LastCode == s.LastCode && old.LastError == s.LastError && old.Target == s.Target {
		m.cfg.Log.Debug("trunk: state", "trunk", s.Name, "rtt_ms", s.RTTMillis, "active_calls", s.ActiveCalls)
		return
	}
	m.cfg.Log.Info("trunk: state changed", "trunk", s.Name,
		"registration", s.Registration, "old_registration", old.Registration,
		"reachability", s.Reachability, "old_reachability", old.Reachability,
		"last_code", s.LastCode, "old_last_code", old.LastCode,
		"last_error", s.LastError, "old_last_error", old.LastError,
		"target", s.Target, "old_target", old.Target)
}

func stateEqual(a, b model.TrunkState) bool {
	timeEq := func(x, y *time.Time) bool {
		return (x == nil) == (y == nil) && (x == nil || x.Equal(*y))
	}
	return a.Name == b.Name && a.Registration == b.Registration && a.Reachability == b.Reachability &&
		a.LastCode == b.LastCode && a.LastError == b.LastError && a.RTTMillis == b.RTTMillis &&
		a.ActiveCalls == b.ActiveCalls && a.Target == b.Target &&
		timeEq(a.RegisteredUntil, b.RegisteredUntil) && timeEq(a.NextAttempt, b.NextAttempt)
}

func (m *Manager) entry(name string) *entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.entries[name]
}

func (m *Manager) sortedEntries() []*entry {
	es := make([]*entry, 0, len(m.entries))
	for _, e := range m.entries {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *entry) int { return strings.Compare(a.name, b.name) })
	return es
}

// State returns the live state of the named trunk.
func (m *Manager) State(name string) (model.TrunkState, bool) {
	e := m.entry(name)
	if e == nil {
		return model.TrunkState{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return copyState(e.state), true
}

// States returns the live state of every trunk, sorted by name.
func (m *Manager) States() []model.TrunkState {
	m.mu.Lock()
	es := m.sortedEntries()
	m.mu.Unlock()
	out := make([]model.TrunkState, 0, len(es))
	for _, e := range es {
		e.mu.Lock()
		out = append(out, copyState(e.state))
		e.mu.Unlock()
	}
	return out
}

// copyState copies s so the caller cannot alias our time pointers.
func copyState(s model.TrunkState) model.TrunkState {
	if s.RegisteredUntil != nil {
		t := *s.RegisteredUntil
		s.RegisteredUntil = &t
	}
	if s.NextAttempt != nil {
		t := *s.NextAttempt
		s.NextAttempt = &t
	}
	return s
}

// Target returns where calls over the named trunk go now: the target that
// holds the registration for register trunks, else the one that last
// answered (RFC 3263 §4.3: stay on a server that works). ok is false while
// nothing is resolved or the trunk is not running.
func (m *Manager) Target(name string) (Target, bool) {
	e := m.entry(name)
	if e == nil {
		return Target{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.target, e.hasTarget
}

// Usable reports whether calls may be placed on the named trunk now: it is
// enabled, not down by probe, registered (for trunks that register; a
// trunk still on its first REGISTER is not usable yet), not in a MarkDown
// hold. Call limits are Acquire's business.
func (m *Manager) Usable(name string) bool {
	e := m.entry(name)
	if e == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.trunk.Enabled || e.state.Reachability == ReachDown || m.cfg.Now().Before(e.holdUntil) {
		return false
	}
	return !e.trunk.Registers() || e.state.Registration == RegRegistered
}

// MarkDown holds the named trunk unusable for d, e.g. after a 503 with
// Retry-After (RFC 3261 §21.5.4). A later MarkDown replaces the hold; d <= 0
// lifts it.
func (m *Manager) MarkDown(name string, d time.Duration, reason string) {
	e := m.entry(name)
	if e == nil {
		return
	}
	e.mu.Lock()
	if d <= 0 {
		e.holdUntil, e.holdReason = time.Time{}, ""
	} else {
		e.holdUntil, e.holdReason = m.cfg.Now().Add(d), reason
	}
	e.mu.Unlock()
	m.cfg.Log.Info("trunk: marked down", "trunk", name, "for", d, "reason", reason)
}

// Acquire counts one more call (inbound or outbound) on the named trunk. It
// returns false, counting nothing, when the trunk is unknown or disabled or
// already carries MaxCalls calls, or has started MaxCPS calls in the last second.
// Every true must be paired with Release.
func (m *Manager) Acquire(name string) bool {
	e := m.entry(name)
	if e == nil {
		return false
	}
	ok := false
	now := m.cfg.Now()
	m.update(e, func(s *model.TrunkState, e *entry) {
		if e.trunk.Enabled && (e.trunk.MaxCalls <= 0 || s.ActiveCalls < e.trunk.MaxCalls) && e.takeCPS(now) {
			s.ActiveCalls++
			ok = true
		}
	})
	return ok
}

// Release ends a call counted by Acquire.
func (m *Manager) Release(name string) {
	if e := m.entry(name); e != nil {
		m.update(e, func(s *model.TrunkState, _ *entry) { s.ActiveCalls = max(s.ActiveCalls-1, 0) })
	}
}

// IdentifyContactUser returns the trunk whose registration Contact user is
// user: an inbound request whose Request-URI user is that arrived on the
// trunk's binding.
func (m *Manager) IdentifyContactUser(user string) (string, bool) {
	if user == "" {
		return "", false
	}
	m.mu.Lock()
	es := m.sortedEntries()
	m.mu.Unlock()
	for _, e := range es {
		e.mu.Lock()
		hit := e.trunk.Enabled && e.contactUser == user
		e.mu.Unlock()
		if hit {
			return e.name, true
		}
	}
	return "", false
}

// IdentifySource returns the enabled ip or register trunk that ip belongs to: one of the
// addresses its Host resolves to, or an associated_ips address, CIDR or
// name. Names are resolved again every Config.ResolveInterval. When several
// trunks match, the most specific prefix wins, then the first name.
func (m *Manager) IdentifySource(ip netip.Addr) (string, bool) {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return "", false
	}
	// The SIP edge asks this for every request (trusted sources skip the rate limit),
	// so no sorting here: ties are broken by name while scanning.
	m.mu.Lock()
	es := make([]*entry, 0, len(m.entries))
	for _, e := range m.entries {
		es = append(es, e)
	}
	m.mu.Unlock()
	best, name := -1, ""
	for _, e := range es {
		e.mu.Lock()
		// ip trunks, and register trunks too: a provider that puts the DID in the
		// Request-URI (not our Contact user), or a register:false trunk (Twilio),
		// calls from its own addresses.
		if e.trunk.Enabled && e.trunk.Kind != model.TrunkAcceptRegister {
			b := max(bestMatch(e.staticPfx, ip), bestMatch(e.resolvedPfx, ip))
			if b >= 0 && (b > best || b == best && e.name < name) {
				best, name = b, e.name
			}
		}
		e.mu.Unlock()
	}
	return name, best >= 0
}

// runtimeKey is the canonical form of the settings a trunk's runner depends
// on: a change here restarts the runner (un-REGISTER, new registration
// session). Everything else is applied in place.
func runtimeKey(t model.Trunk) string {
	s := settingsOf(t)
	k := struct {
		Name, Kind, Host   string
		Port               int
		Transport, Proxy   string
		User, AuthID, Pass string
		Realm              string
		Registers          bool
		Expires            int
	}{t.Name, string(t.Kind), strings.ToLower(strings.TrimSpace(t.Host)), t.Port, s.transport,
		strings.ToLower(strings.TrimSpace(t.OutboundProxy)), t.Username, t.AuthID, t.Password, t.Realm,
		t.Registers(), s.expires}
	if !t.Registers() {
		k.User, k.AuthID, k.Pass, k.Realm, k.Expires = "", "", "", "", 0
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// cloneTrunk copies the slices and maps of t that the runtime keeps.
func cloneTrunk(t model.Trunk) model.Trunk {
	t.AssociatedIPs = slices.Clone(t.AssociatedIPs)
	t.DIDs = slices.Clone(t.DIDs)
	if t.Register != nil {
		v := *t.Register
		t.Register = &v
	}
	return t
}
