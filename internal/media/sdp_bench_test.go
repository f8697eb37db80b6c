package media

import (
	"net/netip"
	"os"
	"testing"
)

// BenchmarkRewriteSDP: one offer rewritten towards the other leg, as call control does
// for every INVITE, re-INVITE and answer.
func BenchmarkRewriteSDP(b *testing.B) {
	body, err := os.ReadFile("testdata/baresip-offer.sdp")
	if err != nil {
		b.Fatal(err)
	}
	relay := netip.MustParseAddrPort("203.0.113.10:40000")
	origin := NewOrigin()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := RewriteSDP(body, relay, CodecFilter{"PCMU", "PCMA"}, origin); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseSDP: reading the peer's media address and codecs.
func BenchmarkParseSDP(b *testing.B) {
	body, err := os.ReadFile("testdata/sipp-uas-answer.sdp")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSDP(body); err != nil {
			b.Fatal(err)
		}
	}
}
