package sipedge

import (
	"net/netip"
	"sync"
	"time"
)

// RateLimitConfig configures a RateLimiter. Zero values mean the defaults.
type RateLimitConfig struct {
	// Rate is the sustained requests per second allowed per source; 0 = 200. A phone
	// sends a few requests a minute and a busy PBX or gateway behind one address a few
	// dozen a second, so 200/s never touches real traffic and still caps a flooder at a
	// small fraction of what the edge can parse (research §9 row 40). Kamailio's pike
	// default (30 per 2 s) is stricter; lower Rate for sites without trunks or
	// gateways.
	Rate float64
	// Burst is the bucket size: requests a source may send at once; 0 = 2×Rate (400),
	// enough for a gateway re-registering all its lines after a restart.
	Burst int
	// MaxEntries bounds the sources tracked; 0 = 65536. When the table is full of
	// active sources, new sources share one overflow bucket (same Rate and Burst), so
	// memory and CPU stay bounded during a distributed flood.
	MaxEntries int
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// RateLimiter is a token bucket per source (IPv4 address or IPv6 /64, like Banlist).
// A bucket left idle until it is full again is the same as no bucket, so idle
// buckets are purged. Safe for concurrent use.
type RateLimiter struct {
	rate       float64
	burst      float64
	maxEntries int
	now        func() time.Time
	idle       time.Duration // time for an empty bucket to refill

	mu        sync.Mutex
	buckets   map[netip.Prefix]*rateBucket
	overflow  rateBucket
	lastSweep time.Time
}

type rateBucket struct {
	tokens float64
	last   time.Time
}

// NewRateLimiter returns a RateLimiter with no sources tracked.
func NewRateLimiter(cfg RateLimitConfig) *RateLimiter {
	l := &RateLimiter{rate: cfg.Rate, burst: float64(cfg.Burst), maxEntries: cfg.MaxEntries, now: cfg.Now}
	if l.rate <= 0 {
		l.rate = 200
	}
	if l.burst <= 0 {
		l.burst = 2 * l.rate
	}
	if l.burst < 1 {
		l.burst = 1
	}
	if l.maxEntries <= 0 {
		l.maxEntries = 65536
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.idle = time.Duration(l.burst / l.rate * float64(time.Second))
	if l.idle < time.Second {
		l.idle = time.Second
	}
	l.buckets = make(map[netip.Prefix]*rateBucket)
	l.overflow.tokens = l.burst
	return l
}

// Allow takes one token from ip's bucket and reports whether there was one.
func (l *RateLimiter) Allow(ip netip.Addr) bool {
	key := banKey(ip)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		l.maybeSweep(now)
		if len(l.buckets) >= l.maxEntries {
			b = &l.overflow
		} else {
			b = &rateBucket{tokens: l.burst, last: now}
			l.buckets[key] = b
		}
	}
	return l.take(b, now)
}

func (l *RateLimiter) take(b *rateBucket, now time.Time) bool {
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens += dt.Seconds() * l.rate
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// maybeSweep drops buckets idle long enough to be full again, at most once per idle
// period, or once a second while the table is full. Caller holds l.mu.
func (l *RateLimiter) maybeSweep(now time.Time) {
	since := now.Sub(l.lastSweep)
	if since < l.idle && (len(l.buckets) < l.maxEntries || since < time.Second) {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.idle {
			delete(l.buckets, k)
		}
	}
}

// len is the number of tracked sources (tests).
func (l *RateLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
