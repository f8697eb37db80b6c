package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/api"
	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
	"github.com/trunkline/trunkline/internal/store/sqlite"
)

const cliToken = "cli-test-token"

type cliFakeRegs []model.Binding

func (f cliFakeRegs) Bindings() []model.Binding { return f }

type cliFakeCalls []model.ActiveCall

func (f cliFakeCalls) Active() []model.ActiveCall { return f }

// cliFakeTrunks is a trunk runtime that knows the states it holds.
type cliFakeTrunks []model.TrunkState

func (f cliFakeTrunks) State(name string) (model.TrunkState, bool) {
	for _, s := range f {
		if s.Name == name {
			return s, true
		}
	}
	return model.TrunkState{}, false
}

func (f cliFakeTrunks) States() []model.TrunkState { return f }

// cliServer runs the real API over a real SQLite store in t.TempDir().
func cliServer(t *testing.T) (*httptest.Server, store.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "cli.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	trunks := cliFakeTrunks{{Name: "telnyx", Registration: "registered", Reachability: "up", LastCode: 200,
		LastChange: now, RTTMillis: 23.4, ActiveCalls: 2, Target: "192.76.120.10:5060"},
		{Name: "lab", Registration: "off", Reachability: "down", LastError: "OPTIONS timeout"}}
	a := api.New(api.Options{Store: st, Token: cliToken, TrunkStatus: trunks,
		Registrations: cliFakeRegs{{AOR: "1001", Contact: "sip:1001@192.0.2.10:5062", Source: "192.0.2.10:5062",
			Transport: "udp", Expires: now.Add(time.Hour), UserAgent: "Linphone"}},
		Calls: cliFakeCalls{{ID: "call-1", Caller: "1001", Callee: "1002", State: "answered",
			StartTime: now.Add(-time.Minute), AnswerTime: &now}},
		Trunks: trunks,
	})
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return srv, st
}

// runEnv runs the CLI with env as its whole environment.
// cliStep is one CLI invocation and what it must give: the exit code, and
// substrings of stdout and stderr (stderr "" = must be empty).
type cliStep struct {
	args           []string
	code           int
	stdout, stderr string
}

// runSteps runs steps in order and stops at the first that does not give what it must.
func runSteps(t *testing.T, env map[string]string, steps []cliStep) {
	t.Helper()
	for _, s := range steps {
		code, out, errs := runEnv(t, env, s.args...)
		if code != s.code || !strings.Contains(out, s.stdout) || (s.stderr == "" && errs != "") ||
			!strings.Contains(errs, s.stderr) {
			t.Fatalf("%v = %d\nstdout: %q\nstderr: %q\nwant %d, stdout ~ %q, stderr ~ %q",
				s.args, code, out, errs, s.code, s.stdout, s.stderr)
		}
	}
}

func runEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &errb,
		http: &http.Client{Timeout: 10 * time.Second}}
	code = c.run(t.Context(), args)
	return code, out.String(), errb.String()
}

func TestCLIExtensions(t *testing.T) {
	srv, _ := cliServer(t)
	env := map[string]string{"TRUNKLINE_API": srv.URL, "TRUNKLINE_ADMIN_TOKEN": cliToken}
	steps := []cliStep{
		{[]string{"ext", "add", "1001", "--password", "secret01", "--name", "Alice"}, 0, "extension 1001 created", ""},
		{[]string{"ext", "add", "--password", "secret02", "--caller-id", "+442071234567", "1002"}, 0, "extension 1002 created", ""},
		{[]string{"ext", "add", "1001", "--password", "secret01"}, 1, "", "error: number: already exists\n"},
		{[]string{"ext", "add", "10a1", "--password", "secret01"}, 1, "", "error: number: must contain digits only\n"},
		{[]string{"ext", "add", "1003"}, 1, "", "error: password: required\n"},
		{[]string{"ext", "list"}, 0, "Alice", ""},
		{[]string{"ext", "rm", "1002"}, 0, "extension 1002 removed", ""},
		{[]string{"ext", "rm", "1002"}, 1, "", "error: number: not found\n"},
	}
	runSteps(t, env, steps)

	_, out, _ := runEnv(t, env, "ext", "list")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NUMBER") || !strings.HasPrefix(lines[1], "1001") {
		t.Fatalf("ext list =\n%s\nwant a header and 1001", out)
	}
	if strings.Index(lines[0], "NAME") != strings.Index(lines[1], "Alice") {
		t.Fatalf("ext list columns are not aligned:\n%s", out)
	}
	if strings.Contains(out, "secret") {
		t.Fatalf("ext list shows a password:\n%s", out)
	}

	code, out, _ := runEnv(t, env, "ext", "list", "--json")
	var resp struct{ Extensions []model.Extension }
	if err := json.Unmarshal([]byte(out), &resp); code != 0 || err != nil || len(resp.Extensions) != 1 {
		t.Fatalf("ext list --json = %d %v\n%s", code, err, out)
	}
}

