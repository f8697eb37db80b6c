package sipedge

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	clock := newTestClock()
	l := NewRateLimiter(RateLimitConfig{Rate: 10, Burst: 5, Now: clock.Now})
	a, b := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.1")
	allowed := func(ip netip.Addr, n int) int {
		k := 0
		for range n {
			if l.Allow(ip) {
				k++
			}
		}
		return k
	}
	if got := allowed(a, 20); got != 5 {
		t.Errorf("burst: %d allowed, want 5", got)
	}
	if got := allowed(b, 20); got != 5 {
		t.Errorf("other source: %d allowed, want its own 5", got)
	}
	clock.Advance(300 * time.Millisecond) // 3 tokens
	if got := allowed(a, 20); got != 3 {
		t.Errorf("refill: %d allowed, want 3", got)
	}
	clock.Advance(time.Hour) // capped at the burst
	if got := allowed(a, 20); got != 5 {
		t.Errorf("after idle: %d allowed, want 5", got)
	}
	// Sustained: 10/s over 10 s, sending 100/s.
	got := 0
	for range 100 {
		clock.Advance(10 * time.Millisecond)
		got += allowed(a, 1)
	}
	if got < 9 || got > 11 {
		t.Errorf("sustained: %d allowed in 1 s, want about 10", got)
	}
	// An IPv6 /64 shares a bucket.
	if allowed(netip.MustParseAddr("2001:db8::1"), 5)+allowed(netip.MustParseAddr("2001:db8::2"), 5) != 5 {
		t.Error("IPv6 /64 has more than one bucket")
	}
}

func TestRateLimiterDefaults(t *testing.T) {
	l := NewRateLimiter(RateLimitConfig{})
	if l.rate != 200 || l.burst != 400 || l.maxEntries != 65536 {
		t.Errorf("defaults %v %v %v", l.rate, l.burst, l.maxEntries)
	}
}

func TestRateLimiterBounded(t *testing.T) {
	clock := newTestClock()
	l := NewRateLimiter(RateLimitConfig{Rate: 1, Burst: 2, MaxEntries: 10, Now: clock.Now})
	addr := func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", i/256, i%256)) }
	// 100 sources: 10 get buckets, the rest share the overflow bucket (burst 2).
	ok := 0
	for i := range 100 {
		if l.Allow(addr(i)) {
			ok++
		}
	}
	if n := l.len(); n != 10 {
		t.Errorf("%d buckets, bound is 10", n)
	}
	if ok != 12 {
		t.Errorf("%d allowed, want 10 own buckets + 2 overflow", ok)
	}
	// Idle buckets (full again after Burst/Rate = 2 s) are purged.
	clock.Advance(3 * time.Second)
	if !l.Allow(addr(500)) {
		t.Error("new source refused after purge")
	}
	if n := l.len(); n != 1 {
		t.Errorf("%d buckets after purge, want 1", n)
	}
}

func BenchmarkRateLimiterAllow(b *testing.B) {
	l := NewRateLimiter(RateLimitConfig{Rate: 1e9, Burst: 1e9})
	ip := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(ip)
	}
}
