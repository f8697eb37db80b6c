package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/trunkline/trunkline/internal/model"
)

// fakeTrunkStatus: "itsp1" usable and up, others down.
type fakeTrunkStatus struct{}

func (fakeTrunkStatus) Usable(name string) bool { return name == "itsp1" }
func (fakeTrunkStatus) State(name string) (model.TrunkState, bool) {
	if name == "itsp1" {
		return model.TrunkState{Name: name, Registration: "registered", Reachability: "up"}, true
	}
	return model.TrunkState{Name: name, Reachability: "down"}, true
}

// routingFixture: extension 1001 (from newFixture), two trunks and a UK dial plan.
func routingFixture(t *testing.T) *fixture {
	f := newFixture(t, func(o *Options) { o.TrunkStatus = fakeTrunkStatus{} })
	for _, body := range []string{
		`{"name":"itsp1","kind":"ip","host":"192.0.2.1","default_caller_id":"+442071234599","dids":[{"number":"+442071234500","extension":"1001"}]}`,
		`{"name":"itsp2","kind":"ip","host":"192.0.2.2","number_format":"national"}`,
	} {
		if w := f.do(t, "POST", "/api/v1/trunks", testToken, "", body); w.Code != 201 {
			t.Fatalf("create trunk: %d %s", w.Code, w.Body)
		}
	}
	if w := f.do(t, "PUT", "/api/v1/dialplan", testToken, "", `{"country_code":"44","national_prefix":"0"}`); w.Code != 200 {
		t.Fatalf("dialplan: %d %s", w.Code, w.Body)
	}
	return f
}

