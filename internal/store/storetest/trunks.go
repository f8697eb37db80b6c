package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

// trunk returns a register trunk with every kind of field set, so that a round
// trip proves each one is stored.
func trunk(name string, dids ...string) model.Trunk {
	off := false
	t := model.Trunk{
		Name: name, Kind: model.TrunkRegister, Enabled: true,
		Host: "sip." + name + ".example", Port: 5061, Transport: "tls", OutboundProxy: "proxy.example:5070",
		Username: "user-" + name, AuthID: "auth-" + name, Password: "secret-" + name, Realm: "example",
		Register: &off, RegisterExpiry: 900,
		AssociatedIPs: []string{"192.0.2.0/24", "2001:db8::1"},
		Headers:       map[string]string{"X-Token": "t0k3n"},
		MaxCalls:      10, MaxCPS: 2.5, MaxCallSecs: 7200,
		Codecs: []string{"PCMA", "PCMU"}, DTMFMode: "info", MediaRelay: &off,
		NumberFormat: model.FormatE164, DIDSource: model.DIDFromTo,
		CallerIDHeaders: []string{"pai", "from"}, DefaultCallerID: "+13125550100", CallerIDPolicy: model.CallerIDReject,
		FailoverCodes: []int{408, 503}, InviteTimeoutMS: 3000, ProgressTimeoutMS: 10000,
		OptionsInterval: -1, ProbeDownAfter: 4, ProbeUpAfter: 1, DefaultOutbound: true,
	}
	for i, d := range dids {
		ext := ""
		if i%2 == 0 {
			ext = fmt.Sprint(1001 + i)
		}
		t.DIDs = append(t.DIDs, model.TrunkDID{Number: d, Extension: ext})
	}
	return t
}

// checkTrunk compares two trunks field by field (times with Equal).
func checkTrunk(t *testing.T, got, want model.Trunk) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("trunk %s times = %v, %v; want %v, %v",
			want.Name, got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("trunk =\n%+v\nwant\n%+v", got, want)
	}
}

func testTrunkCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	tr := trunk("acme", "+13125550100", "+13125550101")
	if err := s.CreateTrunk(ctx, &tr); err != nil {
		t.Fatalf("CreateTrunk: %v", err)
	}
	if tr.CreatedAt.Before(before) || !tr.UpdatedAt.Equal(tr.CreatedAt) {
		t.Fatalf("CreateTrunk times = %v, %v; want now, equal", tr.CreatedAt, tr.UpdatedAt)
	}
	got, err := s.GetTrunk(ctx, "acme")
	if err != nil {
		t.Fatalf("GetTrunk: %v", err)
	}
	checkTrunk(t, got, tr)

	// Update replaces everything, including clearing optional fields, switching
	// kind and disabling.
	upd := model.Trunk{Name: "acme", Kind: model.TrunkIP, Enabled: false, Host: "192.0.2.1",
		DIDs: []model.TrunkDID{{Number: "+13125550199", Extension: "1002"}}}
	if err := s.UpdateTrunk(ctx, &upd); err != nil {
		t.Fatalf("UpdateTrunk: %v", err)
	}
	if !upd.CreatedAt.Equal(tr.CreatedAt) || upd.UpdatedAt.Before(tr.UpdatedAt) {
		t.Fatalf("UpdateTrunk times = %v, %v; want created %v kept, updated later",
			upd.CreatedAt, upd.UpdatedAt, tr.CreatedAt)
	}
	got, err = s.GetTrunk(ctx, "acme")
	if err != nil {
		t.Fatalf("GetTrunk after update: %v", err)
	}
	checkTrunk(t, got, upd)

	if err := s.DeleteTrunk(ctx, "acme"); err != nil {
		t.Fatalf("DeleteTrunk: %v", err)
	}
	if _, err := s.GetTrunk(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTrunk after delete: err = %v; want ErrNotFound", err)
	}
	// Its DIDs went with it: another trunk may now own them.
	other := trunk("other", "+13125550199")
	if err := s.CreateTrunk(ctx, &other); err != nil {
		t.Fatalf("CreateTrunk with a DID of a deleted trunk: %v", err)
	}
}

func testTrunkConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	tr := trunk("acme", "+13125550100")
	if err := s.CreateTrunk(ctx, &tr); err != nil {
		t.Fatalf("CreateTrunk: %v", err)
	}
	dup := trunk("acme")
	dup.Kind, dup.Host = model.TrunkIP, "192.0.2.9"
	if err := s.CreateTrunk(ctx, &dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateTrunk duplicate: err = %v; want ErrConflict", err)
	}
	got, err := s.GetTrunk(ctx, "acme")
	if err != nil {
		t.Fatalf("GetTrunk: %v", err)
	}
	checkTrunk(t, got, tr)
}

func testTrunkNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.GetTrunk(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetTrunk: err = %v; want ErrNotFound", err)
	}
	tr := trunk("nope", "+13125550100")
	if err := s.UpdateTrunk(ctx, &tr); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateTrunk: err = %v; want ErrNotFound", err)
	}
	if err := s.DeleteTrunk(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteTrunk: err = %v; want ErrNotFound", err)
	}
	list, err := s.ListTrunks(ctx)
	if err != nil || len(list) != 0 || list == nil {
		t.Errorf("ListTrunks = %#v, %v; want empty, non-nil (Update must not create)", list, err)
	}
	// The failed update must not have left DIDs behind.
	other := trunk("other", "+13125550100")
	if err := s.CreateTrunk(ctx, &other); err != nil {
		t.Errorf("CreateTrunk after a failed update: %v", err)
	}
}

