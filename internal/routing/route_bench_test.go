package routing

import (
	"testing"
	"time"
)

// BenchmarkRouteOutbound: an extension dialing a national number through the UK rules
// (dial plan, permission check, rule order, two routes with caller-ID policy).
func BenchmarkRouteOutbound(b *testing.B) {
	s := ukSnapshot()
	req := Request{FromExtension: "1002", Dialed: "020 7946 0000", Now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if d := s.Route(req); d.RejectCode != 0 {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkRouteInbound: a DID on a trunk through inbound rules with a schedule to a
// ring group.
func BenchmarkRouteInbound(b *testing.B) {
	s := ukSnapshot()
	req := Request{FromTrunk: "primary", Dialed: "+442071234502", CallerNumber: "+441311234567",
		Now: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if d := s.Route(req); d.RejectCode != 0 {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkRouteInternal: extension to extension, the common case.
func BenchmarkRouteInternal(b *testing.B) {
	s := ukSnapshot()
	req := Request{FromExtension: "1001", Dialed: "2001"}
	b.ReportAllocs()
	for b.Loop() {
		if d := s.Route(req); d.RejectCode != 0 {
			b.Fatal(d.Reason)
		}
	}
}
