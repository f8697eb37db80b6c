package sqlite

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

// The write benchmarks run against a file database (WAL, synchronous=NORMAL), as
// Trunkline does in production, not :memory:.

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "trunkline.db"))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchBinding(aor int) model.Binding {
	return model.Binding{
		AOR: fmt.Sprintf("%d", 100000+aor), Contact: fmt.Sprintf("sip:%d@192.0.2.10:5062;transport=udp", 100000+aor),
		Source: "192.0.2.10:5062", Transport: "udp", Expires: time.Now().Add(time.Hour),
		CallID: "reg-call-id-0123456789abcdef", CSeq: 42, UserAgent: "Linphone/5.2", Q: 0.8,
	}
}

// BenchmarkPutBinding is one registrar re-registering 1000 users in turn, one
// REGISTER at a time.
func BenchmarkPutBinding(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	const users = 1000
	bs := make([]model.Binding, users)
	for i := range bs {
		bs[i] = benchBinding(i)
		if err := s.PutBinding(ctx, bs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		bn := bs[i%users]
		bn.CSeq = uint32(i)
		if err := s.PutBinding(ctx, bn); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutBindingParallel is many REGISTERs at once (b.RunParallel, 16
// goroutines per CPU: the registrar serves each request on its own goroutine):
// "distinct" gives every call a new AOR (initial registrations), "same" refreshes
// the same 8 AORs over and over.
func BenchmarkPutBindingParallel(b *testing.B) {
	b.Run("distinct", func(b *testing.B) {
		s := benchStore(b)
		ctx := b.Context()
		var n atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.PutBinding(ctx, benchBinding(int(n.Add(1)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("same", func(b *testing.B) {
		s := benchStore(b)
		ctx := b.Context()
		var n atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				bn := benchBinding(int(i % 8))
				bn.CSeq = uint32(i)
				if err := s.PutBinding(ctx, bn); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func benchCDR(i int) model.CDR {
	start := time.Now().Add(-time.Minute)
	answer := start.Add(3 * time.Second)
	return model.CDR{
		CallID: fmt.Sprintf("call-%d@192.0.2.10", i), Caller: "1001", Callee: "+442071234567",
		Direction: "outbound", Trunk: "acme", StartTime: start, AnswerTime: &answer,
		EndTime: start.Add(65 * time.Second), Duration: 65, BillSec: 62,
		Disposition: model.DispAnswered, HangupBy: model.PartyCallee, HangupCause: "BYE",
		SIPCode: 200, RTPCallerToCallee: 3100, RTPCalleeToCaller: 3099,
	}
}

// BenchmarkInsertCDR is calls ending one after the other.
func BenchmarkInsertCDR(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := benchCDR(i)
		if err := s.InsertCDR(ctx, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInsertCDRParallel is many calls ending at once.
func BenchmarkInsertCDRParallel(b *testing.B) {
	s := benchStore(b)
	ctx := b.Context()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := benchCDR(int(n.Add(1)))
			if err := s.InsertCDR(ctx, &c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