func TestRuleErrors(t *testing.T) {
	f := routingFixture(t)
	out := func(s string) string { return `{"name":"r","routes":[{"trunk":"itsp1"}]` + s + `}` }
	in := func(s string) string {
		return `{"name":"r","destination":{"type":"extension","target":"1001"}` + s + `}`
	}
	tests := []struct {
		name, method, path, body string
		status                   int
		field, reason            string
	}{
		{"outbound without routes", "POST", "/api/v1/outbound-rules", `{"name":"r"}`, 400, "routes", "at least one route required"},
		{"outbound without name", "POST", "/api/v1/outbound-rules", `{"routes":[{"trunk":"itsp1"}]}`, 400, "name", "required"},
		{"outbound unknown trunk", "POST", "/api/v1/outbound-rules", `{"name":"r","routes":[{"trunk":"itsp1"},{"trunk":"nope"}]}`, 400, "routes[1].trunk", "no such trunk"},
		{"outbound nine routes", "POST", "/api/v1/outbound-rules", `{"name":"r","routes":[` + strings.Repeat(`{"trunk":"itsp1"},`, 8) + `{"trunk":"itsp1"}]}`, 400, "routes", "at most 8 routes"},
		{"outbound bad pattern", "POST", "/api/v1/outbound-rules", out(`,"match":{"patterns":["0X.","1+"]}`), 400, "match.patterns[1]", "'+' only allowed first (position 2)"},
		{"outbound bad regexp", "POST", "/api/v1/outbound-rules", out(`,"match":{"patterns":["^(0"]}`), 400, "match.patterns[0]", "bad regular expression: missing closing ): `^(0`"},
		{"outbound bad caller range", "POST", "/api/v1/outbound-rules", out(`,"match":{"caller_extensions":["1099-1000"]}`), 400, "match.caller_extensions[0]", "range start is after its end"},
		{"outbound lengths", "POST", "/api/v1/outbound-rules", out(`,"match":{"min_length":10,"max_length":5}`), 400, "match.max_length", "must not be less than min_length"},
		{"outbound strategy", "POST", "/api/v1/outbound-rules", out(`,"strategy":"random"`), 400, "strategy", "must be one of ordered, weighted"},
		{"outbound weight without weighted", "POST", "/api/v1/outbound-rules", `{"name":"r","routes":[{"trunk":"itsp1","weight":3}]}`, 400, "routes[0].weight", "only allowed with strategy weighted"},
		{"outbound prepend", "POST", "/api/v1/outbound-rules", `{"name":"r","routes":[{"trunk":"itsp1","prepend":"9a"}]}`, 400, "routes[0].prepend", "must contain only digits, *, # and +"},
		{"outbound permission", "POST", "/api/v1/outbound-rules", out(`,"permission":"world"`), 400, "permission", "must be one of internal, national, mobile, international, premium, emergency"},
		{"outbound priority", "POST", "/api/v1/outbound-rules", out(`,"priority":-1`), 400, "priority", "must be between 0 and 1000000"},
		{"outbound unknown field", "POST", "/api/v1/outbound-rules", out(`,"id":3`), 400, "id", "unknown field"},
		{"outbound get bad id", "GET", "/api/v1/outbound-rules/x", "", 404, "id", "not found"},
		{"outbound get missing", "GET", "/api/v1/outbound-rules/99", "", 404, "id", "not found"},
		{"outbound put missing", "PUT", "/api/v1/outbound-rules/99", out(""), 404, "id", "not found"},
		{"inbound without destination", "POST", "/api/v1/inbound-rules", `{"name":"r"}`, 400, "destination.type", "required"},
		{"inbound bad destination", "POST", "/api/v1/inbound-rules", `{"name":"r","destination":{"type":"voicemail"}}`, 400, "destination.type", "must be one of extension, ring_group, external, dialed, reject"},
		{"inbound bad extension", "POST", "/api/v1/inbound-rules", `{"name":"r","destination":{"type":"extension","target":"sales"}}`, 400, "destination.target", "must be an extension number"},
		{"inbound reject code", "POST", "/api/v1/inbound-rules", `{"name":"r","destination":{"type":"reject","reject_code":200}}`, 400, "destination.reject_code", "must be between 400 and 699"},
		{"inbound unknown trunk", "POST", "/api/v1/inbound-rules", in(`,"trunk":"nope"`), 400, "trunk", "no such trunk"},
		{"inbound bad did", "POST", "/api/v1/inbound-rules", in(`,"did":"4930-49"`), 400, "did", "range bounds must have the same number of digits"},
		{"inbound bad caller mask", "POST", "/api/v1/inbound-rules", in(`,"caller_mask":"[1-"`), 400, "caller_mask", "unclosed '[' at position 1"},
		{"inbound after hours without schedule", "POST", "/api/v1/inbound-rules", in(`,"after_hours":{"type":"reject"}`), 400, "after_hours", "requires a schedule"},
		{"inbound bad zone", "POST", "/api/v1/inbound-rules", in(`,"schedule":{"time_zone":"Europe/Nowhere"}`), 400, "schedule.time_zone", "must be an IANA time zone name"},
		{"inbound bad day", "POST", "/api/v1/inbound-rules", in(`,"schedule":{"hours":[{"days":["mon","Tue"],"from":"09:00","to":"17:00"}]}`), 400, "schedule.hours[0].days[1]", "must be one of mon, tue, wed, thu, fri, sat, sun"},
		{"inbound bad time", "POST", "/api/v1/inbound-rules", in(`,"schedule":{"hours":[{"days":["mon"],"from":"9:00","to":"17:00"}]}`), 400, "schedule.hours[0].from", "must be HH:MM"},
		{"inbound bad holiday", "POST", "/api/v1/inbound-rules", in(`,"schedule":{"holidays":["25/12/2026"]}`), 400, "schedule.holidays[0]", "must be a date YYYY-MM-DD"},
		{"inbound delete missing", "DELETE", "/api/v1/inbound-rules/7", "", 404, "id", "not found"},
		{"ring group bad name", "POST", "/api/v1/ring-groups", `{"name":"Sales","members":["1001"]}`, 400, "name", "must be 1 to 64 of a-z, 0-9, _ and -"},
		{"ring group no members", "POST", "/api/v1/ring-groups", `{"name":"sales"}`, 400, "members", "at least one member required"},
		{"ring group duplicate member", "POST", "/api/v1/ring-groups", `{"name":"sales","members":["1001","1001"]}`, 400, "members[1]", "duplicate"},
		{"ring group strategy", "POST", "/api/v1/ring-groups", `{"name":"sales","members":["1001"],"strategy":"random"}`, 400, "strategy", "must be one of simultaneous, sequential"},
		{"ring group timeout", "POST", "/api/v1/ring-groups", `{"name":"sales","members":["1001"],"member_timeout":601}`, 400, "member_timeout", "must be between 0 and 600"},
		{"ring group path mismatch", "PUT", "/api/v1/ring-groups/sales", `{"name":"other","members":["1001"]}`, 400, "name", "does not match the path"},
		{"ring group missing", "GET", "/api/v1/ring-groups/nope", "", 404, "name", "not found"},
		{"dialplan country", "PUT", "/api/v1/dialplan", `{"country_code":"044"}`, 400, "country_code", "must be 1 to 3 digits not starting with 0"},
		{"dialplan prefixes equal", "PUT", "/api/v1/dialplan", `{"country_code":"44","national_prefix":"00"}`, 400, "national_prefix", "must differ from international_prefix"},
		{"dialplan emergency", "PUT", "/api/v1/dialplan", `{"emergency_numbers":["911","9-1-1"]}`, 400, "emergency_numbers[1]", "must be 1 to 16 digits"},
		{"extension permissions", "POST", "/api/v1/extensions", `{"number":"1002","password":"secret12","permissions":["national","world"]}`, 400, "permissions[1]", "must be one of internal, national, mobile, international, premium, emergency"},
		{"route test nothing", "POST", "/api/v1/route/test", `{}`, 400, "from", "required (or trunk and did)"},
		{"route test no to", "POST", "/api/v1/route/test", `{"from":"1001"}`, 400, "to", "required"},
		{"route test unknown extension", "POST", "/api/v1/route/test", `{"from":"1999","to":"02079460000"}`, 400, "from", "no such extension"},
		{"route test trunk without did", "POST", "/api/v1/route/test", `{"trunk":"itsp1"}`, 400, "did", "required with trunk"},
		{"route test unknown trunk", "POST", "/api/v1/route/test", `{"trunk":"nope","did":"1"}`, 400, "trunk", "no such trunk"},
		{"route test mixed", "POST", "/api/v1/route/test", `{"trunk":"itsp1","did":"1","from":"1001"}`, 400, "from", "not allowed with trunk and did"},
		{"route test bad time", "POST", "/api/v1/route/test", `{"from":"1001","to":"1001","at":"tomorrow"}`, 400, "at", "must be an RFC 3339 time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, tt.method, tt.path, testToken, "", tt.body)
			e := decodeBody[Error](t, w)
			if w.Code != tt.status || e.Field != tt.field || e.Reason != tt.reason {
				t.Errorf("%s %s = %d %+v; want %d %s: %s", tt.method, tt.path, w.Code, e, tt.status, tt.field, tt.reason)
			}
		})
	}
}

