package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestAPIBadInput: the running binary rejects bad extension input with a 4xx and a JSON
// error {"error","field","reason"} that names the offending field.
func TestAPIBadInput(t *testing.T) {
	t.Parallel()
	inst := startTrunkline(t)
	inst.API.createExtension(t, "1001", pw1001, "Existing")

	cases := []struct {
		name  string
		body  string
		field string
	}{
		{"unknown JSON field", `{"number":"1002","password":"secret-1002","name":"x","colour":"red"}`, "colour"},
		{"duplicate extension", `{"number":"1001","password":"secret-1001","name":"again"}`, "number"},
		{"empty password", `{"number":"1003","password":"","name":"x"}`, "password"},
		{"non-numeric number", `{"number":"10a3","password":"secret-1003","name":"x"}`, "number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, data, err := inst.API.do("POST", "/api/v1/extensions", tc.body)
			if err != nil {
				t.Fatalf("POST /api/v1/extensions: %v", err)
			}
			if code < 400 || code > 499 {
				t.Fatalf("POST %s: status %d, expected 4xx; body: %s", tc.body, code, data)
			}
			var e struct {
				Error  *string `json:"error"`
				Field  *string `json:"field"`
				Reason *string `json:"reason"`
			}
			if err := json.Unmarshal(data, &e); err != nil {
				t.Fatalf("POST %s: status %d with a body that is not JSON (%v): %s", tc.body, code, err, data)
			}
			if e.Error == nil || *e.Error == "" || e.Reason == nil || *e.Reason == "" || e.Field == nil {
				t.Errorf("POST %s: expected JSON with non-empty \"error\", \"field\", \"reason\"; got %s", tc.body, data)
			}
			if e.Field != nil && *e.Field != tc.field {
				t.Errorf("POST %s: field %q, expected %q; body: %s", tc.body, *e.Field, tc.field, data)
			}
		})
	}

	// None of the rejected requests may have created or changed anything.
	var got []string
	for _, e := range inst.API.extensions(t) {
		got = append(got, e.Number+"/"+e.Name)
	}
	if len(got) != 1 || got[0] != "1001/Existing" {
		t.Errorf("extensions after the rejected requests: %v, expected only [1001/Existing]", got)
	}

	// And the API needs the token.
	anon := &apiClient{base: inst.API.base, hc: inst.API.hc}
	code, data, err := anon.do("GET", "/api/v1/extensions", nil)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/extensions without token: status %d, expected 401; body: %s", code, data)
	}
}
