package trunk

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/trunkline/trunkline/internal/model"
)

// stopReason says why a runner stops; it picks the final state.
type stopReason int32

const (
	stopNone stopReason = iota
	stopShutdown
	stopRemoved
	stopDisabled
	stopRestart
)

// runner is the owner goroutine of one trunk. Every field below the first
// group is touched only by that goroutine; the Manager sees the results
// through publish.
type runner struct {
	m      *Manager
	e      *entry
	cfg    *Config
	log    *slog.Logger
	reason atomic.Int32 // stopReason
	cancel context.CancelFunc
	done   chan struct{}
	upd    chan model.Trunk // latest soft config; capacity 1

	t           model.Trunk
	set         trunkSettings
	contactUser string
	host        string // t.Host without a port
	port        int    // t.Port, or a port written into t.Host

	targets    []Target
	cur        int
	resolvedAt time.Time
	srcCache   map[string][]netip.Addr // last good answer per source name

	reg        regMachine
	sess       regSession
	registered bool // a binding may exist at the provider: un-REGISTER on stop

	probe     probeMachine
	probeBusy bool
	probeCode int
	probeErr  string
	probeRes  chan probeResult
	probeWG   sync.WaitGroup

	regTimer, probeTimer, resolveTimer *time.Timer
}

func newRunner(m *Manager, e *entry, t model.Trunk) *runner {
	cfg := &m.cfg
	r := &runner{
		m: m, e: e, cfg: cfg,
		log:      cfg.Log.With("trunk", t.Name),
		done:     make(chan struct{}),
		upd:      make(chan model.Trunk, 1),
		probeRes: make(chan probeResult, 1),
	}
	r.setTrunk(t)
	r.contactUser = ContactUser(t)
	r.host, r.port = t.Host, t.Port
	if h, p, err := splitHostPort(t.Host); err == nil {
		r.host = h
		if r.port == 0 {
			r.port = p
		}
	}
	r.reg = regMachine{
		net:   Backoff{Min: cfg.BackoffMin, Max: cfg.BackoffMax},
		auth:  Backoff{Min: cfg.AuthFailBackoff, Max: cfg.AuthFailBackoffMax},
		rnd:   cfg.Rand,
		state: RegUnregistered,
	}
	if !t.Registers() {
		r.reg.state = RegOff
	}
	r.probe = newProbeMachine(r.set.downAfter, r.set.upAfter)
	r.sess = newRegSession(r.set.expires)
	return r
}

func (r *runner) setTrunk(t model.Trunk) {
	r.t, r.set = t, settingsOf(t)
}

// stop asks the runner to stop; the first reason given wins.
func (r *runner) stop(reason stopReason) {
	r.reason.CompareAndSwap(int32(stopNone), int32(reason))
	r.cancel()
}

// update hands the runner a config that differs only in soft settings. Called
// under Manager.mu, so there is a single sender and the send never blocks.
func (r *runner) update(t model.Trunk) {
	select {
	case <-r.upd:
	default:
	}
	select {
	case r.upd <- t:
	default:
	}
}

// run is the trunk's goroutine: it registers, probes and re-resolves on
// timers until ctx is done, then un-REGISTERs and publishes the final state.
func (r *runner) run(ctx context.Context, prev <-chan struct{}) {
	defer close(r.done)
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			r.finish(ctx)
			return
		}
	}
	r.regTimer, r.probeTimer, r.resolveTimer = stoppedTimer(), stoppedTimer(), stoppedTimer()
	defer r.regTimer.Stop()
	defer r.probeTimer.Stop()
	defer r.resolveTimer.Stop()

	if r.t.Registers() {
		r.regTimer.Reset(0)
	} else if r.host != "" {
		r.resolve(ctx)
	}
	if r.host != "" || len(r.e.staticNames()) > 0 {
		r.resolveTimer.Reset(r.cfg.ResolveInterval)
	}
	r.scheduleFirstProbe()
	r.publish()

	for {
		select {
		case <-ctx.Done():
			r.finish(ctx)
			return
		case <-r.regTimer.C:
			wait := r.register(ctx)
			if ctx.Err() == nil {
				r.regTimer.Reset(wait)
			}
		case <-r.probeTimer.C:
			r.startProbe(ctx)
		case res := <-r.probeRes:
			r.probeDone(res)
		case <-r.resolveTimer.C:
			r.resolve(ctx)
			r.resolveTimer.Reset(r.cfg.ResolveInterval)
		case t := <-r.upd:
			r.applyUpdate(ctx, t)
		}
	}
}

func stoppedTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// scheduleFirstProbe starts probing after a random delay of up to a second
// (at most half the interval), so many trunks do not probe in lock step.
func (r *runner) scheduleFirstProbe() {
	if r.set.probeInterval <= 0 {
		return
	}
	spread := min(r.set.probeInterval/2, time.Second)
	r.probeTimer.Reset(time.Duration(r.cfg.Rand() * float64(spread)))
}

// applyUpdate takes soft settings: probe settings and associated_ips.
func (r *runner) applyUpdate(ctx context.Context, t model.Trunk) {
	old := r.set
	r.setTrunk(t)
	r.probe.downAfter, r.probe.upAfter = r.set.downAfter, r.set.upAfter
	if r.set.probeInterval != old.probeInterval {
		if r.set.probeInterval <= 0 {
			r.probeTimer.Stop()
			r.probe = newProbeMachine(r.set.downAfter, r.set.upAfter)
		} else if !r.probeBusy {
			r.probeTimer.Reset(0)
		}
	}
	r.resolve(ctx) // associated_ips may name new hosts
	r.publish()
}