func TestRoutingLifecycle(t *testing.T) {
	f := routingFixture(t)
	// An outbound rule with two trunks for failover.
	w := f.do(t, "POST", "/api/v1/outbound-rules", testToken, "",
		`{"name":"uk","priority":10,"match":{"patterns":["0[1-9]."]},"routes":[{"trunk":"itsp1"},{"trunk":"itsp2","strip":1,"prepend":"9"}]}`)
	if w.Code != 201 {
		t.Fatalf("create outbound rule: %d %s", w.Code, w.Body)
	}
	rule := decodeBody[model.OutboundRule](t, w)
	if rule.ID == 0 || !rule.Enabled || rule.Strategy != "ordered" || w.Header().Get("Location") == "" {
		t.Errorf("created %+v", rule)
	}
	if w := f.do(t, "POST", "/api/v1/outbound-rules", testToken, "", `{"name":"uk","routes":[{"trunk":"itsp1"}]}`); w.Code != 409 {
		t.Errorf("duplicate name: %d", w.Code)
	}
	// A ring group and an office-hours inbound rule.
	if w := f.do(t, "POST", "/api/v1/ring-groups", testToken, "", `{"name":"sales","members":["1001"],"strategy":"sequential"}`); w.Code != 201 {
		t.Fatalf("ring group: %d %s", w.Code, w.Body)
	}
	w = f.do(t, "POST", "/api/v1/inbound-rules", testToken, "", `{"name":"office","trunk":"itsp1","did":"02071234500",
		"destination":{"type":"ring_group","target":"sales"},
		"schedule":{"time_zone":"Europe/London","hours":[{"days":["mon","tue","wed","thu","fri"],"from":"09:00","to":"17:00"}]},
		"after_hours":{"type":"reject","reject_code":480}}`)
	if w.Code != 201 {
		t.Fatalf("inbound rule: %d %s", w.Code, w.Body)
	}
	in := decodeBody[model.InboundRule](t, w)

	// Dry run, outbound: default permissions allow national; two targets with
	// the runtime's view.
	w = f.do(t, "POST", "/api/v1/route/test", testToken, "", `{"from":"1001","to":"020 7946 0000"}`)
	res := decodeBody[routeTestResult](t, w)
	if w.Code != 200 || res.Rule != "uk" || len(res.Targets) != 2 || res.Number.E164 != "442079460000" {
		t.Fatalf("route test: %d %s", w.Code, w.Body)
	}
	t0, t1 := res.Targets[0], res.Targets[1]
	if t0.Trunk != "itsp1" || t0.Number != "+442079460000" || t0.CallerID != "+442071234599" || t0.Usable == nil || !*t0.Usable || t0.State == nil {
		t.Errorf("first target %+v", t0)
	}
	if t1.Trunk != "itsp2" || t1.Number != "92079460000" || t1.Usable == nil || *t1.Usable || t1.State.Reachability != "down" {
		t.Errorf("second target %+v", t1)
	}
	if len(res.Explain) == 0 || res.Explain[0].Stage != "number" {
		t.Errorf("explain %+v", res.Explain)
	}
	// International is off by default.
	w = f.do(t, "POST", "/api/v1/route/test", testToken, "", `{"from":"1001","to":"+12125551234"}`)
	if res := decodeBody[routeTestResult](t, w); res.RejectCode != 404 && res.RejectCode != 403 {
		t.Errorf("international: %s", w.Body)
	}
	// Dry run, inbound, in and out of hours.
	for _, c := range []struct {
		at     string
		reject int
	}{{"2026-06-01T10:00:00+01:00", 0}, {"2026-06-01T18:00:00+01:00", 480}} {
		w = f.do(t, "POST", "/api/v1/route/test", testToken, "", `{"trunk":"itsp1","did":"+442071234500","caller":"+441311234567","at":"`+c.at+`"}`)
		res := decodeBody[routeTestResult](t, w)
		if w.Code != 200 || res.Rule != "office" || res.RejectCode != c.reject {
			t.Errorf("inbound at %s: %s", c.at, w.Body)
		}
		if c.reject == 0 && (len(res.Targets) != 1 || res.Targets[0].Extension != "1001" || res.Targets[0].RingTimeout != 20) {
			t.Errorf("inbound targets %+v", res.Targets)
		}
	}
	// A trunk in use cannot be deleted.
	if w := f.do(t, "DELETE", "/api/v1/trunks/itsp2", testToken, "", ""); w.Code != 409 {
		t.Errorf("delete trunk in use by an outbound rule: %d", w.Code)
	}
	if w := f.do(t, "DELETE", "/api/v1/trunks/itsp1", testToken, "", ""); w.Code != 409 {
		t.Errorf("delete trunk in use: %d", w.Code)
	}
	// Update, list, delete.
	w = f.do(t, "PUT", "/api/v1/inbound-rules/"+itoa(in.ID), testToken, "", `{"name":"office","enabled":false,"destination":{"type":"reject"}}`)
	if got := decodeBody[model.InboundRule](t, w); w.Code != 200 || got.Enabled || got.Trunk != "" {
		t.Errorf("update: %d %s", w.Code, w.Body)
	}
	w = f.do(t, "GET", "/api/v1/inbound-rules", testToken, "", "")
	if list := decodeBody[struct {
		InboundRules []model.InboundRule `json:"inbound_rules"`
	}](t, w); len(list.InboundRules) != 1 {
		t.Errorf("list: %s", w.Body)
	}
	for _, p := range []string{"/api/v1/inbound-rules/" + itoa(in.ID), "/api/v1/outbound-rules/" + itoa(rule.ID), "/api/v1/ring-groups/sales"} {
		if w := f.do(t, "DELETE", p, testToken, "", ""); w.Code != 204 {
			t.Errorf("DELETE %s: %d", p, w.Code)
		}
	}
	if w := f.do(t, "DELETE", "/api/v1/trunks/itsp2", testToken, "", ""); w.Code != 204 {
		t.Errorf("delete unused trunk: %d %s", w.Code, w.Body)
	}
}

