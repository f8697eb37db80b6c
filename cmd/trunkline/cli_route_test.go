package main

import (
	"strings"
	"testing"

	"github.com/trunkline/trunkline/internal/model"
)

// Usable makes the fake trunk runtime a dry-run TrunkStatus: up trunks are usable.
func (f cliFakeTrunks) Usable(name string) bool {
	s, ok := f.State(name)
	return ok && s.Reachability == "up"
}

func TestCLIRoute(t *testing.T) {
	srv, st := cliServer(t)
	ctx := t.Context()
	env := map[string]string{"TRUNKLINE_API": srv.URL, "TRUNKLINE_ADMIN_TOKEN": cliToken}
	e := model.Extension{Number: "1001", Password: "secret01", CallerID: "+442071234500",
		Permissions: []string{"national", "international"}}
	if err := st.CreateExtension(ctx, &e); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []model.Trunk{
		{Name: "telnyx", Kind: model.TrunkIP, Enabled: true, Host: "192.0.2.1",
			DIDs: []model.TrunkDID{{Number: "+442071234500", Extension: "1001"}}},
		{Name: "lab", Kind: model.TrunkIP, Enabled: true, Host: "192.0.2.2", NumberFormat: model.FormatNational},
	} {
		if err := st.CreateTrunk(ctx, &tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutDialPlan(ctx, &model.DialPlan{CountryCode: "44", NationalPrefix: "0"}); err != nil {
		t.Fatal(err)
	}
	r := model.OutboundRule{Name: "intl", Priority: 10, Enabled: true, Match: model.OutboundMatch{Patterns: []string{"00."}},
		Routes: []model.OutboundRoute{{Trunk: "telnyx"}, {Trunk: "lab"}}}
	if err := st.CreateOutboundRule(ctx, &r); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runEnv(t, env, "route", "test", "1001", "0012125551234")
	for _, want := range []string{
		"outbound call at ",
		`+ rule "intl"`,
		"rule intl, 2 target(s), tried in order:",
		"1. trunk telnyx: number +12125551234, caller ID +442071234500 [usable",
		"2. trunk lab: number 0012125551234, caller ID +442071234500 [would be skipped now (off/down)]  via intl/2",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("route test = %d, missing %q in\n%s%s", code, want, out, errs)
		}
	}
	code, out, _ = runEnv(t, env, "route", "test", "--trunk", "telnyx", "--did", "02071234500", "--caller", "+15550001")
	if code != 0 || !strings.Contains(out, "inbound call") || !strings.Contains(out, "1. extension 1001, caller ID +15550001") {
		t.Errorf("inbound route test = %d\n%s", code, out)
	}
	code, out, _ = runEnv(t, env, "route", "test", "1001", "09098790000")
	if code != 0 || !strings.Contains(out, "REFUSED 404") {
		t.Errorf("refused route test = %d\n%s", code, out)
	}
	code, out, _ = runEnv(t, env, "rule", "list")
	if code != 0 || !strings.Contains(out, "intl") || !strings.Contains(out, "telnyx > lab") {
		t.Errorf("rule list = %d\n%s", code, out)
	}
	for _, args := range [][]string{{"route", "test", "1001"}, {"route", "test", "--trunk", "telnyx"}, {"route", "test", "1", "2", "--did", "3"}} {
		if code, _, _ := runEnv(t, env, args...); code != exitUsage {
			t.Errorf("%v = %d; want usage error", args, code)
		}
	}
}