// testTrunkDIDs: DIDs round trip (ordered by number), are replaced as a whole on
// update, and a number belongs to at most one trunk: ErrConflict, nothing written.
func testTrunkDIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := trunk("a", "+4930200", "+4930100", "4930300")
	if err := s.CreateTrunk(ctx, &a); err != nil {
		t.Fatalf("CreateTrunk a: %v", err)
	}
	got, err := s.GetTrunk(ctx, "a")
	if err != nil {
		t.Fatalf("GetTrunk: %v", err)
	}
	want := []model.TrunkDID{a.DIDs[1], a.DIDs[0], a.DIDs[2]} // by number, as text
	if !reflect.DeepEqual(got.DIDs, want) {
		t.Fatalf("DIDs = %+v; want %+v", got.DIDs, want)
	}

	// A trunk without DIDs reads back with none (nil).
	b := trunk("b")
	if err := s.CreateTrunk(ctx, &b); err != nil {
		t.Fatalf("CreateTrunk b: %v", err)
	}
	if got, err := s.GetTrunk(ctx, "b"); err != nil || got.DIDs != nil {
		t.Fatalf("GetTrunk b = %+v, %v; want no DIDs", got.DIDs, err)
	}

	// A DID of trunk a on create of c: conflict, and c is not created.
	c := trunk("c", "+4930999", "+4930100")
	if err := s.CreateTrunk(ctx, &c); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateTrunk with a DID of another trunk: err = %v; want ErrConflict", err)
	}
	if _, err := s.GetTrunk(ctx, "c"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTrunk c after a failed create: err = %v; want ErrNotFound", err)
	}
	// The same number without its "+" is the same DID.
	c = trunk("c", "4930100")
	if err := s.CreateTrunk(ctx, &c); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateTrunk with a DID of another trunk minus its +: err = %v; want ErrConflict", err)
	}
	// On update of b: conflict, and b keeps its old settings and DIDs.
	b2 := b
	b2.Host, b2.DIDs = "changed.example", []model.TrunkDID{{Number: "+4930777"}, {Number: "+4930200"}}
	if err := s.UpdateTrunk(ctx, &b2); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("UpdateTrunk with a DID of another trunk: err = %v; want ErrConflict", err)
	}
	if got, err := s.GetTrunk(ctx, "b"); err != nil || got.Host != b.Host || got.DIDs != nil {
		t.Fatalf("GetTrunk b after a failed update = %+v, %v; want unchanged", got, err)
	}
	if got, err := s.GetTrunk(ctx, "a"); err != nil || len(got.DIDs) != 3 {
		t.Fatalf("GetTrunk a after b's failed update = %+v, %v; want its 3 DIDs", got.DIDs, err)
	}

	// Update replaces the whole set: a keeps one old number, drops two, adds one;
	// a dropped number is free for b at once.
	a.DIDs = []model.TrunkDID{{Number: "+4930100", Extension: "2000"}, {Number: "+4930400"}}
	if err := s.UpdateTrunk(ctx, &a); err != nil {
		t.Fatalf("UpdateTrunk a: %v", err)
	}
	b.DIDs = []model.TrunkDID{{Number: "+4930200", Extension: "1001"}}
	if err := s.UpdateTrunk(ctx, &b); err != nil {
		t.Fatalf("UpdateTrunk b with a DID a dropped: %v", err)
	}
	list, err := s.ListTrunks(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListTrunks = %v, %v; want a and b", list, err)
	}
	checkTrunk(t, list[0], a)
	checkTrunk(t, list[1], b)

	// Updating without DIDs removes them all.
	a.DIDs = nil
	if err := s.UpdateTrunk(ctx, &a); err != nil {
		t.Fatalf("UpdateTrunk a without DIDs: %v", err)
	}
	if got, err := s.GetTrunk(ctx, "a"); err != nil || got.DIDs != nil {
		t.Fatalf("GetTrunk a = %+v, %v; want no DIDs", got.DIDs, err)
	}
}

func testTrunkListOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, n := range []string{"zeta", "alpha", "b-2", "b_1", "10"} {
		tr := trunk(n, fmt.Sprintf("+1555000%d", i))
		if err := s.CreateTrunk(ctx, &tr); err != nil {
			t.Fatalf("CreateTrunk %s: %v", n, err)
		}
	}
	list, err := s.ListTrunks(ctx)
	if err != nil {
		t.Fatalf("ListTrunks: %v", err)
	}
	var got []string
	for _, tr := range list {
		got = append(got, tr.Name)
		if len(tr.DIDs) != 1 {
			t.Errorf("trunk %s has DIDs %v; want its one DID", tr.Name, tr.DIDs)
		}
	}
	want := []string{"10", "alpha", "b-2", "b_1", "zeta"} // by name, as text
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ListTrunks order = %v; want %v", got, want)
	}
}

// testTrunkConcurrentDIDs: many writers race for the same DID; exactly one wins.
func testTrunkConcurrentDIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			tr := trunk(fmt.Sprintf("t%d", i), "+15550001111", fmt.Sprintf("+1555000200%d", i))
			errs[i] = s.CreateTrunk(ctx, &tr)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("writer %d: %v; want nil or ErrConflict", i, err)
		}
	}
	list, err := s.ListTrunks(ctx)
	if err != nil || won != 1 || len(list) != 1 {
		t.Fatalf("%d writers won, %d trunks stored (%v); want exactly 1", won, len(list), err)
	}
}
