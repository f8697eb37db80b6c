package api

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

// fakeTrunks is a trunk runtime that knows the states it holds.
type fakeTrunks []model.TrunkState

func (f fakeTrunks) State(name string) (model.TrunkState, bool) {
	for _, s := range f {
		if s.Name == name {
			return s, true
		}
	}
	return model.TrunkState{}, false
}

func (f fakeTrunks) States() []model.TrunkState { return f }

// newTrunkFixture is newFixture plus trunk "acme" (register, DID +13125550100)
// and trunk "lab" (ip), written straight to the store.
func newTrunkFixture(t *testing.T, mod ...func(*Options)) *fixture {
	t.Helper()
	f := newFixture(t, mod...)
	for _, tr := range []model.Trunk{
		{Name: "acme", Kind: model.TrunkRegister, Enabled: true, Host: "sip.acme.example",
			Username: "acme-user", Password: "acme-secret",
			DIDs: []model.TrunkDID{{Number: "+13125550100", Extension: "1001"}}},
		{Name: "lab", Kind: model.TrunkIP, Host: "192.0.2.50"},
	} {
		tr.Defaults()
		if err := f.store.CreateTrunk(t.Context(), &tr); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func TestTrunkErrors(t *testing.T) {
	const reg = `"kind":"register","host":"sip.example.com","username":"u","password":"p"`
	noRuntime := func(o *Options) {}
	withRuntime := func(o *Options) { o.Trunks = fakeTrunks{{Name: "acme", Registration: "registered"}} }
	tests := []struct {
		name, method, path, body string
		mod                      func(*Options)
		status                   int
		field, reason            string
	}{
		// create: validation
		{"missing name", "POST", "/api/v1/trunks", `{` + reg + `}`, noRuntime, 400, "name", "required"},
		{"bad name", "POST", "/api/v1/trunks", `{"name":"Big Trunk",` + reg + `}`, noRuntime, 400, "name",
			"must contain only a-z, 0-9, _ and -"},
		{"missing kind", "POST", "/api/v1/trunks", `{"name":"x","host":"h"}`, noRuntime, 400, "kind", "required"},
		{"bad kind", "POST", "/api/v1/trunks", `{"name":"x","kind":"sip"}`, noRuntime, 400, "kind",
			"must be one of register, ip, accept_register"},
		{"register without host", "POST", "/api/v1/trunks", `{"name":"x","kind":"register","username":"u","password":"p"}`,
			noRuntime, 400, "host", "required"},
		{"register without password", "POST", "/api/v1/trunks", `{"name":"x","kind":"register","host":"h","username":"u"}`,
			noRuntime, 400, "password", "required"},
		{"digest on INVITE without username", "POST", "/api/v1/trunks",
			`{"name":"x","kind":"register","register":false,"host":"h","password":"p"}`, noRuntime, 400, "username", "required"},
		{"register flag on ip trunk", "POST", "/api/v1/trunks", `{"name":"x","kind":"ip","host":"h","register":true}`,
			noRuntime, 400, "register", "only allowed for kind register"},
		{"ip without address", "POST", "/api/v1/trunks", `{"name":"x","kind":"ip"}`, noRuntime, 400, "host",
			"required unless associated_ips is set"},
		{"bad associated ip", "POST", "/api/v1/trunks", `{"name":"x","kind":"ip","associated_ips":["10.0.0.0/8","10.1"]}`,
			noRuntime, 400, "associated_ips[1]", "must be an IP address, a CIDR or a host name"},
		{"accept_register short password", "POST", "/api/v1/trunks",
			`{"name":"x","kind":"accept_register","username":"b","password":"short"}`, noRuntime, 400, "password",
			"shorter than 8 characters"},
		{"accept_register with host", "POST", "/api/v1/trunks",
			`{"name":"x","kind":"accept_register","host":"h","username":"b","password":"long-enough"}`, noRuntime, 400,
			"host", "not allowed for kind accept_register"},
		{"bad port", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"port":70000}`, noRuntime, 400, "port",
			"must be between 0 and 65535"},
		{"bad transport", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"transport":"sctp"}`, noRuntime, 400,
			"transport", "must be one of udp, tcp, tls"},
		{"bad register_expiry", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"register_expiry":30}`, noRuntime, 400,
			"register_expiry", "must be between 60 and 86400"},
		{"tech prefix missing", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"number_format":"tech_prefix"}`,
			noRuntime, 400, "tech_prefix", "required with number_format tech_prefix"},
		{"bad did source", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"did_source":"from"}`, noRuntime, 400,
			"did_source", "must be one of request_uri, to, p_called_party_id, diversion, auto"},
		{"bad caller id header", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"caller_id_headers":["xyz"]}`,
			noRuntime, 400, "caller_id_headers[0]", "must be one of from, pai, rpid, ppi"},
		{"bad failover code", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"failover_codes":[200]}`, noRuntime, 400,
			"failover_codes[0]", "must be between 300 and 699"},
		{"bad options interval", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"options_interval":-2}`, noRuntime, 400,
			"options_interval", "must be -1 (off) or between 0 and 3600"},
		{"negative max_cps", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"max_cps":-1}`, noRuntime, 400,
			"max_cps", "must not be negative"},
		{"bad did", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"dids":[{"number":"1-800"}]}`, noRuntime, 400,
			"dids[0].number", "must be digits with an optional leading +"},
		{"duplicate did in body", "POST", "/api/v1/trunks",
			`{"name":"x",` + reg + `,"dids":[{"number":"+1555"},{"number":"+1555"}]}`, noRuntime, 400, "dids[1].number", "duplicate"},
		{"bad did extension", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"dids":[{"number":"+1555","extension":"x"}]}`,
			noRuntime, 400, "dids[0].extension", "must contain digits only"},
		{"bad dtmf", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"dtmf_mode":"auto"}`, noRuntime, 400,
			"dtmf_mode", "must be one of rfc2833, info, inband"},
		{"owned header", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"headers":{"Via":"x"}}`, noRuntime, 400,
			"headers[Via]", "set by Trunkline; not allowed"},
		{"bad header name", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"headers":{"X Token":"x"}}`, noRuntime, 400,
			"headers[X Token]", "must be a SIP header name"},

		// create: decoding
		{"unknown field", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"secret":"y"}`, noRuntime, 400,
			"secret", "unknown field"},
		{"server field is unknown", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"updated_at":"2026-01-01T00:00:00Z"}`,
			noRuntime, 400, "updated_at", "unknown field"},
		{"status is not writable", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"status":{}}`,
			noRuntime, 400, "status", "unknown field"},
		{"wrong type", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"port":"5060"}`, noRuntime, 400,
			"port", "must be an integer"},
		{"wrong did type", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"dids":["+1555"]}`, noRuntime, 400,
			"dids", "must be an object"},
		{"empty body", "POST", "/api/v1/trunks", ``, noRuntime, 400, "body", "required"},

		// create: conflicts
		{"duplicate name", "POST", "/api/v1/trunks", `{"name":"acme",` + reg + `}`, noRuntime, 409, "name", "already exists"},
		{"duplicate DID", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"dids":[{"number":"+1555"},{"number":"+13125550100"}]}`,
			noRuntime, 409, "dids", "already assigned to another trunk"},

		{"duplicate DID without plus", "POST", "/api/v1/trunks", `{"name":"x",` + reg + `,"dids":[{"number":"13125550100"}]}`,
			noRuntime, 409, "dids", "already assigned to another trunk"},

		// get, put, delete
		{"get unknown", "GET", "/api/v1/trunks/nope", "", noRuntime, 404, "name", "not found"},
		{"delete unknown", "DELETE", "/api/v1/trunks/nope", "", noRuntime, 404, "name", "not found"},
		{"put unknown", "PUT", "/api/v1/trunks/nope", `{"kind":"ip","host":"h"}`, noRuntime, 404, "name", "not found"},
		{"put name mismatch", "PUT", "/api/v1/trunks/acme", `{"name":"lab","kind":"ip","host":"h"}`, noRuntime, 400,
			"name", "does not match the path"},
		{"put invalid", "PUT", "/api/v1/trunks/acme", `{"kind":"register","host":"h"}`, noRuntime, 400, "username", "required"},
		{"put kind change needs credentials", "PUT", "/api/v1/trunks/lab", `{"kind":"accept_register","username":"lab"}`,
			noRuntime, 400, "password", "required"},
		{"put DID of another trunk", "PUT", "/api/v1/trunks/lab",
			`{"kind":"ip","host":"192.0.2.50","dids":[{"number":"+13125550100"}]}`, noRuntime, 409, "dids",
			"already assigned to another trunk"},
		{"put unknown field", "PUT", "/api/v1/trunks/acme", `{"kind":"ip","hots":"h"}`, noRuntime, 400, "hots", "unknown field"},
		{"method not allowed", "PATCH", "/api/v1/trunks/acme", `{}`, noRuntime, 405, "method", "not allowed"},
		{"method not allowed on status", "POST", "/api/v1/trunks/acme/status", `{}`, noRuntime, 405, "method", "not allowed"},

		// status
		{"status without runtime", "GET", "/api/v1/trunks/acme/status", "", noRuntime, 503, "trunks", "trunk runtime not running"},
		{"status of unknown trunk", "GET", "/api/v1/trunks/nope/status", "", withRuntime, 404, "name", "not found"},
		{"status not loaded", "GET", "/api/v1/trunks/lab/status", "", withRuntime, 503, "trunks", "trunk not loaded yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTrunkFixture(t, tt.mod)
			w := f.do(t, tt.method, tt.path, testToken, "", tt.body)
			if w.Code != tt.status {
				t.Fatalf("status = %d; want %d\n%s", w.Code, tt.status, w.Body)
			}
			got := decodeBody[map[string]string](t, w)
			if got["field"] != tt.field || got["reason"] != tt.reason || got["error"] == "" || len(got) != 3 {
				t.Errorf("error = %v; want field %q, reason %q and a message", got, tt.field, tt.reason)
			}
			if n := f.changes.Load(); n != 0 {
				t.Errorf("OnChange called %d times after a failed request", n)
			}
		})
	}
}

