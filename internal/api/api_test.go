package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
	"github.com/trunkline/trunkline/internal/store/sqlite"
)

const testToken = "s3cret-admin-token"

// fixture is an API over a real SQLite store holding extension 1001.
type fixture struct {
	store   store.Store
	handler http.Handler
	changes atomic.Int32
}

func newFixture(t *testing.T, mod ...func(*Options)) *fixture {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := model.Extension{Number: "1001", Name: "Alice", Password: "alicepw1"}
	if err := st.CreateExtension(t.Context(), &e); err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st}
	opts := Options{Store: st, Token: testToken,
		OnChange: func(ctx context.Context) {
			if ctx.Err() != nil {
				t.Error("OnChange got a cancelled context")
			}
			f.changes.Add(1)
		}}
	for _, m := range mod {
		m(&opts)
	}
	f.handler = New(opts).Handler()
	return f
}

// do sends a request; a non-empty body is sent as JSON unless contentType says
// otherwise ("-" = no Content-Type).
func (f *fixture) do(t *testing.T, method, path, token, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		switch contentType {
		case "":
			r.Header.Set("Content-Type", "application/json")
		case "-":
		default:
			r.Header.Set("Content-Type", contentType)
		}
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

func decodeBody[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", w.Code, err, w.Body)
	}
	return v
}

