package sipedge

import (
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestAdmitTrusted(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	bans := NewBanlist(BanConfig{MaxFailures: 1, Now: clock})
	limit := NewRateLimiter(RateLimitConfig{Rate: 1, Burst: 1, Now: clock})
	trunkIP := netip.MustParseAddr("127.0.0.3")
	trusted := func(_ *sip.Request, src netip.Addr) bool { return src == trunkIP }
	passed := 0
	h := admit(bans, limit, trusted, func(*sip.Request, sip.ServerTransaction) error { passed++; return nil })
	req := func(src string) *sip.Request {
		r := sip.NewRequest(sip.OPTIONS, sip.Uri{Host: "127.0.0.1"})
		r.SetSource(src)
		return r
	}
	bans.Failure(trunkIP) // a trunk address is never banned in effect
	for i := range 50 {
		if err := h(req("127.0.0.3:5060"), nil); err != nil {
			t.Fatalf("trunk request %d dropped: %v", i, err)
		}
	}
	if err := h(req("127.0.0.9:5060"), nil); err != nil {
		t.Fatalf("first request of an untrusted source dropped: %v", err)
	}
	if err := h(req("127.0.0.9:5060"), nil); err != errDrop {
		t.Fatalf("untrusted source over its rate: %v, want errDrop", err)
	}
	bans.Failure(netip.MustParseAddr("127.0.0.8"))
	if err := h(req("127.0.0.8:5060"), nil); err != errDrop {
		t.Fatalf("banned untrusted source: %v, want errDrop", err)
	}
	if passed != 51 {
		t.Fatalf("%d requests passed, want 51", passed)
	}
}
