package trunk

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/emiago/sipgo"
	"github.com/trunkline/trunkline/internal/model"
)

// Config is the runtime's configuration. Zero values mean the documented
// defaults; [Config.Defaults] fills them in. There are no package-level
// tunables.
type Config struct {
	// Client sends every UDP request (REGISTER, OPTIONS). It must send from
	// our SIP listening socket, e.g. built with
	// sipgo.WithClientConnectionAddr(listenAddr), so that the provider's NAT
	// binding and our Contact point at the same socket. Its UserAgent must
	// outlive Run: Run un-REGISTERs on the way out.
	Client *sipgo.Client
	// StreamClient sends requests of tcp and tls trunks; nil = Client.
	StreamClient *sipgo.Client

	// ContactHost and ContactPort are our advertised address: the host and
	// port of Contact and of Via sent-by (with rport, RFC 3581).
	ContactHost string
	ContactPort int

	// Resolver does DNS; nil = net.DefaultResolver.
	Resolver Resolver
	// Log receives state changes (info) and attempts (debug); nil = discard.
	Log *slog.Logger
	// Now and Rand are the clock and a uniform random source in [0, 1);
	// nil = time.Now and math/rand/v2.Float64.
	Now  func() time.Time
	Rand func() float64

	// BackoffMin and BackoffMax bound the jittered exponential back-off
	// after network errors, timeouts and transient rejections (5xx and
	// other codes); 0 = 2 s and 5 min.
	BackoffMin, BackoffMax time.Duration
	// AuthFailBackoff and AuthFailBackoffMax bound the back-off after the
	// provider rejected our account (401/407 to our credentials, 403, 404):
	// the first retry after AuthFailBackoff, doubling up to
	// AuthFailBackoffMax; 0 = 5 min and 1 h. Retrying a wrong password
	// quickly gets our address banned by the provider.
	AuthFailBackoff, AuthFailBackoffMax time.Duration

	// RequestTimeout bounds one REGISTER transaction to one target before we
	// fail over to the next target (RFC 3263 §4.3); 0 = 8 s (UDP
	// retransmissions at 0.5, 1, 2 and 4 s have happened by then). Also the
	// timeout of an OPTIONS probe unless ProbeTimeout is set.
	RequestTimeout time.Duration
	// ProbeTimeout bounds one OPTIONS probe; a probe unanswered by then is a
	// miss; 0 = RequestTimeout, capped at the probe interval.
	ProbeTimeout time.Duration
	// ShutdownTimeout bounds the un-REGISTER sent when a trunk stops
	// (disable, removal, restart, Run returning); 0 = 3 s.
	ShutdownTimeout time.Duration
	// ResolveInterval is how often names are resolved again (targets and
	// source addresses of ip trunks). The Go resolver does not expose TTLs,
	// so this is a fixed period; 0 = 5 min. A failed lookup keeps the last
	// good answer.
	ResolveInterval time.Duration

	// OnChange is called on every change of a trunk's state, with the new
	// state, in order of changes. It must not block; it may call the
	// Manager.
	OnChange func(model.TrunkState)
}

// Defaults returns c with every zero value replaced by its default.
func (c Config) Defaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.BackoffMin, 2*time.Second)
	set(&c.BackoffMax, 5*time.Minute)
	set(&c.AuthFailBackoff, 5*time.Minute)
	set(&c.AuthFailBackoffMax, time.Hour)
	set(&c.RequestTimeout, 8*time.Second)
	set(&c.ShutdownTimeout, 3*time.Second)
	set(&c.ResolveInterval, 5*time.Minute)
	c.BackoffMax = max(c.BackoffMax, c.BackoffMin)
	c.AuthFailBackoffMax = max(c.AuthFailBackoffMax, c.AuthFailBackoff)
	if c.StreamClient == nil {
		c.StreamClient = c.Client
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.OnChange == nil {
		c.OnChange = func(model.TrunkState) {}
	}
	return c
}

// contactAddr is ContactHost parsed, invalid when it is a name.
func (c *Config) contactAddr() netip.Addr {
	a, _ := netip.ParseAddr(c.ContactHost)
	return a
}

// trunkSettings are a trunk's runtime settings with defaults applied.
type trunkSettings struct {
	transport     string        // udp, tcp, tls
	expires       int           // seconds requested in REGISTER
	probeInterval time.Duration // 0 = probing off
	downAfter     int
	upAfter       int
}

func settingsOf(t model.Trunk) trunkSettings {
	s := trunkSettings{
		transport: normTransport(t.Transport),
		expires:   t.RegisterExpiry,
		downAfter: t.ProbeDownAfter,
		upAfter:   t.ProbeUpAfter,
	}
	if s.expires <= 0 {
		s.expires = 600
	}
	switch {
	case t.OptionsInterval < 0 || t.Host == "" || t.Kind == model.TrunkAcceptRegister:
		s.probeInterval = 0
	case t.OptionsInterval == 0:
		s.probeInterval = 30 * time.Second
	default:
		s.probeInterval = time.Duration(t.OptionsInterval) * time.Second
	}
	if s.downAfter <= 0 {
		s.downAfter = 3
	}
	if s.upAfter <= 0 {
		s.upAfter = 2
	}
	return s
}

func normTransport(s string) string {
	switch s {
	case "tcp", "TCP":
		return "tcp"
	case "tls", "TLS":
		return "tls"
	default:
		return "udp"
	}
}

// contextWithoutCancelTimeout returns a context that survives ctx's
// cancellation (so an un-REGISTER can still go out when the trunk stops) but
// is bounded by d.
func contextWithoutCancelTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}
