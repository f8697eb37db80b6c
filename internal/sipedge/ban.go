package sipedge

import (
	"net/netip"
	"slices"
	"sync"
	"time"
)

// BanConfig configures a Banlist. Zero values mean the defaults.
type BanConfig struct {
	// MaxFailures within Window ban the source; 0 = 10.
	MaxFailures int
	// Window is the sliding window failures are counted in; 0 = 60 s.
	Window time.Duration
	// BanTime is how long a ban lasts; 0 = 10 min.
	BanTime time.Duration
	// MaxEntries bounds the sources tracked (failing or banned); 0 = 65536. When the
	// table is full of live entries, a failure from a new source evicts one that is
	// counting but not banned; if all are banned, the new failure is not counted.
	MaxEntries int
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Ban is one banned source, as listed for the API.
type Ban struct {
	// Prefix is the banned source: an IPv4 /32 or an IPv6 /64.
	Prefix netip.Prefix `json:"prefix"`
	// Until is when the ban ends.
	Until time.Time `json:"until"`
	// Failures is the number of failures that triggered it.
	Failures int `json:"failures"`
}

// Banlist counts authentication failures per source and bans sources that fail too
// often (svcrack, research §1: "20+ failed auths per minute from one IP"). A ban
// applies to an IPv4 address, or to the whole /64 of an IPv6 address (one subscriber
// holds a /64 and could rotate through it). Loopback is not exempt. Safe for
// concurrent use; Banned is a read lock and a map lookup.
type Banlist struct {
	maxFailures int
	window      time.Duration
	banTime     time.Duration
	maxEntries  int
	now         func() time.Time

	mu        sync.RWMutex
	entries   map[netip.Prefix]*banEntry
	lastSweep time.Time
}

type banEntry struct {
	failures []time.Time // within the window, oldest first; at most maxFailures
	until    time.Time   // banned until; zero = not banned
	count    int         // failures that triggered the ban
}

// NewBanlist returns an empty Banlist.
func NewBanlist(cfg BanConfig) *Banlist {
	b := &Banlist{
		maxFailures: cfg.MaxFailures,
		window:      cfg.Window,
		banTime:     cfg.BanTime,
		maxEntries:  cfg.MaxEntries,
		now:         cfg.Now,
		entries:     make(map[netip.Prefix]*banEntry),
	}
	if b.maxFailures <= 0 {
		b.maxFailures = 10
	}
	if b.window <= 0 {
		b.window = time.Minute
	}
	if b.banTime <= 0 {
		b.banTime = 10 * time.Minute
	}
	if b.maxEntries <= 0 {
		b.maxEntries = 65536
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// banKey maps an address to what a ban covers: IPv4 (also IPv4-mapped IPv6) /32,
// IPv6 /64. The zero Addr maps to the zero Prefix.
func banKey(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.Prefix(64)
	return p
}

// Failure counts one failure from ip and reports whether ip is now banned.
func (b *Banlist) Failure(ip netip.Addr) bool {
	key := banKey(ip)
	if !key.IsValid() {
		return false
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maybeSweep(now)
	e := b.entries[key]
	if e == nil {
		if len(b.entries) >= b.maxEntries && !b.evict(now) {
			return false
		}
		e = &banEntry{}
		b.entries[key] = e
	}
	if now.Before(e.until) {
		return true
	}
	e.until = time.Time{}
	e.failures = banTrim(e.failures, now.Add(-b.window))
	if len(e.failures) == b.maxFailures {
		e.failures = append(e.failures[:0], e.failures[1:]...)
	}
	e.failures = append(e.failures, now)
	if len(e.failures) >= b.maxFailures {
		e.until = now.Add(b.banTime)
		e.count = len(e.failures)
		e.failures = e.failures[:0]
		return true
	}
	return false
}

// Banned reports whether ip is banned now.
func (b *Banlist) Banned(ip netip.Addr) bool {
	key := banKey(ip)
	now := b.now()
	b.mu.RLock()
	e := b.entries[key]
	banned := e != nil && now.Before(e.until)
	b.mu.RUnlock()
	return banned
}

// Unban lifts the ban on ip (its /64 for IPv6) and forgets its failures.
func (b *Banlist) Unban(ip netip.Addr) {
	b.mu.Lock()
	delete(b.entries, banKey(ip))
	b.mu.Unlock()
}

// List returns the current bans, soonest to end first.
func (b *Banlist) List() []Ban {
	now := b.now()
	b.mu.RLock()
	var out []Ban
	for k, e := range b.entries {
		if now.Before(e.until) {
			out = append(out, Ban{Prefix: k, Until: e.until, Failures: e.count})
		}
	}
	b.mu.RUnlock()
	slices.SortFunc(out, func(x, y Ban) int {
		if c := x.Until.Compare(y.Until); c != 0 {
			return c
		}
		return x.Prefix.Addr().Compare(y.Prefix.Addr())
	})
	return out
}

// len is the number of tracked sources (tests).
func (b *Banlist) len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.entries)
}

// maybeSweep drops entries with neither a live ban nor a failure in the window, at
// most once per window, or once a second while the table is full. Caller holds b.mu.
func (b *Banlist) maybeSweep(now time.Time) {
	since := now.Sub(b.lastSweep)
	if since < b.window && (len(b.entries) < b.maxEntries || since < time.Second) {
		return
	}
	b.lastSweep = now
	cutoff := now.Add(-b.window)
	for k, e := range b.entries {
		if now.Before(e.until) {
			continue
		}
		e.failures = banTrim(e.failures, cutoff)
		if len(e.failures) == 0 {
			delete(b.entries, k)
		}
	}
}

// evict removes one entry that is not banned, making room; false if all are banned.
// Caller holds b.mu.
func (b *Banlist) evict(now time.Time) bool {
	for k, e := range b.entries {
		if !now.Before(e.until) {
			delete(b.entries, k)
			return true
		}
	}
	return false
}

// banTrim drops failures at or before cutoff from the sorted slice, in place.
func banTrim(fs []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(fs) && !fs[i].After(cutoff) {
		i++
	}
	if i == 0 {
		return fs
	}
	return append(fs[:0], fs[i:]...)
}
