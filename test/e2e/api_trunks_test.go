package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// API helpers of the SIP trunk tests (trunk_*_test.go).

// allPermissions lets a test extension call any external number (the default set has no
// "international", and without a dial plan every +/00 number is international).
var allPermissions = []string{"internal", "national", "mobile", "international", "emergency"}

// tkCreateExtension creates an extension with the given call permissions (201 expected).
func (c *apiClient) tkCreateExtension(t testing.TB, number, password, name string, perms []string) {
	t.Helper()
	body := map[string]any{"number": number, "password": password, "name": name, "permissions": perms}
	code, data, err := c.do("POST", "/api/v1/extensions", body)
	if err != nil {
		t.Fatalf("POST /api/v1/extensions %s: %v", number, err)
	}
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/extensions %v: status %d, expected 201; body: %s", body, code, data)
	}
}

// tkCreateTrunk creates a trunk (POST /api/v1/trunks) and expects 201.
func (c *apiClient) tkCreateTrunk(t testing.TB, body map[string]any) {
	t.Helper()
	code, data, err := c.do("POST", "/api/v1/trunks", body)
	if err != nil {
		t.Fatalf("POST /api/v1/trunks %v: %v", body["name"], err)
	}
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/trunks %s: status %d, expected 201; body: %s", mustJSON(body), code, data)
	}
}

// tkPutTrunk replaces a trunk (PUT /api/v1/trunks/{name}) and expects 200.
func (c *apiClient) tkPutTrunk(t testing.TB, name string, body map[string]any) {
	t.Helper()
	code, data, err := c.do("PUT", "/api/v1/trunks/"+name, body)
	if err != nil {
		t.Fatalf("PUT /api/v1/trunks/%s: %v", name, err)
	}
	if code != http.StatusOK {
		t.Fatalf("PUT /api/v1/trunks/%s %s: status %d, expected 200; body: %s", name, mustJSON(body), code, data)
	}
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// tkState is GET /api/v1/trunks/{name}/status.
type tkState struct {
	Name            string     `json:"name"`
	Registration    string     `json:"registration"`
	Reachability    string     `json:"reachability"`
	LastCode        int        `json:"last_code"`
	LastError       string     `json:"last_error"`
	RTTMillis       float64    `json:"rtt_ms"`
	ActiveCalls     int        `json:"active_calls"`
	Target          string     `json:"target"`
	RegisteredUntil *time.Time `json:"registered_until"`
	NextAttempt     *time.Time `json:"next_attempt"`

	Raw string `json:"-"`
}

// tkStatus reads the live state of a trunk; code is the HTTP status (503 while the
// runtime has not loaded the trunk yet).
func (c *apiClient) tkStatus(t testing.TB, name string) (tkState, int) {
	t.Helper()
	code, data, err := c.do("GET", "/api/v1/trunks/"+name+"/status", nil)
	if err != nil {
		t.Fatalf("GET /api/v1/trunks/%s/status: %v", name, err)
	}
	var st tkState
	st.Raw = strings.TrimSpace(string(data))
	if code == http.StatusOK {
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatalf("GET /api/v1/trunks/%s/status: decode %s: %v", name, data, err)
		}
	}
	return st, code
}

// tkWaitTrunk polls the status of a trunk every 100 ms until ok accepts it and returns
// that state. After within it fails the test with what was expected and every distinct
// state seen. within bounds a state that never comes; the caller says why it is enough.
func (c *apiClient) tkWaitTrunk(t testing.TB, name, want string, within time.Duration, ok func(tkState) bool) tkState {
	t.Helper()
	start := time.Now()
	var seen []string
	for {
		st, code := c.tkStatus(t, name)
		entry := fmt.Sprintf("%d %s", code, st.Raw)
		if len(seen) == 0 || !strings.HasSuffix(seen[len(seen)-1], entry) {
			seen = append(seen, fmt.Sprintf("+%.1fs: %s", time.Since(start).Seconds(), entry))
		}
		if code == http.StatusOK && ok(st) {
			return st
		}
		if time.Since(start) > within {
			t.Fatalf("trunk %s: expected %s within %v; states seen (HTTP code, body):\n  %s",
				name, want, within, strings.Join(seen, "\n  "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cdrExtra is what the trunk tests read of a CDR beyond the cdr type.
type cdrExtra struct {
	Trunk string `json:"trunk"`
}

func trunkOfCDR(c cdr) string {
	var x cdrExtra
	_ = json.Unmarshal(c.Raw, &x)
	return x.Trunk
}

// readTextFile returns a file's content (a log) or fails the test.
func readTextFile(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(data)
}
