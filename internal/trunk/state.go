package trunk

import (
	"time"
)

// Registration states (model.TrunkState.Registration).
const (
	// RegOff: the trunk sends no REGISTER (disabled, kind ip or
	// accept_register, or register=false).
	RegOff = "off"
	// RegRegistering: the first REGISTER of a session is under way.
	RegRegistering = "registering"
	// RegRegistered: the provider accepted our binding; refreshed ahead of
	// expiry. A refresh in progress keeps this state.
	RegRegistered = "registered"
	// RegFailed: the last attempt failed; the next is at NextAttempt.
	RegFailed = "failed"
	// RegUnregistered: not registered and not trying, e.g. after the
	// un-REGISTER on shutdown, or before Run started the trunk.
	RegUnregistered = "unregistered"
)

// Reachability states (model.TrunkState.Reachability).
const (
	ReachUnknown = "unknown" // probing off, or no probe answered or missed enough yet
	ReachUp      = "up"
	ReachDown    = "down"
)

// outcomeKind classifies the end of a registration attempt; it picks the
// back-off family (style: errors carry decisions).
type outcomeKind int

const (
	outcomeOK        outcomeKind = iota // 2xx with a lifetime
	outcomeTransient                    // timeout, transport error, 5xx, other rejections: normal back-off
	outcomeAuth                         // credentials or account wrong (401/407 after credentials, 403, 404): long back-off
)

// outcome is the result of one registration attempt.
type outcome struct {
	kind   outcomeKind
	code   int    // final SIP status, 0 for network errors
	reason string // provider's reason phrase or our error text
	// granted is the lifetime of the binding (outcomeOK).
	granted time.Duration
	// hold is a provider-requested minimum wait (Retry-After).
	hold time.Duration
}

// classifyStatus maps the final response to a REGISTER to an outcome kind.
// afterCreds says whether that REGISTER carried credentials computed from a
// fresh challenge; a 401/407 then means the password is wrong (RFC 3261
// §22.2: a UAC must not retry with the same credentials).
func classifyStatus(code int, afterCreds bool) outcomeKind {
	switch {
	case code >= 200 && code < 300:
		return outcomeOK
	case code == 401 || code == 407:
		if afterCreds {
			return outcomeAuth
		}
		return outcomeTransient // a challenge we could not answer (no credentials, bad realm)
	case code == 403 || code == 404:
		return outcomeAuth
	default:
		return outcomeTransient
	}
}

// refreshDelay is how long after a 2xx we send the refreshing REGISTER: at
// 85% of the granted lifetime (RFC 3261 §10.2.4 leaves the margin to us; 15%
// absorbs retransmissions and one failover), and never sooner than one
// second so a registrar granting tiny lifetimes cannot drive a tight loop.
func refreshDelay(granted time.Duration) time.Duration {
	return max(granted*85/100, time.Second)
}

// regMachine is the registration state machine of one trunk. It is pure:
// callers pass the time and a random source, so tests drive it with a fake
// clock. Owned by the trunk's goroutine.
type regMachine struct {
	net, auth Backoff
	rnd       func() float64

	state string
	code  int
	err   string
	until time.Time // binding expiry while registered
	next  time.Time // next attempt after a failure
}

// start marks the beginning of an attempt. Only a trunk that is not
// registered and not already failing shows "registering"; a refresh stays
// "registered" and a retry stays "failed", so the state does not flap.
func (m *regMachine) start() {
	if m.state != RegRegistered && m.state != RegFailed {
		m.state = RegRegistering
	}
}

// apply records the outcome of an attempt at now and returns how long to wait
// before the next REGISTER: the refresh delay after success, else the
// back-off of the outcome's family, and at least any Retry-After hold.
// Success resets both back-offs.
func (m *regMachine) apply(now time.Time, o outcome) time.Duration {
	if o.kind == outcomeOK {
		m.net.Reset()
		m.auth.Reset()
		m.state, m.code, m.err = RegRegistered, o.code, ""
		m.until, m.next = now.Add(o.granted), time.Time{}
		return refreshDelay(o.granted)
	}
	var wait time.Duration
	if o.kind == outcomeAuth {
		wait = m.auth.Next(m.rnd())
	} else {
		wait = m.net.Next(m.rnd())
	}
	wait = max(wait, o.hold)
	m.state, m.code, m.err = RegFailed, o.code, o.reason
	m.until, m.next = time.Time{}, now.Add(wait)
	return wait
}

// probeMachine is the OPTIONS reachability hysteresis of one trunk: down
// after downAfter consecutive misses, up after upAfter consecutive answers.
// From "unknown" the first answer means up (an unprobed trunk is usable
// anyway; waiting for more would only delay the display). Pure; owned by the
// trunk's goroutine.
type probeMachine struct {
	downAfter, upAfter int

	reach  string
	misses int
	oks    int
	rtt    time.Duration
}

func newProbeMachine(downAfter, upAfter int) probeMachine {
	return probeMachine{downAfter: max(downAfter, 1), upAfter: max(upAfter, 1), reach: ReachUnknown}
}

// observe records one probe: answered (with its round-trip time) or missed.
// It reports whether the reachability changed.
func (p *probeMachine) observe(answered bool, rtt time.Duration) bool {
	old := p.reach
	if answered {
		p.rtt = rtt
		p.misses = 0
		p.oks++
		if p.reach == ReachUnknown || p.oks >= p.upAfter {
			p.reach = ReachUp
		}
	} else {
		p.oks = 0
		p.misses++
		if p.misses >= p.downAfter {
			p.reach = ReachDown
		}
	}
	return p.reach != old
}
