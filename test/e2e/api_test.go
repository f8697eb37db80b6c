package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// apiClient talks to Trunkline's REST API with the admin token.
type apiClient struct {
	base  string
	token string
	hc    *http.Client
}

// do sends a request; body is JSON-encoded unless it is a string (sent as is).
func (c *apiClient) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// get decodes a 200 JSON answer of GET path into v.
func (c *apiClient) get(t testing.TB, path string, v any) {
	t.Helper()
	code, data, err := c.do("GET", path, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d, expected 200; body: %s", path, code, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("GET %s: decode %s: %v", path, data, err)
	}
}

// createExtension creates an extension and expects 201 Created.
func (c *apiClient) createExtension(t testing.TB, number, password, name string) {
	t.Helper()
	body := map[string]string{"number": number, "password": password, "name": name}
	code, data, err := c.do("POST", "/api/v1/extensions", body)
	if err != nil {
		t.Fatalf("POST /api/v1/extensions %s: %v", number, err)
	}
	if code != http.StatusCreated {
		t.Fatalf("POST /api/v1/extensions %v: status %d, expected 201; body: %s", body, code, data)
	}
}

type extension struct {
	Number string `json:"number"`
	Name   string `json:"name"`
}

func (c *apiClient) extensions(t testing.TB) []extension {
	t.Helper()
	var out struct {
		Extensions []extension `json:"extensions"`
	}
	c.get(t, "/api/v1/extensions", &out)
	return out.Extensions
}

