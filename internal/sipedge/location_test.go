package sipedge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

func newTestLocation(t testing.TB) (*Location, *testStore, *testClock) {
	st, clock := newTestStore(), newTestClock()
	l := NewLocation(st, nil)
	l.now = clock.Now
	return l, st, clock
}

func TestLocationLookupOrder(t *testing.T) {
	l, _, clock := newTestLocation(t)
	reg := func(callID string, cseq uint32, cs ...ContactUpdate) {
		t.Helper()
		if _, err := l.Register(Registration{AOR: "1001", CallID: callID, CSeq: cseq, Contacts: cs}); err != nil {
			t.Fatal(err)
		}
	}
	reg("a", 1, ContactUpdate{Contact: "sip:old@192.0.2.1", Expires: time.Hour, Q: 1})
	clock.Advance(time.Second)
	reg("b", 1, ContactUpdate{Contact: "sip:new@192.0.2.2", Expires: time.Hour, Q: 1})
	reg("c", 1, ContactUpdate{Contact: "sip:low@192.0.2.3", Expires: time.Hour, Q: 0.1})
	reg("d", 1, ContactUpdate{Contact: "sip:short@192.0.2.4", Expires: time.Minute, Q: 1})

	var got []string
	for _, b := range l.Lookup("1001") {
		got = append(got, b.Contact)
	}
	want := fmt.Sprint([]string{"sip:new@192.0.2.2", "sip:short@192.0.2.4", "sip:old@192.0.2.1", "sip:low@192.0.2.3"})
	if fmt.Sprint(got) != want {
		t.Errorf("Lookup order %v, want %v", got, want)
	}
	clock.Advance(time.Minute)
	if n := len(l.Lookup("1001")); n != 3 {
		t.Errorf("%d bindings after one expired, want 3", n)
	}
	if l.Lookup("nobody") != nil {
		t.Error("Lookup of an unknown AOR returned bindings")
	}
	// Lookup returns a copy.
	l.Lookup("1001")[0].Contact = "sip:mutated@x"
	if l.Lookup("1001")[0].Contact == "sip:mutated@x" {
		t.Error("Lookup shares its slice")
	}
}