func TestErrors(t *testing.T) {
	big := `{"number":"1002","password":"secret12","name":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	tests := []struct {
		name, method, path, token, contentType, body string
		status                                       int
		field, reason                                string
	}{
		{"missing token", "GET", "/api/v1/extensions", "", "", "", 401, "authorization", "missing bearer token"},
		{"bad token", "GET", "/api/v1/extensions", "wrong", "", "", 401, "authorization", "invalid token"},
		{"token prefix", "GET", "/api/v1/extensions", testToken[:5], "", "", 401, "authorization", "invalid token"},
		{"unknown route needs token", "GET", "/api/v1/nope", "", "", "", 401, "authorization", "missing bearer token"},
		{"openapi needs token", "GET", "/api/v1/openapi.json", "", "", "", 401, "authorization", "missing bearer token"},
		{"unknown field", "POST", "/api/v1/extensions", testToken, "",
			`{"number":"1002","password":"secret12","colour":"red"}`, 400, "colour", "unknown field"},
		{"server field is unknown", "POST", "/api/v1/extensions", testToken, "",
			`{"number":"1002","password":"secret12","created_at":"2026-01-01T00:00:00Z"}`, 400, "created_at", "unknown field"},
		{"duplicate extension", "POST", "/api/v1/extensions", testToken, "",
			`{"number":"1001","password":"secret12"}`, 409, "number", "already exists"},
		{"empty password", "POST", "/api/v1/extensions", testToken, "",
			`{"number":"1002","password":""}`, 400, "password", "required"},
		{"short password", "POST", "/api/v1/extensions", testToken, "",
			`{"number":"1002","password":"abc"}`, 400, "password", "shorter than 6 characters"},
		{"non-numeric extension", "POST", "/api/v1/extensions", testToken, "",
			`{"number":"10a2","password":"secret12"}`, 400, "number", "must contain digits only"},
		{"missing number", "POST", "/api/v1/extensions", testToken, "",
			`{"password":"secret12"}`, 400, "number", "required"},
		{"negative max_calls", "POST", "/api/v1/extensions", testToken, "",
			`{"number":"1002","password":"secret12","max_calls":-1}`, 400, "max_calls", "must not be negative"},
		{"bad JSON", "POST", "/api/v1/extensions", testToken, "", `{"number":`, 400, "body", "malformed JSON"},
		{"bad JSON syntax", "POST", "/api/v1/extensions", testToken, "", `{number: 1002}`, 400, "body", "malformed JSON"},
		{"wrong type", "POST", "/api/v1/extensions", testToken, "",
			`{"number":"1002","password":"secret12","max_calls":"two"}`, 400, "max_calls", "must be an integer"},
		{"not an object", "POST", "/api/v1/extensions", testToken, "", `["1002"]`, 400, "body", "must be an object"},
		{"trailing data", "POST", "/api/v1/extensions", testToken, "",
			`{"number":"1002","password":"secret12"} {}`, 400, "body", "must contain a single JSON object"},
		{"empty body", "POST", "/api/v1/extensions", testToken, "", "", 400, "body", "required"},
		{"no content type", "POST", "/api/v1/extensions", testToken, "-",
			`{"number":"1002","password":"secret12"}`, 415, "content-type", "must be application/json"},
		{"form content type", "POST", "/api/v1/extensions", testToken, "application/x-www-form-urlencoded",
			`number=1002`, 415, "content-type", "must be application/json"},
		{"body too large", "POST", "/api/v1/extensions", testToken, "", big, 413, "body", "larger than 1 MiB"},
		{"wrong path/body number", "PUT", "/api/v1/extensions/1001", testToken, "",
			`{"number":"1002","name":"x"}`, 400, "number", "does not match the path"},
		{"put non-numeric", "PUT", "/api/v1/extensions/abc", testToken, "", `{"name":"x"}`, 400, "number", "must contain digits only"},
		{"put unknown extension", "PUT", "/api/v1/extensions/1009", testToken, "", `{"name":"x"}`, 404, "number", "not found"},
		{"put unknown field", "PUT", "/api/v1/extensions/1001", testToken, "", `{"nmae":"x"}`, 400, "nmae", "unknown field"},
		{"get unknown extension", "GET", "/api/v1/extensions/1009", testToken, "", "", 404, "number", "not found"},
		{"delete unknown extension", "DELETE", "/api/v1/extensions/1009", testToken, "", "", 404, "number", "not found"},
		{"unknown route", "GET", "/api/v1/nope", testToken, "", "", 404, "path", "not found"},
		{"method not allowed", "POST", "/api/v1/health", testToken, "", `{}`, 405, "method", "not allowed"},
		{"method not allowed on item", "PATCH", "/api/v1/extensions/1001", testToken, "", `{}`, 405, "method", "not allowed"},
		{"bad limit", "GET", "/api/v1/cdrs?limit=abc", testToken, "", "", 400, "limit", "must be a non-negative integer"},
		{"negative before", "GET", "/api/v1/cdrs?before=-1", testToken, "", "", 400, "before", "must be a non-negative integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w := f.do(t, tt.method, tt.path, tt.token, tt.contentType, tt.body)
			if w.Code != tt.status {
				t.Fatalf("status = %d; want %d\n%s", w.Code, tt.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			got := decodeBody[map[string]string](t, w)
			if got["field"] != tt.field || got["reason"] != tt.reason || got["error"] == "" {
				t.Errorf("error = %v; want field %q, reason %q and a message", got, tt.field, tt.reason)
			}
			if len(got) != 3 {
				t.Errorf("error has keys %v; want exactly error, field, reason", got)
			}
			if tt.status == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q; want Bearer", w.Header().Get("WWW-Authenticate"))
			}
			if tt.status == 405 && w.Header().Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			if n := f.changes.Load(); n != 0 {
				t.Errorf("OnChange called %d times after a failed request", n)
			}
		})
	}
}

func TestEmptyTokenLocksAPI(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Token = "" })
	if w := f.do(t, "GET", "/api/v1/extensions", "anything", "", ""); w.Code != 401 {
		t.Fatalf("status = %d; want 401 when no token is configured", w.Code)
	}
	if w := f.do(t, "GET", "/api/v1/health", "", "", ""); w.Code != 200 {
		t.Fatalf("health status = %d; want 200", w.Code)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "GET", "/api/v1/health", "", "", "")
	if got := decodeBody[map[string]string](t, w); w.Code != 200 || got["status"] != "ok" {
		t.Fatalf("health = %d %v; want 200 {status: ok}", w.Code, got)
	}
}

func TestExtensionLifecycle(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "POST", "/api/v1/extensions", testToken, "application/json; charset=utf-8",
		`{"number":"1002","name":"Bob","password":"bobpass1","caller_id":"+442071234567","max_calls":2}`)
	if w.Code != 201 || w.Header().Get("Location") != "/api/v1/extensions/1002" {
		t.Fatalf("create = %d, Location %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	created := decodeBody[model.Extension](t, w)
	if created.Number != "1002" || created.Name != "Bob" || created.MaxCalls != 2 || created.CreatedAt.IsZero() {
		t.Fatalf("created = %+v", created)
	}

	// PUT without password keeps the stored one; number may be omitted.
	w = f.do(t, "PUT", "/api/v1/extensions/1002", testToken, "", `{"name":"Robert","disabled":true}`)
	if w.Code != 200 {
		t.Fatalf("update = %d\n%s", w.Code, w.Body)
	}
	updated := decodeBody[model.Extension](t, w)
	if updated.Name != "Robert" || !updated.Disabled || updated.CallerID != "" || !updated.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("updated = %+v", updated)
	}
	stored, err := f.store.GetExtension(t.Context(), "1002")
	if err != nil || stored.Password != "bobpass1" {
		t.Fatalf("stored password after PUT without password = %q, %v; want kept", stored.Password, err)
	}
	// PUT with a password changes it.
	w = f.do(t, "PUT", "/api/v1/extensions/1002", testToken, "", `{"number":"1002","password":"newpass1"}`)
	if w.Code != 200 {
		t.Fatalf("update password = %d\n%s", w.Code, w.Body)
	}
	if stored, _ := f.store.GetExtension(t.Context(), "1002"); stored.Password != "newpass1" {
		t.Fatalf("stored password = %q; want newpass1", stored.Password)
	}

	w = f.do(t, "GET", "/api/v1/extensions", testToken, "", "")
	list := decodeBody[struct{ Extensions []model.Extension }](t, w)
	if w.Code != 200 || len(list.Extensions) != 2 || list.Extensions[0].Number != "1001" {
		t.Fatalf("list = %d %+v", w.Code, list)
	}
	w = f.do(t, "GET", "/api/v1/extensions/1002", testToken, "", "")
	if got := decodeBody[model.Extension](t, w); w.Code != 200 || got.Number != "1002" || got.Name != "" {
		t.Fatalf("get = %d %+v", w.Code, got)
	}

	w = f.do(t, "DELETE", "/api/v1/extensions/1002", testToken, "", "")
	if w.Code != 204 || w.Body.Len() != 0 {
		t.Fatalf("delete = %d %q; want 204 and no body", w.Code, w.Body)
	}
	if _, err := f.store.GetExtension(t.Context(), "1002"); err == nil {
		t.Fatal("extension still stored after DELETE")
	}
	if n := f.changes.Load(); n != 4 {
		t.Fatalf("OnChange called %d times; want 4 (create, 2 updates, delete)", n)
	}
}

// TestPasswordNeverReturned checks every response that carries an extension.
func TestPasswordNeverReturned(t *testing.T) {
	f := newFixture(t)
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/api/v1/extensions", `{"number":"1002","password":"bobpass1"}`},
		{"PUT", "/api/v1/extensions/1002", `{"password":"bobpass2"}`},
		{"GET", "/api/v1/extensions/1001", ""},
		{"GET", "/api/v1/extensions", ""},
	} {
		w := f.do(t, req.method, req.path, testToken, "", req.body)
		if w.Code >= 300 {
			t.Fatalf("%s %s = %d\n%s", req.method, req.path, w.Code, w.Body)
		}
		if s := w.Body.String(); strings.Contains(s, "password") || strings.Contains(s, "pass1") ||
			strings.Contains(s, "alicepw1") {
			t.Errorf("%s %s leaks the password:\n%s", req.method, req.path, s)
		}
	}
}

func TestCDRPaging(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		c := model.CDR{CallID: "c" + string(rune('0'+i)), StartTime: time.Now(), EndTime: time.Now()}
		if err := f.store.InsertCDR(t.Context(), &c); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		CDRs       []model.CDR `json:"cdrs"`
		NextBefore int64       `json:"next_before"`
	}
	var ids []int64
	path := "/api/v1/cdrs?limit=2"
	for range 5 {
		w := f.do(t, "GET", path, testToken, "", "")
		p := decodeBody[page](t, w)
		if w.Code != 200 || p.CDRs == nil {
			t.Fatalf("GET %s = %d %s", path, w.Code, w.Body)
		}
		for _, c := range p.CDRs {
			ids = append(ids, c.ID)
		}
		if p.NextBefore == 0 {
			break
		}
		path = "/api/v1/cdrs?limit=2&before=" + itoa(p.NextBefore)
	}
	if got := len(ids); got != 5 || ids[0] != 5 || ids[4] != 1 {
		t.Fatalf("paged IDs = %v; want 5..1", ids)
	}
	w := f.do(t, "GET", "/api/v1/cdrs", testToken, "", "")
	if p := decodeBody[page](t, w); len(p.CDRs) != 5 || p.NextBefore != 0 {
		t.Fatalf("default page = %d CDRs, next %d; want 5, 0", len(p.CDRs), p.NextBefore)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

type fakeRegs []model.Binding

func (f fakeRegs) Bindings() []model.Binding { return f }

type fakeCalls []model.ActiveCall

func (f fakeCalls) Active() []model.ActiveCall { return f }

func TestLiveViews(t *testing.T) {
	now := time.Now().UTC()
	f := newFixture(t, func(o *Options) {
		o.Registrations = fakeRegs{{AOR: "1002", Contact: "sip:b"}, {AOR: "1001", Contact: "sip:z"}, {AOR: "1001", Contact: "sip:a"}}
		o.Calls = fakeCalls{{ID: "2", StartTime: now}, {ID: "1", StartTime: now.Add(-time.Minute)}}
	})
	w := f.do(t, "GET", "/api/v1/registrations", testToken, "", "")
	regs := decodeBody[struct{ Registrations []model.Binding }](t, w)
	var got []string
	for _, b := range regs.Registrations {
		got = append(got, b.AOR+" "+b.Contact)
	}
	if strings.Join(got, ",") != "1001 sip:a,1001 sip:z,1002 sip:b" {
		t.Errorf("registrations = %v; want sorted by AOR, contact", got)
	}
	w = f.do(t, "GET", "/api/v1/calls", testToken, "", "")
	calls := decodeBody[struct{ Calls []model.ActiveCall }](t, w)
	if len(calls.Calls) != 2 || calls.Calls[0].ID != "1" {
		t.Errorf("calls = %+v; want oldest first", calls.Calls)
	}

	// Without live sources the lists are empty arrays, not null.
	f = newFixture(t)
	for _, p := range []string{"/api/v1/registrations", "/api/v1/calls"} {
		w := f.do(t, "GET", p, testToken, "", "")
		if w.Code != 200 || !strings.Contains(w.Body.String(), "[]") {
			t.Errorf("GET %s = %d %s; want an empty array", p, w.Code, w.Body)
		}
	}
}

func TestMounts(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("metrics")) })
		o.Console = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic("boom")
			}
			w.Write([]byte("console"))
		})
	})
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/metrics", 200, "metrics"},
		{"/", 200, "console"},
		{"/index.html", 200, "console"},
		{"/api/v1/unknown", 401, "authorization"}, // the console must not swallow API paths
		{"/panic", 500, "internal error"},
	} {
		w := f.do(t, "GET", tc.path, "", "", "")
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("GET %s = %d %q; want %d containing %q", tc.path, w.Code, w.Body, tc.code, tc.body)
		}
	}
	// Without Metrics and Console, those paths are plain 404s.
	f = newFixture(t)
	if w := f.do(t, "GET", "/metrics", "", "", ""); w.Code != 404 {
		t.Errorf("GET /metrics without Metrics = %d; want 404", w.Code)
	}
}

func TestDebugNeedsToken(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Debug = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	})
	if w := f.do(t, "GET", "/debug/pprof/", "", "", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("without token: %d, want 401", w.Code)
	}
	if w := f.do(t, "GET", "/debug/pprof/", testToken, "", ""); w.Code != http.StatusTeapot {
		t.Fatalf("with token: %d, want the debug handler", w.Code)
	}
}