func TestTrunkDuplicateDIDMessage(t *testing.T) {
	f := newTrunkFixture(t)
	w := f.do(t, "POST", "/api/v1/trunks", testToken, "",
		`{"name":"x","kind":"ip","host":"h","dids":[{"number":"+13125550100"}]}`)
	if got := decodeBody[map[string]string](t, w); got["error"] != "DID +13125550100 belongs to trunk acme" {
		t.Fatalf("error = %q; want it to name the DID and its trunk", got["error"])
	}
}

func TestTrunkLifecycle(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "POST", "/api/v1/trunks", testToken, "",
		`{"name":"telnyx","kind":"register","host":"sip.telnyx.com","username":"pbx1","password":"tel-secret",
		  "dids":[{"number":"+13125550101"},{"number":"+13125550100","extension":"1001"}]}`)
	if w.Code != 201 || w.Header().Get("Location") != "/api/v1/trunks/telnyx" {
		t.Fatalf("create = %d, Location %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	created := decodeBody[model.Trunk](t, w)
	// Defaults were applied and enabled defaults to true.
	if !created.Enabled || created.Transport != "udp" || created.RegisterExpiry != 600 ||
		created.NumberFormat != "e164_plus" || created.DIDSource != "auto" || created.DTMFMode != "rfc2833" ||
		!slices.Equal(created.CallerIDHeaders, []string{"from"}) || created.InviteTimeoutMS != 2000 ||
		created.OptionsInterval != 30 || created.ProbeDownAfter != 3 || created.ProbeUpAfter != 2 ||
		created.CreatedAt.IsZero() || created.Password != "" {
		t.Fatalf("created = %+v", created)
	}

	// PUT without password keeps it; the name may be omitted; omitted fields
	// return to their defaults; DIDs are replaced.
	w = f.do(t, "PUT", "/api/v1/trunks/telnyx", testToken, "",
		`{"kind":"register","register":false,"enabled":false,"host":"sip.telnyx.com","username":"pbx1",
		  "transport":"tls","options_interval":-1,"dids":[{"number":"+13125550102"}]}`)
	if w.Code != 200 {
		t.Fatalf("update = %d\n%s", w.Code, w.Body)
	}
	updated := decodeBody[model.Trunk](t, w)
	if updated.Enabled || updated.Register == nil || *updated.Register || updated.Transport != "tls" ||
		updated.OptionsInterval != -1 || !updated.CreatedAt.Equal(created.CreatedAt) ||
		len(updated.DIDs) != 1 || updated.DIDs[0].Number != "+13125550102" {
		t.Fatalf("updated = %+v", updated)
	}
	stored, err := f.store.GetTrunk(t.Context(), "telnyx")
	if err != nil || stored.Password != "tel-secret" {
		t.Fatalf("stored password after PUT without password = %q, %v; want kept", stored.Password, err)
	}
	w = f.do(t, "PUT", "/api/v1/trunks/telnyx", testToken, "",
		`{"name":"telnyx","kind":"register","host":"sip.telnyx.com","username":"pbx1","password":"new-secret"}`)
	if w.Code != 200 {
		t.Fatalf("update password = %d\n%s", w.Code, w.Body)
	}
	if stored, _ := f.store.GetTrunk(t.Context(), "telnyx"); stored.Password != "new-secret" || stored.DIDs != nil {
		t.Fatalf("stored = %+v; want the new password and no DIDs", stored)
	}

	w = f.do(t, "POST", "/api/v1/trunks", testToken, "", `{"name":"flowroute","kind":"ip","associated_ips":["34.210.91.112/28"]}`)
	if w.Code != 201 {
		t.Fatalf("create ip = %d\n%s", w.Code, w.Body)
	}
	w = f.do(t, "GET", "/api/v1/trunks", testToken, "", "")
	list := decodeBody[struct{ Trunks []model.Trunk }](t, w)
	if w.Code != 200 || len(list.Trunks) != 2 || list.Trunks[0].Name != "flowroute" || list.Trunks[1].Name != "telnyx" {
		t.Fatalf("list = %d %+v", w.Code, list)
	}
	w = f.do(t, "GET", "/api/v1/trunks/telnyx", testToken, "", "")
	if got := decodeBody[model.Trunk](t, w); w.Code != 200 || got.Host != "sip.telnyx.com" || got.Password != "" {
		t.Fatalf("get = %d %+v", w.Code, got)
	}

	w = f.do(t, "DELETE", "/api/v1/trunks/telnyx", testToken, "", "")
	if w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("delete = %d %q; want 204 and no body", w.Code, w.Body)
	}
	if _, err := f.store.GetTrunk(t.Context(), "telnyx"); err == nil {
		t.Fatal("trunk still stored after DELETE")
	}
	if n := f.changes.Load(); n != 5 {
		t.Fatalf("OnChange called %d times; want 5 (2 creates, 2 updates, delete)", n)
	}
}

