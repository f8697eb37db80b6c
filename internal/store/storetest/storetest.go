// Package storetest is the conformance suite every store.Store backend must pass.
// A backend's own test calls Run (and RunReopen when it persists to a path); the
// suite pins the behaviour the rest of Trunkline relies on, including the parts
// store.go only implies: timestamps, ordering, idempotent binding deletes and CDR
// paging.
package storetest

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

// Run runs the suite. open must return a new, empty store each time it is called;
// the suite closes every store it opens.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ExtensionCRUD", testExtensionCRUD},
		{"ExtensionConflict", testExtensionConflict},
		{"ExtensionNotFound", testExtensionNotFound},
		{"ExtensionListOrder", testExtensionListOrder},
		{"ExtensionBatch", testExtensionBatch},
		{"ExtensionBatchDuplicate", testExtensionBatchDuplicate},
		{"ExtensionBatchConflict", testExtensionBatchConflict},
		{"ExtensionBatchEmpty", testExtensionBatchEmpty},
		{"BindingUpsert", testBindingUpsert},
		{"BindingDelete", testBindingDelete},
		{"BindingExpiry", testBindingExpiry},
		{"CDRRoundTrip", testCDRRoundTrip},
		{"CDRPaging", testCDRPaging},
		{"CDRLimits", testCDRLimits},
		{"Concurrent", testConcurrent},
		{"ConcurrentHotWrites", testConcurrentHotWrites},
		{"TrunkCRUD", testTrunkCRUD},
		{"TrunkConflict", testTrunkConflict},
		{"TrunkNotFound", testTrunkNotFound},
		{"TrunkDIDs", testTrunkDIDs},
		{"TrunkListOrder", testTrunkListOrder},
		{"TrunkConcurrentDIDs", testTrunkConcurrentDIDs},
		{"ExtensionPermissions", testExtensionPermissions},
		{"InboundRuleCRUD", testInboundRuleCRUD},
		{"InboundRuleTrunkReference", testInboundRuleTrunkReference},
		{"OutboundRuleCRUD", testOutboundRuleCRUD},
		{"RuleOrder", testRuleOrder},
		{"RingGroupCRUD", testRingGroupCRUD},
		{"DialPlan", testDialPlan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

// RunReopen checks that data survives Close and a new open of the same database.
// open is called twice with the same path (a file in a temporary directory; a
// backend that is not file-based may use it as a database key).
func RunReopen(t *testing.T, open func(t *testing.T, path string) store.Store) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "trunkline.db")

	s := open(t, path)
	ext := model.Extension{Number: "1001", Name: "Alice", Password: "secret1"}
	if err := s.CreateExtension(ctx, &ext); err != nil {
		t.Fatalf("CreateExtension: %v", err)
	}
	b := binding("1001", "sip:1001@192.0.2.10:5062", time.Now().Add(time.Hour))
	if err := putBinding(ctx, s, b); err != nil {
		t.Fatalf("PutBinding: %v", err)
	}
	tr := trunk("acme", "+13125550100")
	if err := s.CreateTrunk(ctx, &tr); err != nil {
		t.Fatalf("CreateTrunk: %v", err)
	}
	var ids []int64
	for i := range 3 {
		c := cdr(fmt.Sprintf("call-%d", i))
		if err := s.InsertCDR(ctx, &c); err != nil {
			t.Fatalf("InsertCDR: %v", err)
		}
		ids = append(ids, c.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	t.Cleanup(func() { s.Close() })
	got, err := s.GetExtension(ctx, "1001")
	if err != nil {
		t.Fatalf("GetExtension after reopen: %v", err)
	}
	checkExtension(t, got, ext)
	gotTrunk, err := s.GetTrunk(ctx, "acme")
	if err != nil {
		t.Fatalf("GetTrunk after reopen: %v", err)
	}
	checkTrunk(t, gotTrunk, tr)
	bs, err := s.ListBindings(ctx)
	if err != nil || len(bs) != 1 {
		t.Fatalf("ListBindings after reopen = %v, %v; want 1 binding", bs, err)
	}
	checkBinding(t, bs[0], b)
	cdrs, err := s.ListCDRs(ctx, store.CDRQuery{})
	if err != nil {
		t.Fatalf("ListCDRs after reopen: %v", err)
	}
	if len(cdrs) != 3 || cdrs[0].ID != ids[2] || cdrs[2].ID != ids[0] {
		t.Fatalf("ListCDRs after reopen = %v; want IDs %v newest first", cdrIDs(cdrs), ids)
	}
	// IDs keep increasing after a reopen.
	c := cdr("call-after")
	if err := s.InsertCDR(ctx, &c); err != nil {
		t.Fatalf("InsertCDR after reopen: %v", err)
	}
	if c.ID <= ids[2] {
		t.Fatalf("CDR ID after reopen = %d; want > %d", c.ID, ids[2])
	}
}

func testExtensionCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	e := model.Extension{Number: "1001", Name: "Alice", Password: "secret1",
		CallerID: "+442071234567", MaxCalls: 2}
	if err := s.CreateExtension(ctx, &e); err != nil {
		t.Fatalf("CreateExtension: %v", err)
	}
	if e.CreatedAt.Before(before) || !e.UpdatedAt.Equal(e.CreatedAt) {
		t.Fatalf("CreateExtension times = %v, %v; want now, equal", e.CreatedAt, e.UpdatedAt)
	}
	got, err := s.GetExtension(ctx, "1001")
	if err != nil {
		t.Fatalf("GetExtension: %v", err)
	}
	checkExtension(t, got, e)

	upd := got
	upd.Name, upd.Password, upd.CallerID, upd.MaxCalls, upd.Disabled = "Alice B", "secret2", "", 0, true
	upd.CreatedAt = time.Time{} // the store must keep the stored one
	if err := s.UpdateExtension(ctx, &upd); err != nil {
		t.Fatalf("UpdateExtension: %v", err)
	}
	if !upd.CreatedAt.Equal(e.CreatedAt) || upd.UpdatedAt.Before(e.UpdatedAt) {
		t.Fatalf("UpdateExtension times = %v, %v; want created %v kept, updated later",
			upd.CreatedAt, upd.UpdatedAt, e.CreatedAt)
	}
	got, err = s.GetExtension(ctx, "1001")
	if err != nil {
		t.Fatalf("GetExtension after update: %v", err)
	}
	checkExtension(t, got, upd)

	if err := s.DeleteExtension(ctx, "1001"); err != nil {
		t.Fatalf("DeleteExtension: %v", err)
	}
	if _, err := s.GetExtension(ctx, "1001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetExtension after delete: err = %v; want ErrNotFound", err)
	}
}

func testExtensionConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := model.Extension{Number: "1001", Name: "first", Password: "secret1"}
	if err := s.CreateExtension(ctx, &e); err != nil {
		t.Fatalf("CreateExtension: %v", err)
	}
	dup := model.Extension{Number: "1001", Name: "second", Password: "secret2"}
	if err := s.CreateExtension(ctx, &dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateExtension duplicate: err = %v; want ErrConflict", err)
	}
	got, err := s.GetExtension(ctx, "1001")
	if err != nil {
		t.Fatalf("GetExtension: %v", err)
	}
	checkExtension(t, got, e)
}

func testExtensionNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetExtension(ctx, "404"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetExtension: err = %v; want ErrNotFound", err)
	}
	e := model.Extension{Number: "404", Password: "secret1"}
	if err := s.UpdateExtension(ctx, &e); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateExtension: err = %v; want ErrNotFound", err)
	}
	if err := s.DeleteExtension(ctx, "404"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteExtension: err = %v; want ErrNotFound", err)
	}
	list, err := s.ListExtensions(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("ListExtensions = %v, %v; want empty (Update must not create)", list, err)
	}
}

func testExtensionListOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, n := range []string{"2001", "1002", "1001", "200"} {
		e := model.Extension{Number: n, Password: "secret1"}
		if err := s.CreateExtension(ctx, &e); err != nil {
			t.Fatalf("CreateExtension %s: %v", n, err)
		}
	}
	list, err := s.ListExtensions(ctx)
	if err != nil {
		t.Fatalf("ListExtensions: %v", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Number)
	}
	want := []string{"1001", "1002", "200", "2001"} // by number as text
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListExtensions order = %v; want %v", got, want)
	}
}

func testExtensionBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	batch := []*model.Extension{
		{Number: "2001", Name: "Alice", Password: "secret1", CallerID: "+442071234567", MaxCalls: 2},
		{Number: "2002", Password: "secret2", Disabled: true, Permissions: []string{}},
		{Number: "1999", Password: "secret3", Permissions: []string{"internal", "international"}},
	}
	if err := s.CreateExtensions(ctx, batch); err != nil {
		t.Fatalf("CreateExtensions: %v", err)
	}
	for _, e := range batch {
		if e.CreatedAt.Before(before) || !e.UpdatedAt.Equal(e.CreatedAt) || !e.CreatedAt.Equal(batch[0].CreatedAt) {
			t.Fatalf("CreateExtensions times of %s = %v, %v; want now, equal, the same for the batch",
				e.Number, e.CreatedAt, e.UpdatedAt)
		}
		got, err := s.GetExtension(ctx, e.Number)
		if err != nil {
			t.Fatalf("GetExtension %s: %v", e.Number, err)
		}
		checkExtension(t, got, *e)
	}
	list, err := s.ListExtensions(ctx)
	if err != nil || len(list) != len(batch) {
		t.Fatalf("ListExtensions = %d extensions, %v; want %d", len(list), err, len(batch))
	}
}

// checkConflictKey asserts that err is ErrConflict carrying a *ConflictError for key.
func checkConflictKey(t *testing.T, err error, key string) {
	t.Helper()
	var ce *store.ConflictError
	if !errors.Is(err, store.ErrConflict) || !errors.As(err, &ce) || ce.Key != key {
		t.Fatalf("CreateExtensions: err = %v; want ErrConflict as a *store.ConflictError for %s", err, key)
	}
}

func testExtensionBatchDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	batch := []*model.Extension{
		{Number: "2001", Password: "secret1"},
		{Number: "2002", Password: "secret2"},
		{Number: "2001", Password: "secret3"},
	}
	checkConflictKey(t, s.CreateExtensions(ctx, batch), "2001")
	for _, e := range batch {
		if !e.CreatedAt.IsZero() {
			t.Errorf("extension %s of a failed batch has CreatedAt %v; want zero", e.Number, e.CreatedAt)
		}
	}
	if list, err := s.ListExtensions(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListExtensions after a failed batch = %v, %v; want empty", list, err)
	}
}

func testExtensionBatchConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := model.Extension{Number: "1001", Name: "first", Password: "secret1"}
	if err := s.CreateExtension(ctx, &e); err != nil {
		t.Fatalf("CreateExtension: %v", err)
	}
	batch := []*model.Extension{
		{Number: "2001", Password: "secret1"},
		{Number: "1001", Name: "second", Password: "secret2"},
		{Number: "2002", Password: "secret3"},
	}
	checkConflictKey(t, s.CreateExtensions(ctx, batch), "1001")
	list, err := s.ListExtensions(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListExtensions after a failed batch = %v, %v; want only 1001", list, err)
	}
	checkExtension(t, list[0], e)

	// The failed batch left nothing behind (no open transaction, no lock): a good
	// batch goes through.
	if err := s.CreateExtensions(ctx, []*model.Extension{batch[0], batch[2]}); err != nil {
		t.Fatalf("CreateExtensions after a failed batch: %v", err)
	}
	if list, err := s.ListExtensions(ctx); err != nil || len(list) != 3 {
		t.Fatalf("ListExtensions = %d extensions, %v; want 3", len(list), err)
	}
}

func testExtensionBatchEmpty(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, batch := range [][]*model.Extension{nil, {}} {
		if err := s.CreateExtensions(ctx, batch); err != nil {
			t.Fatalf("CreateExtensions(%#v): %v", batch, err)
		}
	}
	if list, err := s.ListExtensions(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListExtensions = %v, %v; want empty", list, err)
	}
}
