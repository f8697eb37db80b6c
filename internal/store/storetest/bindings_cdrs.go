package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

func testBindingUpsert(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)
	b := binding("1001", "sip:1001@192.0.2.10:5062", exp)
	if err := putBinding(ctx, s, b); err != nil {
		t.Fatalf("PutBinding: %v", err)
	}
	// Same key: replaced, not added.
	b2 := b
	b2.Source, b2.Transport, b2.CSeq, b2.Expires = "198.51.100.7:40000", "tcp", 43, exp.Add(time.Minute)
	b2.UserAgent, b2.Q = "", 0.5
	if err := putBinding(ctx, s, b2); err != nil {
		t.Fatalf("PutBinding again: %v", err)
	}
	// Another contact of the same AOR: added.
	b3 := binding("1001", "sip:1001@192.0.2.11:5060", exp)
	if err := putBinding(ctx, s, b3); err != nil {
		t.Fatalf("PutBinding second contact: %v", err)
	}
	list, err := s.ListBindings(ctx)
	if err != nil {
		t.Fatalf("ListBindings: %v", err)
	}
	if len(list) != 2 {
		t.Fatalf("ListBindings = %d bindings; want 2", len(list))
	}
	checkBinding(t, list[0], b2) // ordered by contact within an AOR
	checkBinding(t, list[1], b3)
}

func testBindingDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	for _, b := range []model.Binding{
		binding("1001", "sip:a@192.0.2.1", exp),
		binding("1001", "sip:b@192.0.2.2", exp),
		binding("1002", "sip:c@192.0.2.3", exp),
	} {
		if err := putBinding(ctx, s, b); err != nil {
			t.Fatalf("PutBinding: %v", err)
		}
	}
	// A set not marked Removed is merged: its bindings are added or updated, the
	// others stay.
	b2 := binding("1001", "sip:b@192.0.2.2", exp.Add(time.Minute))
	b4 := binding("1003", "sip:d@192.0.2.4", exp)
	if err := s.SaveBindings(ctx, []model.AORBindings{
		{AOR: "1001", Bindings: []model.Binding{b2}},
		{AOR: "1003", Bindings: []model.Binding{b4}},
	}); err != nil {
		t.Fatalf("SaveBindings: %v", err)
	}
	checkContacts(t, s, "sip:a@192.0.2.1", "sip:b@192.0.2.2", "sip:c@192.0.2.3", "sip:d@192.0.2.4")
	list, err := s.ListBindings(ctx)
	if err != nil {
		t.Fatalf("ListBindings: %v", err)
	}
	checkBinding(t, list[1], b2)
	// A set marked Removed replaces: what is not in it goes, and the AORs not named
	// stay alone.
	if err := s.SaveBindings(ctx, []model.AORBindings{{AOR: "1001", Bindings: []model.Binding{b2}, Removed: true}}); err != nil {
		t.Fatalf("SaveBindings (replace): %v", err)
	}
	checkContacts(t, s, "sip:b@192.0.2.2", "sip:c@192.0.2.3", "sip:d@192.0.2.4")
	// An empty replacing set removes every binding of its AOR; an AOR without
	// bindings is fine.
	if err := s.SaveBindings(ctx, []model.AORBindings{{AOR: "1001", Removed: true}, {AOR: "1003", Removed: true}, {AOR: "9999", Removed: true}}); err != nil {
		t.Fatalf("SaveBindings with empty sets: %v", err)
	}
	if err := s.SaveBindings(ctx, nil); err != nil {
		t.Fatalf("SaveBindings(nil): %v", err)
	}
	checkContacts(t, s, "sip:c@192.0.2.3")
}

func testBindingExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, b := range []model.Binding{
		binding("1001", "sip:past@192.0.2.1", now.Add(-time.Second)),
		binding("1001", "sip:now@192.0.2.2", now),
		binding("1002", "sip:future@192.0.2.3", now.Add(time.Nanosecond)),
	} {
		if err := putBinding(ctx, s, b); err != nil {
			t.Fatalf("PutBinding: %v", err)
		}
	}
	n, err := s.DeleteExpiredBindings(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredBindings = %d, %v; want 2 (expires <= now)", n, err)
	}
	checkContacts(t, s, "sip:future@192.0.2.3")
	if n, err := s.DeleteExpiredBindings(ctx, now); err != nil || n != 0 {
		t.Fatalf("DeleteExpiredBindings again = %d, %v; want 0", n, err)
	}
}

func testCDRRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	answered := cdr("answered")
	unanswered := cdr("unanswered")
	unanswered.AnswerTime, unanswered.BillSec, unanswered.Disposition = nil, 0, model.DispBusy
	unanswered.Trunk, unanswered.RTPCallerToCallee, unanswered.RTPCalleeToCaller = "", 0, 0
	unanswered.ID = 999 // ignored
	for _, c := range []*model.CDR{&answered, &unanswered} {
		if err := s.InsertCDR(ctx, c); err != nil {
			t.Fatalf("InsertCDR: %v", err)
		}
	}
	if answered.ID <= 0 || unanswered.ID <= answered.ID {
		t.Fatalf("InsertCDR IDs = %d, %d; want positive and increasing", answered.ID, unanswered.ID)
	}
	list, err := s.ListCDRs(ctx, store.CDRQuery{})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListCDRs = %d CDRs, %v; want 2", len(list), err)
	}
	checkCDR(t, list[0], unanswered)
	checkCDR(t, list[1], answered)
}

func testCDRPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	var ids []int64
	for i := range 7 {
		c := cdr(fmt.Sprintf("call-%d", i))
		if err := s.InsertCDR(ctx, &c); err != nil {
			t.Fatalf("InsertCDR: %v", err)
		}
		ids = append(ids, c.ID)
	}
	// Walk the pages as a client does: next BeforeID = last ID of the page.
	var walked []int64
	before := int64(0)
	for page := 0; ; page++ {
		list, err := s.ListCDRs(ctx, store.CDRQuery{Limit: 3, BeforeID: before})
		if err != nil {
			t.Fatalf("ListCDRs: %v", err)
		}
		if len(list) > 3 {
			t.Fatalf("ListCDRs page %d has %d CDRs; want <= 3", page, len(list))
		}
		if len(list) == 0 {
			break
		}
		walked = append(walked, cdrIDs(list)...)
		before = list[len(list)-1].ID
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	want := make([]int64, 0, len(ids))
	for i := len(ids) - 1; i >= 0; i-- {
		want = append(want, ids[i])
	}
	if fmt.Sprint(walked) != fmt.Sprint(want) {
		t.Fatalf("paged IDs = %v; want %v (newest first, each once)", walked, want)
	}
	list, err := s.ListCDRs(ctx, store.CDRQuery{BeforeID: ids[0]})
	if err != nil || len(list) != 0 {
		t.Fatalf("ListCDRs before the oldest = %v, %v; want none", cdrIDs(list), err)
	}
}

func testCDRLimits(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 55 {
		c := cdr(fmt.Sprintf("call-%d", i))
		if err := s.InsertCDR(ctx, &c); err != nil {
			t.Fatalf("InsertCDR: %v", err)
		}
	}
	for _, tc := range []struct {
		limit, want int
	}{{0, 50}, {-1, 50}, {10, 10}, {1000, 55}, {5000, 55}} {
		list, err := s.ListCDRs(ctx, store.CDRQuery{Limit: tc.limit})
		if err != nil || len(list) != tc.want {
			t.Errorf("ListCDRs(Limit %d) = %d CDRs, %v; want %d", tc.limit, len(list), err, tc.want)
		}
	}
}