func TestTrunkStatus(t *testing.T) {
	since := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	state := model.TrunkState{Name: "acme", Registration: "registered", Reachability: "up", LastCode: 200,
		LastChange: since, RTTMillis: 21.5, ActiveCalls: 2, Target: "192.0.2.10:5060"}
	f := newTrunkFixture(t, func(o *Options) { o.Trunks = fakeTrunks{state} })

	w := f.do(t, "GET", "/api/v1/trunks/acme/status", testToken, "", "")
	if got := decodeBody[model.TrunkState](t, w); w.Code != 200 || !reflect.DeepEqual(got, state) {
		t.Fatalf("status = %d %+v; want %+v", w.Code, got, state)
	}

	// The list and the item carry the status where the runtime knows it.
	type view struct {
		model.Trunk
		Status *model.TrunkState `json:"status"`
	}
	w = f.do(t, "GET", "/api/v1/trunks", testToken, "", "")
	list := decodeBody[struct{ Trunks []view }](t, w)
	if len(list.Trunks) != 2 || list.Trunks[0].Status == nil || list.Trunks[0].Status.ActiveCalls != 2 ||
		list.Trunks[1].Status != nil {
		t.Fatalf("list = %s; want acme with status, lab without", w.Body)
	}
	w = f.do(t, "GET", "/api/v1/trunks/acme", testToken, "", "")
	if got := decodeBody[view](t, w); got.Status == nil || got.Status.Registration != "registered" {
		t.Fatalf("get = %s; want a status", w.Body)
	}

	// Without a runtime there is no status anywhere, and the list still works.
	f = newTrunkFixture(t)
	w = f.do(t, "GET", "/api/v1/trunks", testToken, "", "")
	if w.Code != 200 || strings.Contains(w.Body.String(), `"status"`) {
		t.Fatalf("list without runtime = %d %s", w.Code, w.Body)
	}
}

