package api

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes keeps openapi.json in step with routes(): the same
// operations, and "security: []" on exactly the public ones.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q; want 3.x", doc.OpenAPI)
	}
	documented := map[string]bool{} // pattern -> public
	for path, item := range doc.Paths {
		for method, raw := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
			default:
				continue // parameters, summary, ...
			}
			var op struct {
				Security *[]any `json:"security"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			documented[strings.ToUpper(method)+" "+path] = op.Security != nil && len(*op.Security) == 0
		}
	}
	a := New(Options{})
	served := map[string]bool{}
	for _, rt := range a.routes() {
		served[rt.pattern()] = rt.public
	}
	for p, public := range served {
		docPublic, ok := documented[p]
		switch {
		case !ok:
			t.Errorf("route %s is not in openapi.json", p)
		case docPublic != public:
			t.Errorf("route %s: public = %v, openapi.json says %v", p, public, docPublic)
		}
	}
	for p := range documented {
		if _, ok := served[p]; !ok {
			t.Errorf("openapi.json documents %s, which no route serves", p)
		}
	}
}

// TestOpenAPIRefs checks that every $ref points at a defined component.
func TestOpenAPIRefs(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	sort.Strings(refs)
	for _, ref := range refs {
		var node any = doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := node.(map[string]any)
			if !ok || m[part] == nil {
				t.Errorf("$ref %s does not resolve", ref)
				break
			}
			node = m[part]
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t)
	w := f.do(t, "GET", "/api/v1/openapi.json", testToken, "", "")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), openAPIDoc) {
		t.Fatalf("GET /api/v1/openapi.json = %d; want 200 and the embedded document", w.Code)
	}
}
