package sipedge

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestBanlist(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name string
		cfg  BanConfig
		// steps: a failure ("f"), a wait ("w<duration>"), then whether lo is banned.
		steps []string
		want  bool
	}{
		{"nine failures", BanConfig{}, repeat("f", 9), false},
		{"ten failures", BanConfig{}, repeat("f", 10), true},
		{"loopback is not exempt", BanConfig{MaxFailures: 1}, []string{"f"}, true},
		{"window slides", BanConfig{}, append(append(repeat("f", 9), "w61s"), "f"), false},
		{"window slides partly", BanConfig{}, append(append(append(repeat("f", 5), "w30s"), repeat("f", 4)...), "w31s", "f", "f", "f", "f", "f"), false},
		{"within window", BanConfig{}, append(append(repeat("f", 5), "w59s"), repeat("f", 5)...), true},
		{"ban lasts", BanConfig{}, append(repeat("f", 10), "w9m59s"), true},
		{"ban ends", BanConfig{}, append(repeat("f", 10), "w10m"), false},
		{"counting restarts after a ban", BanConfig{}, append(append(repeat("f", 10), "w10m"), repeat("f", 9)...), false},
		{"custom", BanConfig{MaxFailures: 3, Window: time.Second, BanTime: time.Hour}, []string{"f", "f", "w1s", "f", "f", "f", "w59m"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			tt.cfg.Now = clock.Now
			b := NewBanlist(tt.cfg)
			for _, s := range tt.steps {
				if s == "f" {
					b.Failure(lo)
					continue
				}
				d, err := time.ParseDuration(s[1:])
				if err != nil {
					t.Fatal(err)
				}
				clock.Advance(d)
			}
			if got := b.Banned(lo); got != tt.want {
				t.Errorf("Banned = %v, want %v", got, tt.want)
			}
			if other := netip.MustParseAddr("192.0.2.1"); b.Banned(other) {
				t.Error("an innocent address is banned")
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestBanlistKeys(t *testing.T) {
	clock := newTestClock()
	b := NewBanlist(BanConfig{MaxFailures: 2, Now: clock.Now})
	// IPv6: the /64 is one source.
	b.Failure(netip.MustParseAddr("2001:db8:1:2::1"))
	if !b.Failure(netip.MustParseAddr("2001:db8:1:2:ffff::9")) {
		t.Error("second failure in the /64 did not ban")
	}
	if !b.Banned(netip.MustParseAddr("2001:db8:1:2::42")) || b.Banned(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Error("IPv6 ban is not the /64")
	}
	// IPv4-mapped IPv6 is the IPv4 address.
	b.Failure(netip.MustParseAddr("::ffff:192.0.2.7"))
	b.Failure(netip.MustParseAddr("192.0.2.7"))
	if !b.Banned(netip.MustParseAddr("192.0.2.7")) || !b.Banned(netip.MustParseAddr("::ffff:192.0.2.7")) {
		t.Error("mapped and plain IPv4 are not one source")
	}
	// The zero address is never tracked.
	b.Failure(netip.Addr{})
	b.Failure(netip.Addr{})
	if b.Banned(netip.Addr{}) {
		t.Error("zero address banned")
	}

	list := b.List()
	if len(list) != 2 || list[0].Prefix.String() != "192.0.2.7/32" || list[1].Prefix.String() != "2001:db8:1:2::/64" || list[0].Failures != 2 {
		t.Fatalf("List = %+v", list)
	}
	if !list[0].Until.Equal(clock.Now().Add(10 * time.Minute)) {
		t.Errorf("Until = %v", list[0].Until)
	}
	b.Unban(netip.MustParseAddr("192.0.2.7"))
	if b.Banned(netip.MustParseAddr("192.0.2.7")) || len(b.List()) != 1 {
		t.Error("Unban did not lift the ban")
	}
}

func TestBanlistBounded(t *testing.T) {
	clock := newTestClock()
	b := NewBanlist(BanConfig{MaxFailures: 2, MaxEntries: 4, Now: clock.Now})
	addr := func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i)) }
	b.Failure(addr(1))
	b.Failure(addr(1)) // banned
	for i := 2; i < 50; i++ {
		b.Failure(addr(i))
		if n := b.len(); n > 4 {
			t.Fatalf("%d entries tracked, bound is 4", n)
		}
	}
	if !b.Banned(addr(1)) {
		t.Error("a live ban was evicted")
	}
	// After the window and the ban, a sweep empties the table.
	clock.Advance(11 * time.Minute)
	b.Failure(addr(100))
	if n := b.len(); n != 1 {
		t.Errorf("%d entries after the sweep, want 1", n)
	}
}

func BenchmarkBanned(b *testing.B) {
	bl := NewBanlist(BanConfig{})
	ip := netip.MustParseAddr("192.0.2.1")
	bl.Failure(ip)
	b.ReportAllocs()
	for b.Loop() {
		bl.Banned(ip)
	}
}