// TestTrunkPasswordNeverReturned checks every response that carries a trunk.
func TestTrunkPasswordNeverReturned(t *testing.T) {
	f := newTrunkFixture(t, func(o *Options) { o.Trunks = fakeTrunks{{Name: "acme"}, {Name: "x"}} })
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/api/v1/trunks", `{"name":"x","kind":"accept_register","username":"branch","password":"branch-pw-1"}`},
		{"PUT", "/api/v1/trunks/x", `{"kind":"accept_register","username":"branch","password":"branch-pw-2"}`},
		{"GET", "/api/v1/trunks/acme", ""},
		{"GET", "/api/v1/trunks", ""},
		{"GET", "/api/v1/trunks/acme/status", ""},
	} {
		w := f.do(t, req.method, req.path, testToken, "", req.body)
		if w.Code >= 300 {
			t.Fatalf("%s %s = %d\n%s", req.method, req.path, w.Code, w.Body)
		}
		if s := w.Body.String(); strings.Contains(s, "password") || strings.Contains(s, "branch-pw") ||
			strings.Contains(s, "acme-secret") {
			t.Errorf("%s %s leaks the password:\n%s", req.method, req.path, s)
		}
	}
}

// TestTrunkInputMatchesModel keeps trunkInput in step with model.Trunk: every
// JSON field of the model except the server's timestamps is writable, with the
// same name and type (enabled becomes optional).
func TestTrunkInputMatchesModel(t *testing.T) {
	fields := func(typ reflect.Type) map[string]reflect.Type {
		m := map[string]reflect.Type{}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			m[name] = f.Type
		}
		return m
	}
	want := fields(reflect.TypeFor[model.Trunk]())
	delete(want, "created_at")
	delete(want, "updated_at")
	want["enabled"] = reflect.TypeFor[*bool]()
	input := fields(reflect.TypeFor[trunkInput]())
	if !reflect.DeepEqual(want, input) {
		for k, v := range want {
			if input[k] != v {
				t.Errorf("model.Trunk field %q (%v): trunkInput has %v", k, v, input[k])
			}
		}
		for k := range input {
			if _, ok := want[k]; !ok {
				t.Errorf("trunkInput field %q is not in model.Trunk", k)
			}
		}
	}
	// And the conversion copies every field: a fully set input survives.
	in := trunkInput{}
	v := reflect.ValueOf(&in).Elem()
	for i := range v.NumField() {
		fillNonZero(v.Field(i))
	}
	tr := in.trunk()
	tv := reflect.ValueOf(tr)
	for i := range tv.NumField() {
		name := tv.Type().Field(i).Name
		if name != "CreatedAt" && name != "UpdatedAt" && tv.Field(i).IsZero() {
			t.Errorf("trunkInput.trunk() does not copy %s", name)
		}
	}
}