func TestExtensionPermissionsDefault(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "POST", "/api/v1/extensions", testToken, "", `{"number":"1002","password":"secret12"}`)
	if e := decodeBody[model.Extension](t, w); !slices.Equal(e.Permissions, model.DefaultPermissions()) {
		t.Fatalf("default permissions %v", e.Permissions)
	}
	// Update without permissions keeps them; with, replaces them.
	w = f.do(t, "PUT", "/api/v1/extensions/1002", testToken, "", `{"name":"Bob"}`)
	if e := decodeBody[model.Extension](t, w); !slices.Equal(e.Permissions, model.DefaultPermissions()) {
		t.Errorf("kept permissions %v", e.Permissions)
	}
	w = f.do(t, "PUT", "/api/v1/extensions/1002", testToken, "", `{"permissions":["international"]}`)
	if e := decodeBody[model.Extension](t, w); !slices.Equal(e.Permissions, []string{"international"}) {
		t.Errorf("set permissions %v", e.Permissions)
	}
	if e, _ := f.store.GetExtension(t.Context(), "1002"); !slices.Equal(e.Permissions, []string{"international"}) {
		t.Errorf("stored permissions %v", e.Permissions)
	}
	// GET dialplan with defaults.
	w = f.do(t, "GET", "/api/v1/dialplan", testToken, "", "")
	if p := decodeBody[model.DialPlan](t, w); p.InternationalPrefix != "00" || len(p.EmergencyNumbers) != 3 {
		t.Errorf("dialplan %s", w.Body)
	}
}