// finish runs when the runner stops: wait for an in-flight probe, send the
// un-REGISTER if a binding may exist (bounded by ShutdownTimeout, even though
// ctx is done), then publish the final state.
func (r *runner) finish(ctx context.Context) {
	r.probeWG.Wait()
	if r.registered && len(r.targets) > 0 {
		uctx, cancel := contextWithoutCancelTimeout(ctx, r.cfg.ShutdownTimeout)
		r.unregister(uctx)
		cancel()
	}
	reason := stopReason(r.reason.Load())
	r.m.update(r.e, func(s *model.TrunkState, e *entry) {
		s.Registration = RegUnregistered
		if !r.t.Registers() || reason == stopDisabled || reason == stopRemoved {
			s.Registration = RegOff
		}
		s.Reachability, s.RTTMillis = ReachUnknown, 0
		s.RegisteredUntil, s.NextAttempt = nil, nil
		if reason != stopShutdown {
			s.Target, e.hasTarget, e.resolvedPfx = "", false, nil
		}
		e.probeDown = false
	})
}

// publish copies the runner's view into the entry (and so to OnChange).
func (r *runner) publish() {
	var tg Target
	if len(r.targets) > 0 {
		tg = r.targets[r.cur]
	}
	r.m.update(r.e, func(s *model.TrunkState, e *entry) {
		s.Registration = r.reg.state
		s.Reachability = r.probe.reach
		s.RTTMillis = float64(r.probe.rtt.Microseconds()) / 1000
		if r.t.Registers() {
			s.LastCode, s.LastError = r.reg.code, r.reg.err
		} else {
			s.LastCode, s.LastError = r.probeCode, r.probeErr
		}
		s.RegisteredUntil, s.NextAttempt = timePtr(r.reg.until), timePtr(r.reg.next)
		s.Target = tg.Addr
		e.target, e.hasTarget = tg, len(r.targets) > 0
		e.probeDown = r.probe.reach == ReachDown
	})
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// resolve locates the trunk's servers again (RFC 3263), staying on the
// current target if it is still in the answer, and refreshes the source
// addresses of ip trunks. A failed lookup keeps the previous answer.
func (r *runner) resolve(ctx context.Context) {
	if r.host != "" {
		host, port := r.host, r.port
		if r.t.OutboundProxy != "" {
			h, p, err := splitHostPort(r.t.OutboundProxy)
			if err != nil {
				r.log.Warn("trunk: bad outbound proxy", "proxy", r.t.OutboundProxy, "error", err)
				return
			}
			host, port = h, p
		}
		tgs, err := resolveTargets(ctx, r.cfg.Resolver, host, port, r.set.transport, r.cfg.contactAddr(), r.cfg.Rand)
		if err != nil {
			r.log.Warn("trunk: resolve failed", "host", host, "error", err)
		} else {
			r.setTargets(tgs)
		}
	}
	if r.t.Kind != model.TrunkAcceptRegister {
		r.resolveSources(ctx)
	}
	r.resolvedAt = r.cfg.Now()
	r.publish()
}

func (r *runner) setTargets(tgs []Target) {
	for i := range tgs {
		tgs[i].OutboundProxy = r.t.OutboundProxy
	}
	cur := 0
	if len(r.targets) > 0 {
		held := r.targets[r.cur].AddrPort
		if i := slices.IndexFunc(tgs, func(t Target) bool { return t.AddrPort == held }); i >= 0 {
			cur = i
		}
	}
	r.targets, r.cur = tgs, cur
}

// resolveSources sets the addresses an ip or register trunk's inbound requests may come
// from: every resolved target (unless they are an outbound proxy's) and
// every named associated_ips entry, including Host.
func (r *runner) resolveSources(ctx context.Context) {
	var addrs []netip.Addr
	if r.t.OutboundProxy == "" {
		for _, t := range r.targets {
			addrs = append(addrs, t.AddrPort.Addr())
		}
	}
	names := r.e.staticNames()
	cache := make(map[string][]netip.Addr, len(names))
	for _, name := range names {
		a, err := resolveHostAddrs(ctx, r.cfg.Resolver, name)
		if err != nil {
			r.log.Warn("trunk: resolve source failed", "host", name, "error", err)
			a = r.srcCache[name] // keep the last good answer
		}
		cache[name] = a
		addrs = append(addrs, a...)
	}
	r.srcCache = cache
	pfx := addrPrefixes(addrs)
	r.m.update(r.e, func(_ *model.TrunkState, e *entry) { e.resolvedPfx = pfx })
}

// staticNames returns the host names among associated_ips and Host.
func (e *entry) staticNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, s := range e.static {
		if s.name != "" && !slices.Contains(out, s.name) {
			out = append(out, s.name)
		}
	}
	return out
}

// client returns the sipgo client for a transport.
func (r *runner) client(transport string) *sipgo.Client {
	if transport == "udp" {
		return r.cfg.Client
	}
	return r.cfg.StreamClient
}

// do sends req to tg and waits, at most timeout, for its final response.
func (r *runner) do(ctx context.Context, tg Target, req *sip.Request, timeout time.Duration) (*sip.Response, error) {
	c := r.client(tg.Transport)
	if c == nil {
		return nil, errNoClient
	}
	req.SetDestination(tg.Addr)
	req.SetTransport(sip.NetworkToUpper(tg.Transport))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.Do(ctx, req)
}