// binding is one registered contact as GET /api/v1/registrations shows it.
type binding struct {
	AOR       string    `json:"aor"`
	Contact   string    `json:"contact"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	Expires   time.Time `json:"expires"`
}

func (c *apiClient) registrations(t testing.TB) []binding {
	t.Helper()
	var out struct {
		Registrations []binding `json:"registrations"`
	}
	c.get(t, "/api/v1/registrations", &out)
	return out.Registrations
}

// activeCall is one entry of GET /api/v1/calls.
type activeCall struct {
	ID     string `json:"id"`
	CallID string `json:"call_id"`
	Caller string `json:"caller"`
	Callee string `json:"callee"`
	State  string `json:"state"`
}

func (c *apiClient) calls(t testing.TB) []activeCall {
	t.Helper()
	var out struct {
		Calls []activeCall `json:"calls"`
	}
	c.get(t, "/api/v1/calls", &out)
	return out.Calls
}

// cdr is one call record of GET /api/v1/cdrs. Raw keeps the JSON for messages and for
// checks of omitted fields.
type cdr struct {
	ID                int64      `json:"id"`
	CallID            string     `json:"call_id"`
	Caller            string     `json:"caller"`
	Callee            string     `json:"callee"`
	Direction         string     `json:"direction"`
	StartTime         time.Time  `json:"start_time"`
	AnswerTime        *time.Time `json:"answer_time"`
	EndTime           time.Time  `json:"end_time"`
	Duration          int        `json:"duration"`
	BillSec           int        `json:"billsec"`
	Disposition       string     `json:"disposition"`
	HangupBy          string     `json:"hangup_by"`
	HangupCause       string     `json:"hangup_cause"`
	SIPCode           int        `json:"sip_code"`
	RTPCallerToCallee int64      `json:"rtp_caller_to_callee"`
	RTPCalleeToCaller int64      `json:"rtp_callee_to_caller"`

	Raw json.RawMessage `json:"-"`
}

func (c cdr) String() string { return string(c.Raw) }

// hasField reports whether the CDR's JSON has the key at all.
func (c cdr) hasField(key string) bool {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(c.Raw, &m)
	_, ok := m[key]
	return ok
}

// cdrs returns the newest CDRs (one page).
func (c *apiClient) cdrs(t testing.TB) []cdr {
	t.Helper()
	var page struct {
		CDRs       []json.RawMessage `json:"cdrs"`
		NextBefore int64             `json:"next_before"`
	}
	c.get(t, "/api/v1/cdrs?limit=1000", &page)
	out := make([]cdr, 0, len(page.CDRs))
	for _, raw := range page.CDRs {
		var r cdr
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("decode CDR %s: %v", raw, err)
		}
		r.Raw = raw
		out = append(out, r)
	}
	return out
}

// waitCDR waits until exactly one CDR matches and returns it. CDRs are written when a
// call ends, a moment after the last SIP message; the deadline bounds a missing CDR.
func (c *apiClient) waitCDR(t testing.TB, desc string, match func(cdr) bool) cdr {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var found []cdr
		all := c.cdrs(t)
		for _, r := range all {
			if match(r) {
				found = append(found, r)
			}
		}
		if len(found) > 1 {
			t.Fatalf("expected one CDR for %s, got %d:\n%s", desc, len(found), joinCDRs(found))
		}
		if len(found) == 1 {
			return found[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("expected a CDR for %s within 15 s of the call's end, got none; all CDRs:\n%s", desc, joinCDRs(all))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cdrByCallID waits for the one CDR of the caller leg with this Call-ID.
func (c *apiClient) cdrByCallID(t testing.TB, callID string) cdr {
	t.Helper()
	return c.waitCDR(t, "Call-ID "+callID, func(r cdr) bool { return r.CallID == callID })
}

func joinCDRs(list []cdr) string {
	if len(list) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, r := range list {
		fmt.Fprintf(&b, "  %s\n", r.Raw)
	}
	return b.String()
}

// cdrWant is what a test expects of a CDR; empty strings and zero codes are checked too
// (they are the expected values), except where a field says otherwise.
type cdrWant struct {
	Caller, Callee string
	Disposition    string
	HangupBy       string
	SIPCode        int
	Answered       bool   // answer_time present (and billsec consistent)
	Direction      string // "" = internal
}

// checkCDR compares the fields every call test asserts and reports each difference.
func checkCDR(t testing.TB, got cdr, want cdrWant) {
	t.Helper()
	var compact bytes.Buffer
	if json.Compact(&compact, got.Raw) == nil {
		t.Logf("CDR: %s", compact.String())
	}
	check := func(field string, g, w any) {
		if g != w {
			t.Errorf("CDR %s = %v, expected %v (CDR: %s)", field, g, w, got.Raw)
		}
	}
	check("caller", got.Caller, want.Caller)
	check("callee", got.Callee, want.Callee)
	dir := want.Direction
	if dir == "" {
		dir = "internal"
	}
	check("direction", got.Direction, dir)
	check("disposition", got.Disposition, want.Disposition)
	check("hangup_by", got.HangupBy, want.HangupBy)
	check("sip_code", got.SIPCode, want.SIPCode)
	if got.HangupCause == "" {
		t.Errorf("CDR hangup_cause is empty, expected a cause (CDR: %s)", got.Raw)
	}
	if got.ID <= 0 {
		t.Errorf("CDR id = %d, expected a positive id (CDR: %s)", got.ID, got.Raw)
	}
	if got.StartTime.IsZero() || got.EndTime.Before(got.StartTime) {
		t.Errorf("CDR start_time %v / end_time %v: expected start set and end not before start (CDR: %s)",
			got.StartTime, got.EndTime, got.Raw)
	}
	if want.Answered {
		if got.AnswerTime == nil {
			t.Errorf("CDR answer_time missing, expected the time of the 200 OK (CDR: %s)", got.Raw)
		} else if got.AnswerTime.Before(got.StartTime) || got.EndTime.Before(*got.AnswerTime) {
			t.Errorf("CDR answer_time %v not within start %v .. end %v (CDR: %s)", got.AnswerTime, got.StartTime, got.EndTime, got.Raw)
		}
		if got.BillSec > got.Duration {
			t.Errorf("CDR billsec %d > duration %d (CDR: %s)", got.BillSec, got.Duration, got.Raw)
		}
	} else {
		if got.hasField("answer_time") {
			t.Errorf("CDR has answer_time for an unanswered call, expected it omitted (CDR: %s)", got.Raw)
		}
		if got.BillSec != 0 {
			t.Errorf("CDR billsec = %d for an unanswered call, expected 0 (CDR: %s)", got.BillSec, got.Raw)
		}
	}
}
