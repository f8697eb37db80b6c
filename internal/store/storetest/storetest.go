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
	if err := s.PutBinding(ctx, b); err != nil {
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
