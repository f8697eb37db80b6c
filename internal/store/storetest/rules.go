package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

func inboundRule(name string, prio int) model.InboundRule {
	return model.InboundRule{Name: name, Priority: prio, Enabled: true, DID: "+4930100100-4930100199",
		CallerMask:  "^\\+44",
		Destination: model.Destination{Type: model.DestRingGroup, Target: "sales"},
		Schedule: &model.Schedule{TimeZone: "Europe/Berlin",
			Hours:    []model.OpenHours{{Days: []string{"mon", "fri"}, From: "09:00", To: "17:30"}},
			Holidays: []string{"2026-12-25"}},
		AfterHours: &model.Destination{Type: model.DestReject, RejectCode: 480}}
}

func outboundRule(name string, prio int) model.OutboundRule {
	return model.OutboundRule{Name: name, Priority: prio, Enabled: true, Emergency: true,
		Strategy: model.StrategyWeighted, Permission: model.ClassInternational,
		Match: model.OutboundMatch{Patterns: []string{"00.", "^\\+"}, MinLength: 5, MaxLength: 20,
			CallerExtensions: []string{"1000-1099", "2001"}},
		Routes: []model.OutboundRoute{{Trunk: "a", Strip: 2, Prepend: "+", CallerID: "+4930100100", Anonymous: true, Weight: 5},
			{Trunk: "b"}}}
}

// sameRule compares two rules (or groups) except their timestamps, which it
// checks separately against want's.
func sameRule[T any](t *testing.T, what string, got, want T, times func(*T) (*time.Time, *time.Time)) {
	t.Helper()
	gc, gu := times(&got)
	wc, wu := times(&want)
	if !gc.Equal(*wc) || !gu.Equal(*wu) {
		t.Errorf("%s times = %v, %v; want %v, %v", what, *gc, *gu, *wc, *wu)
	}
	*gc, *gu, *wc, *wu = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %+v\nwant %+v", what, got, want)
	}
}

func inTimes(r *model.InboundRule) (*time.Time, *time.Time)   { return &r.CreatedAt, &r.UpdatedAt }
func outTimes(r *model.OutboundRule) (*time.Time, *time.Time) { return &r.CreatedAt, &r.UpdatedAt }
func rgTimes(g *model.RingGroup) (*time.Time, *time.Time)     { return &g.CreatedAt, &g.UpdatedAt }

func testExtensionPermissions(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, p := range [][]string{nil, {}, {"internal", "international"}} {
		e := model.Extension{Number: "1001", Password: "secret1", Permissions: p}
		if err := s.CreateExtension(ctx, &e); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetExtension(ctx, "1001")
		if err != nil || !reflect.DeepEqual(got.Permissions, p) {
			t.Errorf("permissions %#v came back as %#v (%v)", p, got.Permissions, err)
		}
		e.Permissions = []string{"emergency"}
		if err := s.UpdateExtension(ctx, &e); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetExtension(ctx, "1001"); !reflect.DeepEqual(got.Permissions, e.Permissions) {
			t.Errorf("updated permissions = %#v", got.Permissions)
		}
		if err := s.DeleteExtension(ctx, "1001"); err != nil {
			t.Fatal(err)
		}
	}
}

func testInboundRuleCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	tr := trunk("a")
	if err := s.CreateTrunk(ctx, &tr); err != nil {
		t.Fatal(err)
	}
	r := inboundRule("office", 10)
	r.Trunk = "a"
	if err := s.CreateInboundRule(ctx, &r); err != nil || r.ID == 0 || r.CreatedAt.IsZero() {
		t.Fatalf("CreateInboundRule: %v, id %d", err, r.ID)
	}
	got, err := s.GetInboundRule(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRule(t, "inbound rule", got, r, inTimes)

	dup := inboundRule("office", 1)
	if err := s.CreateInboundRule(ctx, &dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name: err = %v; want ErrConflict", err)
	}
	// Update to a minimal rule: no trunk, no schedule.
	r2 := model.InboundRule{ID: r.ID, Name: "office2", Priority: 3, Destination: model.Destination{Type: model.DestExtension, Target: "1001"}}
	if err := s.UpdateInboundRule(ctx, &r2); err != nil {
		t.Fatal(err)
	}
	if !r2.CreatedAt.Equal(r.CreatedAt) {
		t.Errorf("update changed CreatedAt")
	}
	got, _ = s.GetInboundRule(ctx, r.ID)
	sameRule(t, "updated inbound rule", got, r2, inTimes)

	missing := r2
	missing.ID = r.ID + 100
	if err := s.UpdateInboundRule(ctx, &missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}
	if err := s.DeleteInboundRule(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteInboundRule(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := s.GetInboundRule(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get deleted: %v", err)
	}
}

func testInboundRuleTrunkReference(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := inboundRule("x", 1)
	r.Trunk = "nope"
	if err := s.CreateInboundRule(ctx, &r); !errors.Is(err, store.ErrReference) {
		t.Fatalf("rule on a missing trunk: err = %v; want ErrReference", err)
	}
	tr := trunk("a")
	if err := s.CreateTrunk(ctx, &tr); err != nil {
		t.Fatal(err)
	}
	r.Trunk = "a"
	if err := s.CreateInboundRule(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTrunk(ctx, "a"); !errors.Is(err, store.ErrReference) {
		t.Fatalf("deleting a trunk in use: err = %v; want ErrReference", err)
	}
	if err := s.DeleteInboundRule(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTrunk(ctx, "a"); err != nil {
		t.Fatalf("deleting the trunk once unused: %v", err)
	}
}

func testOutboundRuleCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := outboundRule("intl", 20)
	if err := s.CreateOutboundRule(ctx, &r); err != nil || r.ID == 0 {
		t.Fatalf("CreateOutboundRule: %v", err)
	}
	got, err := s.GetOutboundRule(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRule(t, "outbound rule", got, r, outTimes)
	dup := outboundRule("intl", 1)
	if err := s.CreateOutboundRule(ctx, &dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name: %v", err)
	}
	r2 := model.OutboundRule{ID: r.ID, Name: "all", Routes: []model.OutboundRoute{{Trunk: "c"}}}
	if err := s.UpdateOutboundRule(ctx, &r2); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetOutboundRule(ctx, r.ID)
	sameRule(t, "updated outbound rule", got, r2, outTimes)
	if err := s.DeleteOutboundRule(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOutboundRule(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := s.UpdateOutboundRule(ctx, &r2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update deleted: %v", err)
	}
}

func testRuleOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, p := range []struct {
		name string
		prio int
	}{{"c", 5}, {"a", 10}, {"b", 5}, {"d", 0}} {
		in, out := inboundRule(p.name, p.prio), outboundRule(p.name, p.prio)
		if err := s.CreateInboundRule(ctx, &in); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateOutboundRule(ctx, &out); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"d", "c", "b", "a"} // priority, then creation (ID)
	ins, err := s.ListInboundRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := s.ListOutboundRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gotIn, gotOut []string
	for i := range ins {
		gotIn = append(gotIn, ins[i].Name)
	}
	for i := range outs {
		gotOut = append(gotOut, outs[i].Name)
	}
	if !reflect.DeepEqual(gotIn, want) || !reflect.DeepEqual(gotOut, want) {
		t.Errorf("order: inbound %v, outbound %v; want %v", gotIn, gotOut, want)
	}
}

func testRingGroupCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	if list, err := s.ListRingGroups(ctx); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("empty list = %#v, %v", list, err)
	}
	g := model.RingGroup{Name: "sales", Strategy: model.RingSequential, Members: []string{"1002", "1001"}, MemberTimeout: 15, Enabled: true}
	if err := s.CreateRingGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRingGroup(ctx, &g); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate: %v", err)
	}
	got, err := s.GetRingGroup(ctx, "sales")
	if err != nil {
		t.Fatal(err)
	}
	sameRule(t, "ring group", got, g, rgTimes)
	a := model.RingGroup{Name: "accounts", Strategy: model.RingSimultaneous, Members: []string{"2001"}}
	if err := s.CreateRingGroup(ctx, &a); err != nil {
		t.Fatal(err)
	}
	g.Members, g.Enabled = []string{"1003"}, false
	if err := s.UpdateRingGroup(ctx, &g); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListRingGroups(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "accounts" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	sameRule(t, "updated ring group", list[1], g, rgTimes)
	if err := s.DeleteRingGroup(ctx, "sales"); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{s.DeleteRingGroup(ctx, "sales"), s.UpdateRingGroup(ctx, &g)} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after delete: %v; want ErrNotFound", err)
		}
	}
	if _, err := s.GetRingGroup(ctx, "sales"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get deleted: %v", err)
	}
}

func testDialPlan(t *testing.T, s store.Store) {
	ctx := t.Context()
	p, err := s.GetDialPlan(ctx)
	if err != nil || !reflect.DeepEqual(p, model.DialPlan{}) {
		t.Fatalf("unset dial plan = %+v, %v; want zero", p, err)
	}
	want := model.DialPlan{CountryCode: "44", NationalPrefix: "0", InternationalPrefix: "00",
		EmergencyNumbers: []string{"999", "112"}, MobilePrefixes: []string{}, PremiumPrefixes: []string{"9"}}
	for range 2 {
		if err := s.PutDialPlan(ctx, &want); err != nil || want.UpdatedAt.IsZero() {
			t.Fatalf("PutDialPlan: %v", err)
		}
	}
	got, err := s.GetDialPlan(ctx)
	if err != nil || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("GetDialPlan = %+v, %v", got, err)
	}
	got.UpdatedAt, want.UpdatedAt = time.Time{}, time.Time{}
	// [] (no mobile prefixes) and nil (the built-in table) stay distinct.
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dial plan = %#v; want %#v", got, want)
	}
	want.MobilePrefixes, want.PremiumPrefixes = nil, nil
	if err := s.PutDialPlan(ctx, &want); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetDialPlan(ctx); got.MobilePrefixes != nil || got.PremiumPrefixes != nil {
		t.Errorf("nil prefixes came back as %#v, %#v", got.MobilePrefixes, got.PremiumPrefixes)
	}
}
