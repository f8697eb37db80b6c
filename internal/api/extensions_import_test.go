package api

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trunkline/trunkline/internal/model"
)

func TestImportExtensions(t *testing.T) {
	var perExtension atomic.Int32
	f := newFixture(t, func(o *Options) {
		o.OnExtension = func(context.Context, string) { perExtension.Add(1) }
	})
	w := f.do(t, "POST", "/api/v1/extensions/import", testToken, "", `{"extensions": [
		{"number":"2001","name":"Bob","password":"bobpass1","caller_id":"+442071234567","max_calls":2},
		{"number":"2002","password":"carolpw1","disabled":true,"permissions":["internal"]},
		{"number":"2003","password":"davepw01","permissions":[]}]}`)
	if w.Code != 201 {
		t.Fatalf("import = %d\n%s", w.Code, w.Body)
	}
	if got := decodeBody[map[string]int](t, w); !reflect.DeepEqual(got, map[string]int{"created": 3}) {
		t.Fatalf("import answered %v; want {created: 3}", got)
	}
	if n, m := f.changes.Load(), perExtension.Load(); n != 1 || m != 0 {
		t.Fatalf("OnChange called %d times, OnExtension %d; want one full reload and no per-extension one", n, m)
	}

	w = f.do(t, "GET", "/api/v1/extensions", testToken, "", "")
	if s := w.Body.String(); strings.Contains(s, "password") || strings.Contains(s, "pw0") || strings.Contains(s, "pass1") {
		t.Fatalf("list leaks a password:\n%s", s)
	}
	list := decodeBody[struct{ Extensions []model.Extension }](t, w)
	if w.Code != 200 || len(list.Extensions) != 4 {
		t.Fatalf("list = %d %+v; want 1001 and the 3 imported", w.Code, list)
	}
	byNumber := map[string]model.Extension{}
	for _, e := range list.Extensions {
		byNumber[e.Number] = e
	}
	bob, carol, dave := byNumber["2001"], byNumber["2002"], byNumber["2003"]
	if bob.Name != "Bob" || bob.CallerID != "+442071234567" || bob.MaxCalls != 2 || bob.Disabled ||
		!reflect.DeepEqual(bob.Permissions, model.DefaultPermissions()) || bob.CreatedAt.IsZero() {
		t.Errorf("2001 = %+v; want as sent, default permissions", bob)
	}
	if !carol.Disabled || !reflect.DeepEqual(carol.Permissions, []string{"internal"}) {
		t.Errorf("2002 = %+v; want disabled, permissions [internal]", carol)
	}
	if len(dave.Permissions) != 0 {
		t.Errorf("2003 permissions = %v; want none (\"permissions\": [])", dave.Permissions)
	}
	if !bob.CreatedAt.Equal(dave.CreatedAt) || !bob.UpdatedAt.Equal(bob.CreatedAt) {
		t.Errorf("times = %v/%v, %v; want one creation time for the batch", bob.CreatedAt, bob.UpdatedAt, dave.CreatedAt)
	}
	stored, err := f.store.GetExtension(t.Context(), "2002")
	if err != nil || stored.Password != "carolpw1" {
		t.Fatalf("stored 2002 = %+v, %v; want its password", stored, err)
	}
}

