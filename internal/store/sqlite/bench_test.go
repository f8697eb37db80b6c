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

// BenchmarkSaveBindings is the location service's flush: every op writes the
// refreshed bindings of flush AORs in one transaction (merged, as for refreshes:
// nothing removed). ns/op is per flush; the row figure is per binding.
func BenchmarkSaveBindings(b *testing.B) {
	for _, flush := range []int{1, 100, 2500} {
		b.Run(fmt.Sprintf("aors-%d", flush), func(b *testing.B) {
			s := benchStore(b)
			ctx := b.Context()
			const users = 10000
			sets := make([]model.AORBindings, users)
			for i := range sets {
				bn := benchBinding(i)
				sets[i] = model.AORBindings{AOR: bn.AOR, Bindings: []model.Binding{bn}}
			}
			if err := s.SaveBindings(ctx, sets); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; b.Loop(); n++ {
				from := (n * flush) % users
				batch := sets[from:min(from+flush, users)]
				for i := range batch {
					batch[i].Bindings[0].CSeq++
				}
				if err := s.SaveBindings(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*flush), "ns/binding")
		})
	}
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
