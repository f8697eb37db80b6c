package trunk

import (
	"time"
)

// Backoff computes jittered exponential retry delays. The n-th consecutive
// failure (n from 0) waits a delay drawn uniformly from [¾·b, b] where
// b = min(Max, Min·2ⁿ). The jitter only ever shortens the delay, so Max is a
// hard cap and trunks that failed together drift apart instead of retrying in
// lock step. Reset after a success. The zero value is not useful; the runtime
// fills Min and Max from [Config].
type Backoff struct {
	Min, Max time.Duration
	// failures counts consecutive failures since the last Reset.
	failures int
}

// jitterSpan is the fraction of the nominal delay that jitter may remove.
const jitterSpan = 0.25

// Next returns the delay before the next attempt and counts one more failure.
// r is a random number in [0, 1); values outside are clamped.
func (b *Backoff) Next(r float64) time.Duration {
	base := b.nominal(b.failures)
	if b.failures < 62 {
		b.failures++
	}
	r = min(max(r, 0), 1)
	d := time.Duration(float64(base) * (1 - jitterSpan*r))
	if d <= 0 {
		d = time.Millisecond // never a tight loop, whatever the configuration
	}
	return d
}

// Failures returns how many failures were counted since the last Reset.
func (b *Backoff) Failures() int { return b.failures }

// Reset forgets past failures: the next delay is back to Min.
func (b *Backoff) Reset() { b.failures = 0 }

// nominal returns min(Max, Min·2ⁿ) without overflowing.
func (b *Backoff) nominal(n int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Millisecond
	}
	if hi < lo {
		hi = lo
	}
	d := lo
	for i := 0; i < n && d < hi; i++ {
		if d > hi/2 {
			return hi
		}
		d *= 2
	}
	return min(d, hi)
}