func TestImportExtensionsErrors(t *testing.T) {
	tooMany := `{"extensions":[` + strings.Repeat(`{},`, maxImportExtensions) + `{}]}`
	tooBig := `{"extensions":[{"number":"2001","password":"secret12","name":"` +
		strings.Repeat("x", maxImportBodyBytes) + `"}]}`
	tests := []struct {
		name, contentType, body string
		status                  int
		field, reason           string
	}{
		{"short password", "", `{"extensions":[{"number":"2001","password":"secret12"},{"number":"2002","password":"secret12"},
			{"number":"2003","password":"abc"}]}`, 400, "extensions[2].password", "shorter than 6 characters"},
		{"missing number", "", `{"extensions":[{"password":"secret12"}]}`, 400, "extensions[0].number", "required"},
		{"missing password", "", `{"extensions":[{"number":"2001","password":"secret12"},{"number":"2002"}]}`,
			400, "extensions[1].password", "required"},
		{"bad permission", "", `{"extensions":[{"number":"2001","password":"secret12"},
			{"number":"2002","password":"secret12","permissions":["galactic"]}]}`,
			400, "extensions[1].permissions[0]", "must be one of internal, national, mobile, international, premium, emergency"},
		{"unknown field in entry", "", `{"extensions":[{"number":"2001","password":"secret12"},
			{"number":"2002","password":"secret12","colour":"red"}]}`, 400, "extensions[1].colour", "unknown field"},
		{"server field in entry", "", `{"extensions":[{"number":"2001","password":"secret12","created_at":"2026-01-01T00:00:00Z"}]}`,
			400, "extensions[0].created_at", "unknown field"},
		{"wrong type in entry", "", `{"extensions":[{"number":"2001","password":"secret12","max_calls":"two"}]}`,
			400, "extensions[0].max_calls", "must be an integer"},
		{"entry not an object", "", `{"extensions":[{"number":"2001","password":"secret12"},"2002"]}`,
			400, "extensions[1]", "must be an object"},
		{"extensions not a list", "", `{"extensions":{"number":"2001"}}`, 400, "extensions", "must be an array"},
		{"unknown top-level field", "", `{"extension":[]}`, 400, "extension", "unknown field"},
		{"empty list", "", `{"extensions":[]}`, 400, "extensions", "must not be empty"},
		{"no list", "", `{}`, 400, "extensions", "must not be empty"},
		{"null list", "", `{"extensions":null}`, 400, "extensions", "must not be empty"},
		{"too many", "", tooMany, 400, "extensions", fmt.Sprintf("more than %d entries", maxImportExtensions)},
		{"existing number", "", `{"extensions":[{"number":"2001","password":"secret12"},{"number":"1001","password":"secret12"}]}`,
			409, "extensions[1].number", "already exists"},
		{"listed twice", "", `{"extensions":[{"number":"2001","password":"secret12"},{"number":"2002","password":"secret12"},
			{"number":"2001","password":"secret12"}]}`, 409, "extensions[2].number", "listed twice"},
		{"accept_register user name", "", `{"extensions":[{"number":"2001","password":"secret12"},{"number":"3001","password":"secret12"}]}`,
			409, "extensions[1].number", "used by accept_register trunk gw"},
		{"empty body", "", "", 400, "body", "required"},
		{"malformed", "", `{"extensions":[{"number":"2001",]}`, 400, "body", "malformed JSON"},
		{"wrong content type", "text/csv", "number,password\n2001,secret12\n", 415, "content-type", "must be application/json"},
		{"no content type", "-", `{"extensions":[{"number":"2001","password":"secret12"}]}`, 415, "content-type", "must be application/json"},
		{"body too large", "", tooBig, 413, "body", "larger than 32 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			gw := model.Trunk{Name: "gw", Kind: model.TrunkAcceptRegister, Enabled: true, Username: "3001", Password: "gwsecret1"}
			if err := f.store.CreateTrunk(t.Context(), &gw); err != nil {
				t.Fatal(err)
			}
			w := f.do(t, "POST", "/api/v1/extensions/import", testToken, tt.contentType, tt.body)
			if w.Code != tt.status {
				t.Fatalf("status = %d; want %d\n%.500s", w.Code, tt.status, w.Body)
			}
			got := decodeBody[map[string]string](t, w)
			if got["field"] != tt.field || got["reason"] != tt.reason || got["error"] == "" || len(got) != 3 {
				t.Errorf("error = %v; want field %q, reason %q and a message", got, tt.field, tt.reason)
			}
			if n := f.changes.Load(); n != 0 {
				t.Errorf("OnChange called %d times after a failed import", n)
			}
			list, err := f.store.ListExtensions(t.Context())
			if err != nil || len(list) != 1 || list[0].Number != "1001" {
				t.Errorf("stored extensions after a failed import = %v, %v; want only 1001", list, err)
			}
		})
	}
}

// TestImportBodyLimit checks that the largest import allowed, with entries of a
// realistic size, fits the import's body limit. (BenchmarkImportExtensions
// imports that many; under the race detector it takes too long for a test.)
func TestImportBodyLimit(t *testing.T) {
	if n := len(importBody(maxImportExtensions, 100000)); n > maxImportBodyBytes {
		t.Fatalf("a body of %d realistic entries is %d bytes, over the limit of %d",
			maxImportExtensions, n, maxImportBodyBytes)
	}
}

// importBody is an import of n extensions numbered from first, each with every
// field set the way a provisioning system would (about 200 bytes of JSON each).
func importBody(n, first int) string {
	var b strings.Builder
	b.WriteString(`{"extensions":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		num := first + i
		fmt.Fprintf(&b, `{"number":"%d","name":"Customer %d Phone %d","password":"pw-%08x-%08x",`+
			`"caller_id":"+4930%08d","max_calls":2,"permissions":["internal","national","mobile","emergency"]}`,
			num, num/100, num%100, num*2654435761%(1<<32), num, num)
	}
	b.WriteString(`]}`)
	return b.String()
}
