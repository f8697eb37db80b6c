package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// API helpers of the routing tests: trunks, outbound and inbound rules, ring groups,
// the dial plan and the route dry run (docs/api.md "Routing", docs/routing.md).

// mustWrite sends a write request and fails the test unless it answers want. The
// decoded JSON answer is returned (nil when there is no body).
func (c *apiClient) mustWrite(t testing.TB, method, path string, body any, want int) map[string]any {
	t.Helper()
	code, data, err := c.do(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		req, _ := json.Marshal(body)
		t.Fatalf("%s %s %s: status %d, expected %d; body: %s", method, path, req, code, want, data)
	}
	if len(data) == 0 {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
	}
	return out
}

// createExtensionPerms creates an extension with an explicit permission list.
func (c *apiClient) createExtensionPerms(t testing.TB, number, password string, perms ...string) {
	t.Helper()
	c.mustWrite(t, "POST", "/api/v1/extensions", map[string]any{
		"number": number, "password": password, "name": "Ext " + number, "permissions": perms,
	}, http.StatusCreated)
}

// ipTrunk is the JSON of an IP trunk to a SIPp provider at ip:port: recognised by
// its source address (associated_ips ip/32), OPTIONS probing off (reachability
// unknown = usable). more adds or overrides fields.
func ipTrunk(name, ip string, port int, more map[string]any) map[string]any {
	body := map[string]any{
		"name": name, "kind": "ip", "host": ip, "port": port,
		"associated_ips":   []string{ip + "/32"},
		"options_interval": -1,
	}
	for k, v := range more {
		body[k] = v
	}
	return body
}

func (c *apiClient) createTrunk(t testing.TB, body map[string]any) {
	t.Helper()
	c.mustWrite(t, "POST", "/api/v1/trunks", body, http.StatusCreated)
}

// outboundRule creates an outbound rule and returns its id.
func (c *apiClient) createOutboundRule(t testing.TB, rule map[string]any) int64 {
	t.Helper()
	return ruleID(t, c.mustWrite(t, "POST", "/api/v1/outbound-rules", rule, http.StatusCreated))
}

// createInboundRule creates an inbound rule and returns its id.
func (c *apiClient) createInboundRule(t testing.TB, rule map[string]any) int64 {
	t.Helper()
	return ruleID(t, c.mustWrite(t, "POST", "/api/v1/inbound-rules", rule, http.StatusCreated))
}

// updateInboundRule replaces an inbound rule (PUT replaces every writable field).
func (c *apiClient) updateInboundRule(t testing.TB, id int64, rule map[string]any) {
	t.Helper()
	c.mustWrite(t, "PUT", "/api/v1/inbound-rules/"+strconv.FormatInt(id, 10), rule, http.StatusOK)
}

func (c *apiClient) createRingGroup(t testing.TB, group map[string]any) {
	t.Helper()
	c.mustWrite(t, "POST", "/api/v1/ring-groups", group, http.StatusCreated)
}

func ruleID(t testing.TB, out map[string]any) int64 {
	t.Helper()
	id, ok := out["id"].(float64)
	if !ok || id <= 0 {
		t.Fatalf("created rule has no positive id: %v", out)
	}
	return int64(id)
}

// routeDecision is the part of POST /api/v1/route/test the tests read.
type routeDecision struct {
	Direction  string `json:"direction"`
	Rule       string `json:"rule"`
	RejectCode int    `json:"reject_code"`
	Reason     string `json:"reason"`
	Targets    []struct {
		Kind       string   `json:"kind"`
		Extension  string   `json:"extension"`
		Extensions []string `json:"extensions"`
		Trunk      string   `json:"trunk"`
		Number     string   `json:"number"`
		Emergency  bool     `json:"emergency"`
		Usable     *bool    `json:"usable"`
	} `json:"targets"`
	Raw json.RawMessage `json:"-"`
}

// routeTest runs the dry run; body is {"from","to"} or {"trunk","did","caller"}.
func (c *apiClient) routeTest(t testing.TB, body map[string]any) routeDecision {
	t.Helper()
	code, data, err := c.do("POST", "/api/v1/route/test", body)
	if err != nil {
		t.Fatalf("POST /api/v1/route/test: %v", err)
	}
	if code != http.StatusOK {
		t.Fatalf("POST /api/v1/route/test %v: status %d, expected 200; body: %s", body, code, data)
	}
	var d routeDecision
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("decode route test %s: %v", data, err)
	}
	d.Raw = data
	return d
}

// trunkState is GET /api/v1/trunks/{name}/status.
type trunkState struct {
	Name         string `json:"name"`
	Registration string `json:"registration"`
	Reachability string `json:"reachability"`
	ActiveCalls  int    `json:"active_calls"`
	LastCode     int    `json:"last_code"`
	LastError    string `json:"last_error"`
}

func (c *apiClient) trunkStatus(t testing.TB, name string) (trunkState, string) {
	t.Helper()
	code, data, err := c.do("GET", "/api/v1/trunks/"+name+"/status", nil)
	if err != nil {
		t.Fatalf("GET trunk status %s: %v", name, err)
	}
	var st trunkState
	if code == http.StatusOK {
		_ = json.Unmarshal(data, &st)
	}
	return st, fmt.Sprintf("%d %s", code, strings.TrimSpace(string(data)))
}

// waitTrunk polls the trunk's status until ok says so (15 s bound for a stuck state,
// not a speed requirement).
func (c *apiClient) waitTrunk(t testing.TB, name, what string, ok func(trunkState) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		st, raw := c.trunkStatus(t, name)
		if ok(st) {
			return
		}
		last = raw
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("trunk %s: expected %s within 15 s; last status: %s", name, what, last)
}

// cdrTrunk is the "trunk" field of a CDR ("" when absent).
func cdrTrunk(c cdr) string {
	var m struct {
		Trunk string `json:"trunk"`
	}
	_ = json.Unmarshal(c.Raw, &m)
	return m.Trunk
}