// fillNonZero sets v to some non-zero value of its type.
func fillNonZero(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int:
		v.SetInt(1)
	case reflect.Float64:
		v.SetFloat(1)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillNonZero(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf("v"))
	}
}

// TestConfigurationDocExamples creates the example trunks of
// docs/configuration.md, so the documentation cannot drift from validation.
func TestConfigurationDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	n := 0
	for _, part := range strings.Split(string(doc), "-d '")[1:] {
		body, _, ok := strings.Cut(part, "'")
		if !ok {
			t.Fatalf("unterminated -d body: %.60q", part)
		}
		w := f.do(t, "POST", "/api/v1/trunks", testToken, "", body)
		if w.Code != 201 {
			t.Errorf("example %d = %d %s\n%s", n, w.Code, w.Body, body)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("found %d curl examples in docs/configuration.md; want 3", n)
	}
}

// TestAccountNameClash: an accept_register trunk and an extension must not share a
// digest user name, whichever is created first.
func TestAccountNameClash(t *testing.T) {
	f := newFixture(t) // has extension 1001
	w := f.do(t, "POST", "/api/v1/trunks", testToken, "",
		`{"name":"gw","kind":"accept_register","username":"1001","password":"gwsecret1"}`)
	if w.Code != http.StatusConflict || errField(w.Body.Bytes()) != "username" {
		t.Fatalf("trunk named like an extension: %d %s, want 409 on username", w.Code, w.Body)
	}
	w = f.do(t, "POST", "/api/v1/trunks", testToken, "",
		`{"name":"gw","kind":"accept_register","username":"2001","password":"gwsecret1"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create gw: %d %s", w.Code, w.Body)
	}
	w = f.do(t, "POST", "/api/v1/extensions", testToken, "", `{"number":"2001","password":"secret2001"}`)
	if w.Code != http.StatusConflict || errField(w.Body.Bytes()) != "number" {
		t.Fatalf("extension named like a trunk user: %d %s, want 409 on number", w.Code, w.Body)
	}
}

func errField(body []byte) string {
	var e struct{ Field string }
	_ = json.Unmarshal(body, &e)
	return e.Field
}