// testConcurrent writes from several goroutines at once, as the registrar, the
// call layer and the API do.
func testConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				c := cdr(fmt.Sprintf("w%d-%d", w, i))
				if err := s.InsertCDR(ctx, &c); err != nil {
					errs <- err
				}
				n := fmt.Sprintf("%d%02d", w+1, i)
				e := model.Extension{Number: n, Password: "secret1"}
				if err := s.CreateExtension(ctx, &e); err != nil {
					errs <- err
				}
				if err := putBinding(ctx, s, binding(n, "sip:"+n+"@192.0.2.1",
					time.Now().Add(time.Hour))); err != nil {
					errs <- err
				}
				if _, err := s.ListCDRs(ctx, store.CDRQuery{Limit: 5}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	list, err := s.ListCDRs(ctx, store.CDRQuery{Limit: 1000})
	if err != nil || len(list) != workers*each {
		t.Fatalf("ListCDRs = %d CDRs, %v; want %d", len(list), err, workers*each)
	}
	seen := map[int64]bool{}
	for _, c := range list {
		if seen[c.ID] {
			t.Fatalf("CDR ID %d appears twice", c.ID)
		}
		seen[c.ID] = true
	}
	exts, err := s.ListExtensions(ctx)
	if err != nil || len(exts) != workers*each {
		t.Fatalf("ListExtensions = %d, %v; want %d", len(exts), err, workers*each)
	}
}

// testConcurrentHotWrites runs the registrar's and the call manager's writes from
// many goroutines at once (a backend may commit them together): every write that
// returned nil is there, a replacement wins over the puts before it, and each CDR's ID
// is the ID it was stored under.
func testConcurrentHotWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, each = 32, 20
	exp := time.Now().Add(time.Hour)
	ids := make([][]int64, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*4)
	for w := range workers {
		wg.Go(func() {
			aor := fmt.Sprintf("%d", 2000+w)
			for i := range each {
				if err := putBinding(ctx, s, binding(aor, fmt.Sprintf("sip:%s-%d@192.0.2.1", aor, i), exp)); err != nil {
					errs <- err
				}
				if i%4 == 3 { // keep only this contact: the others go
					if err := s.SaveBindings(ctx, []model.AORBindings{{AOR: aor, Removed: true,
						Bindings: []model.Binding{binding(aor, fmt.Sprintf("sip:%s-%d@192.0.2.1", aor, i), exp)}}}); err != nil {
						errs <- err
					}
				}
				c := cdr(fmt.Sprintf("hot-%d-%d", w, i))
				if err := s.InsertCDR(ctx, &c); err != nil {
					errs <- err
				}
				ids[w] = append(ids[w], c.ID)
			}
			if w%8 == 7 { // and a few AORs unregister everything
				if err := s.SaveBindings(ctx, []model.AORBindings{{AOR: aor, Removed: true}}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}
	list, err := s.ListBindings(ctx)
	if err != nil {
		t.Fatalf("ListBindings: %v", err)
	}
	perAOR := map[string]int{}
	for _, b := range list {
		perAOR[b.AOR]++
	}
	for w := range workers {
		aor, want := fmt.Sprintf("%d", 2000+w), 1 // the last write (i = 19) kept one
		if w%8 == 7 {
			want = 0
		}
		if perAOR[aor] != want {
			t.Errorf("AOR %s has %d bindings; want %d", aor, perAOR[aor], want)
		}
	}
	cdrs, err := s.ListCDRs(ctx, store.CDRQuery{Limit: 1000})
	if err != nil || len(cdrs) != workers*each {
		t.Fatalf("ListCDRs = %d CDRs, %v; want %d", len(cdrs), err, workers*each)
	}
	byID := map[int64]string{}
	for _, c := range cdrs {
		byID[c.ID] = c.CallID
	}
	for w := range workers {
		for i, id := range ids[w] {
			if want := fmt.Sprintf("hot-%d-%d", w, i); byID[id] != want {
				t.Errorf("InsertCDR %s set ID %d, which is stored as %q", want, id, byID[id])
			}
		}
	}
}