func TestCLICDRs(t *testing.T) {
	srv, st := cliServer(t)
	for i := range 3 {
		start := time.Date(2026, 5, 1, 10, i, 0, 0, time.UTC)
		c := model.CDR{CallID: "c", Caller: "1001", Callee: "100" + string(rune('2'+i)), Direction: "internal",
			StartTime: start, EndTime: start.Add(30 * time.Second), Duration: 30, BillSec: 25,
			Disposition: model.DispAnswered, HangupBy: model.PartyCaller, HangupCause: "BYE"}
		if err := st.InsertCDR(t.Context(), &c); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{}
	code, out, errs := runEnv(t, env, "cdr", "list", "--limit", "2", "--api", srv.URL, "--token", cliToken)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[1], "3 ") || !strings.HasPrefix(lines[2], "2 ") ||
		lines[3] != "(older: --before 2)" {
		t.Fatalf("cdr list --limit 2 = %d\n%s%s", code, out, errs)
	}
	code, out, _ = runEnv(t, env, "cdr", "list", "--before", "2", "--json", "--api", srv.URL, "--token", cliToken)
	var page struct {
		CDRs       []model.CDR `json:"cdrs"`
		NextBefore int64       `json:"next_before"`
	}
	if err := json.Unmarshal([]byte(out), &page); code != 0 || err != nil || len(page.CDRs) != 1 || page.CDRs[0].ID != 1 {
		t.Fatalf("cdr list --before 2 --json = %d %v\n%s", code, err, out)
	}
}

func TestCLILiveViews(t *testing.T) {
	srv, _ := cliServer(t)
	env := map[string]string{"TRUNKLINE_API": srv.URL + "/", "TRUNKLINE_ADMIN_TOKEN": cliToken}
	code, out, _ := runEnv(t, env, "regs")
	if code != 0 || !strings.Contains(out, "AOR") || !strings.Contains(out, "sip:1001@192.0.2.10:5062") ||
		!strings.Contains(out, "Linphone") {
		t.Fatalf("regs = %d\n%s", code, out)
	}
	code, out, _ = runEnv(t, env, "calls")
	if code != 0 || !strings.Contains(out, "call-1") || !strings.Contains(out, "answered") {
		t.Fatalf("calls = %d\n%s", code, out)
	}
}

func TestCLIToken(t *testing.T) {
	srv, _ := cliServer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.token"), []byte(cliToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"token file via flag", map[string]string{}, []string{"--data-dir", dir}, 0, ""},
		{"token file via env", map[string]string{"TRUNKLINE_DATA_DIR": dir}, nil, 0, ""},
		{"env beats file", map[string]string{"TRUNKLINE_DATA_DIR": dir, "TRUNKLINE_ADMIN_TOKEN": "wrong"}, nil, 1,
			"error: authorization: invalid token\n"},
		{"flag beats env", map[string]string{"TRUNKLINE_ADMIN_TOKEN": "wrong"}, []string{"--token", cliToken}, 0, ""},
		{"no token", map[string]string{"TRUNKLINE_DATA_DIR": t.TempDir()}, nil, 1,
			"error: authorization: missing bearer token\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"ext", "list", "--api", srv.URL}, tt.args...)
			code, _, errs := runEnv(t, tt.env, args...)
			if code != tt.code || !strings.HasPrefix(errs, tt.stderr) || (tt.stderr == "" && errs != "") {
				t.Fatalf("exit %d, stderr %q; want %d, %q", code, errs, tt.code, tt.stderr)
			}
		})
	}
}

func TestCLIUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"ext", "frobnicate"},
		{"ext", "add"},
		{"ext", "add", "1001", "1002", "--password", "secret01"},
		{"ext", "rm"},
		{"ext", "list", "--bogus"},
		{"cdr", "list", "--limit", "0"},
		{"cdr", "list", "--limit", "x"},
		{"trunk", "frobnicate"},
		{"trunk", "add"},
		{"trunk", "add", "x"},
		{"trunk", "add", "x", "--kind", "ip", "--port", "five"},
		{"trunk", "show"},
		{"trunk", "rm", "a", "b"},
		{"trunk", "status", "a", "b"},
		{"route", "list"},
		{"calls", "--api", "ftp://example.com"},
	} {
		code, out, errs := runEnv(t, map[string]string{}, args...)
		if code != exitUsage || out != "" || !strings.HasPrefix(errs, "error: ") || !strings.Contains(errs, "usage:") {
			t.Errorf("%v = %d\nstdout %q\nstderr %q\nwant exit 2 with usage", args, code, out, errs)
		}
	}
	code, out, _ := runEnv(t, map[string]string{}, "ext", "list", "-h")
	if code != 0 || !strings.Contains(out, "usage:") {
		t.Errorf("ext list -h = %d %q; want usage on stdout", code, out)
	}
}

func TestCLIUnreachable(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	code, _, errs := runEnv(t, map[string]string{}, "regs", "--api", url, "--token", "x")
	if code != exitError || !strings.HasPrefix(errs, "error: cannot reach the API at "+url) {
		t.Fatalf("regs against a closed server = %d %q", code, errs)
	}
}

// TestRunCLI goes through the entry point main uses.
func TestRunCLI(t *testing.T) {
	srv, _ := cliServer(t)
	var out, errs bytes.Buffer
	code := runCLI([]string{"ext", "add", "2001", "--password", "secret01", "--api", srv.URL, "--token", cliToken}, &out, &errs)
	if code != 0 || out.String() != "extension 2001 created\n" || errs.Len() != 0 {
		t.Fatalf("runCLI = %d %q %q", code, out.String(), errs.String())
	}
	// main's run routes every client command to the client (rule was once missing).
	for cmd := range cliCommands {
		out.Reset()
		errs.Reset()
		code := run([]string{cmd, "--api", srv.URL, "--token", cliToken}, &out, &errs)
		if strings.HasPrefix(errs.String(), "trunkline: unknown command") {
			t.Errorf("run %s = %d: %s", cmd, code, errs.String())
		}
	}
	if code := run([]string{"nonsense"}, &out, &errs); code != 2 {
		t.Errorf("run nonsense = %d; want 2", code)
	}
}