func TestLocationSweepAndRemove(t *testing.T) {
	l, st, clock := newTestLocation(t)
	ctx := t.Context()
	for _, aor := range []string{"1001", "1002"} {
		if _, err := l.Register(Registration{AOR: aor, CallID: aor, CSeq: 1, Contacts: []ContactUpdate{{Contact: "sip:" + aor + "@192.0.2.1", Expires: time.Minute, Q: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Register(Registration{AOR: "1002", CallID: "x", CSeq: 1, Contacts: []ContactUpdate{{Contact: "sip:long@192.0.2.1", Expires: time.Hour, Q: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st.len() != 3 {
		t.Errorf("after flush: store %d, want 3", st.len())
	}
	clock.Advance(2 * time.Minute)
	l.Sweep(ctx)
	if st.len() != 1 || len(l.Bindings()) != 1 {
		t.Errorf("after sweep: store %d, memory %d, want 1", st.len(), len(l.Bindings()))
	}
	l.mu.RLock()
	_, kept := l.aors["1001"]
	l.mu.RUnlock()
	if kept {
		t.Error("empty AOR kept in memory")
	}
	// A writer after the sweep recreates the AOR.
	if _, err := l.Register(Registration{AOR: "1001", CallID: "y", CSeq: 1, Contacts: []ContactUpdate{{Contact: "sip:again@192.0.2.1", Expires: time.Hour, Q: 1}}}); err != nil {
		t.Fatal(err)
	}
	if len(l.Lookup("1001")) != 1 {
		t.Error("AOR not recreated after sweep")
	}
	l.Remove("1002")
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(l.Lookup("1002")) != 0 || st.len() != 1 {
		t.Errorf("Remove left bindings: memory %d store %d", len(l.Lookup("1002")), st.len())
	}
}

func TestLocationRunStops(t *testing.T) {
	l, st, clock := newTestLocation(t)
	l.sweep = time.Millisecond
	if _, err := l.Register(Registration{AOR: "1001", CallID: "a", CSeq: 1, Contacts: []ContactUpdate{{Contact: "sip:a@192.0.2.1", Expires: time.Minute, Q: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for st.len() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if st.len() != 0 {
		t.Error("Run did not sweep")
	}
}

func TestLocationLoadError(t *testing.T) {
	l := NewLocation(failingList{}, nil)
	if err := l.Load(t.Context()); err == nil || !errors.Is(err, errTestList) {
		t.Errorf("Load = %v", err)
	}
}

var errTestList = errors.New("list failed")

type failingList struct{ nopStore }

func (failingList) ListBindings(context.Context) ([]model.Binding, error) { return nil, errTestList }

// TestLocationConcurrent exercises writers, readers and the sweeper together (-race).
func TestLocationConcurrent(t *testing.T) {
	l, _, clock := newTestLocation(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			aor := fmt.Sprint(1000 + w%3)
			for i := range 200 {
				exp := time.Minute
				if i%5 == 0 {
					exp = 0
				}
				_, err := l.Register(Registration{AOR: aor, CallID: fmt.Sprint(w), CSeq: uint32(i + 1),
					Contacts: []ContactUpdate{{Contact: fmt.Sprintf("sip:%d-%d@192.0.2.1", w, i%4), Expires: exp, Q: 1}}})
				if err != nil && !errors.Is(err, ErrTooManyContacts) {
					t.Error(err)
					return
				}
				l.Lookup(aor)
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				l.Sweep(ctx)
				l.Bindings()
				clock.Advance(time.Second)
			}
		}()
	}
	wg.Wait()
}

// TestLocationFlush: changes reach the store only when flushed, an AOR changed many
// times is written once, a failed flush keeps its AORs for the next one, and Run
// flushes on its interval and once more when stopped.
func TestLocationFlush(t *testing.T) {
	l, st, _ := newTestLocation(t)
	ctx := t.Context()
	reg := func(aor string, cseq uint32, contact string, exp time.Duration) {
		t.Helper()
		if _, err := l.Register(Registration{AOR: aor, CallID: aor, CSeq: cseq,
			Contacts: []ContactUpdate{{Contact: contact, Expires: exp, Q: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		reg("1001", uint32(i+1), "sip:a@192.0.2.1", time.Minute)
	}
	reg("1002", 1, "sip:b@192.0.2.2", time.Minute)
	if st.len() != 0 {
		t.Fatalf("store has %d bindings before a flush", st.len())
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st.len() != 2 || st.writes != 1 {
		t.Fatalf("after one flush: %d bindings in %d writes; want 2 in 1", st.len(), st.writes)
	}
	st.mu.Lock()
	got := st.m[[2]string{"1001", "sip:a@192.0.2.1"}]
	st.mu.Unlock()
	if got.CSeq != 5 {
		t.Errorf("stored CSeq %d; want the last one, 5", got.CSeq)
	}
	if err := l.Flush(ctx); err != nil || st.writes != 1 {
		t.Errorf("a flush with nothing changed wrote (%v, writes %d)", err, st.writes)
	}

	// Unregister fails to reach the store, then succeeds at the next flush.
	reg("1002", 2, "sip:b@192.0.2.2", 0)
	st.mu.Lock()
	st.fail = errors.New("disk full")
	st.mu.Unlock()
	if err := l.Flush(ctx); err == nil {
		t.Fatal("Flush hid the store error")
	}
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st.len() != 1 {
		t.Errorf("after the retried flush: %d bindings; want 1 (1002 unregistered)", st.len())
	}

	// Run flushes on its interval and at stop.
	l.FlushInterval = time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- l.Run(rctx) }()
	reg("1003", 1, "sip:c@192.0.2.3", time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for st.len() != 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st.len() != 2 {
		t.Errorf("Run did not flush: %d bindings", st.len())
	}
	cancel()
	<-done
	// Stopping Run flushes what its interval has not.
	l.FlushInterval = time.Hour
	rctx, cancel = context.WithCancel(ctx)
	go func() { done <- l.Run(rctx) }()
	reg("1004", 1, "sip:d@192.0.2.4", time.Minute)
	cancel()
	<-done
	if st.len() != 3 {
		t.Errorf("Run did not flush when stopped: %d bindings; want 3", st.len())
	}
}