func TestCLITrunks(t *testing.T) {
	srv, st := cliServer(t)
	env := map[string]string{"TRUNKLINE_API": srv.URL, "TRUNKLINE_ADMIN_TOKEN": cliToken}
	steps := []cliStep{
		{[]string{"trunk", "add", "telnyx", "--kind", "register", "--host", "sip.telnyx.com", "--username", "pbx1",
			"--password", "tel-secret", "--did", "+13125550100=1001", "--did", "+13125550101", "--default-outbound"},
			0, "trunk telnyx created", ""},
		{[]string{"trunk", "add", "--kind", "register", "--no-register", "--host", "acme.pstn.twilio.com",
			"--username", "pbx", "--auth-id", "pbx-auth", "--password", "twilio-secret", "--transport", "tls",
			"--port", "5061", "twilio"}, 0, "trunk twilio created", ""},
		{[]string{"trunk", "add", "lab", "--kind", "ip", "--associated-ip", "34.210.91.112/28",
			"--associated-ip", "34.226.36.32", "--number-format", "tech_prefix", "--tech-prefix", "12345678*",
			"--did-source", "to"}, 0, "trunk lab created", ""},
		{[]string{"trunk", "add", "telnyx", "--kind", "ip", "--host", "192.0.2.1"}, 1, "", "error: name: already exists\n"},
		{[]string{"trunk", "add", "dup", "--kind", "ip", "--host", "192.0.2.1", "--did", "+13125550100"}, 1, "",
			"error: dids: already assigned to another trunk\n"},
		{[]string{"trunk", "add", "bad", "--kind", "ip", "--associated-ip", "10.0.0.300"}, 1, "",
			"error: associated_ips[0]: must be an IP address, a CIDR or a host name\n"},
		{[]string{"trunk", "add", "tw2", "--kind", "register", "--host", "h"}, 1, "", "error: username: required\n"},
		{[]string{"trunk", "add", "x", "--kind", "ip", "--host", "h", "--did", "12=ab"}, 1, "",
			"error: dids[0].extension: must contain digits only\n"},
		{[]string{"trunk", "show", "nope"}, 1, "", "error: name: not found\n"},
		{[]string{"trunk", "status", "nope"}, 1, "", "error: name: not found\n"},
		{[]string{"trunk", "status", "twilio"}, 1, "", "error: trunks: trunk not loaded yet\n"},
		{[]string{"trunk", "rm", "twilio"}, 0, "trunk twilio removed", ""},
		{[]string{"trunk", "rm", "twilio"}, 1, "", "error: name: not found\n"},
	}
	runSteps(t, env, steps)

	// What the flags became.
	tel, err := st.GetTrunk(t.Context(), "telnyx")
	if err != nil || !tel.Enabled || !tel.DefaultOutbound || tel.Password != "tel-secret" || len(tel.DIDs) != 2 ||
		tel.DIDs[0] != (model.TrunkDID{Number: "+13125550100", Extension: "1001"}) || tel.DIDs[1].Extension != "" {
		t.Fatalf("stored telnyx = %+v, %v", tel, err)
	}
	lab, err := st.GetTrunk(t.Context(), "lab")
	if err != nil || lab.Kind != model.TrunkIP || len(lab.AssociatedIPs) != 2 || lab.TechPrefix != "12345678*" ||
		lab.NumberFormat != model.FormatTechPrefix || lab.DIDSource != model.DIDFromTo {
		t.Fatalf("stored lab = %+v, %v", lab, err)
	}

	// list: one row per trunk, status columns from the runtime.
	_, out, _ := runEnv(t, env, "trunk", "list")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") !=
		"NAME KIND HOST ENABLED REGISTRATION REACHABILITY CALLS LAST_ERROR" {
		t.Fatalf("trunk list =\n%s", out)
	}
	if got := strings.Fields(lines[1]); strings.Join(got, " ") != "lab ip 34.210.91.112/28 (+1) yes off down 0 OPTIONS timeout" {
		t.Errorf("lab row = %q", got)
	}
	if got := strings.Fields(lines[2]); strings.Join(got, " ") != "telnyx register sip.telnyx.com yes registered up 2 -" {
		t.Errorf("telnyx row = %q", got)
	}
	if strings.Index(lines[0], "REGISTRATION") != strings.Index(lines[2], "registered") {
		t.Errorf("trunk list columns are not aligned:\n%s", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("trunk list shows a password:\n%s", out)
	}

	// show: key: value lines in the API's order, status flattened; or JSON.
	code, out, _ := runEnv(t, env, "trunk", "show", "telnyx")
	for _, want := range []string{"name:", "telnyx\n", "kind:", "register\n", "transport:", "udp\n",
		"caller_id_headers:", "from\n", "+13125550100=1001, +13125550101\n",
		"status.registration:", "registered\n", "status.rtt_ms:", "23.4\n"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("trunk show = %d; want %q in\n%s", code, want, out)
		}
	}
	if strings.Index(out, "name:") > strings.Index(out, "kind:") || strings.Contains(out, "password") {
		t.Errorf("trunk show not in API order or shows a password:\n%s", out)
	}
	code, out, _ = runEnv(t, env, "trunk", "show", "telnyx", "--json")
	var shown model.Trunk
	if err := json.Unmarshal([]byte(out), &shown); code != 0 || err != nil || shown.Name != "telnyx" || shown.Host != "sip.telnyx.com" {
		t.Fatalf("trunk show --json = %d %v\n%s", code, err, out)
	}

	// status: one trunk as key: value, all as a table, or JSON.
	code, out, _ = runEnv(t, env, "trunk", "status", "telnyx")
	if code != 0 || !strings.Contains(out, "registration:") || !strings.Contains(out, "192.76.120.10:5060") {
		t.Fatalf("trunk status telnyx = %d\n%s", code, out)
	}
	code, out, _ = runEnv(t, env, "trunk", "status")
	lines = strings.Split(strings.TrimRight(out, "\n"), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.Contains(lines[2], "23.4ms") || !strings.Contains(lines[1], "OPTIONS timeout") {
		t.Fatalf("trunk status =\n%s", out)
	}
	code, out, _ = runEnv(t, env, "trunk", "status", "--json")
	var states struct{ States []model.TrunkState }
	if err := json.Unmarshal([]byte(out), &states); code != 0 || err != nil || len(states.States) != 2 {
		t.Fatalf("trunk status --json = %d %v\n%s", code, err, out)
	}
}
