package main

// The CLI: every subcommand other than serve is a thin client of the REST API. It
// never opens the database; at most it reads the admin token the server wrote
// into its data directory.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

// CLI defaults and limits.
const (
	defaultAPI     = "http://127.0.0.1:8080"
	defaultDataDir = "./data"
	cliTimeout     = 30 * time.Second
	maxResponse    = 16 << 20
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the API refused or could not be reached
	exitUsage = 2
)

const cliUsage = `usage:
  trunkline ext add NUMBER --password P [--name N] [--caller-id C] [--max-calls N]
  trunkline ext list
  trunkline ext rm NUMBER
  trunkline trunk add NAME --kind register|ip|accept_register [--host H] [--port N]
        [--transport udp|tcp|tls] [--username U] [--auth-id A] [--password P] [--no-register]
        [--associated-ip IP/CIDR]... [--did NUMBER[=EXT]]... [--default-outbound]
        [--number-format F] [--tech-prefix P] [--did-source S]
  trunkline trunk list
  trunkline trunk show NAME
  trunkline trunk rm NAME
  trunkline trunk status [NAME]
` + routeUsage + `  trunkline cdr list [--limit N] [--before ID]
  trunkline calls
  trunkline regs

common flags:
  --api URL        API address (env TRUNKLINE_API, default ` + defaultAPI + `)
  --token T        admin token (env TRUNKLINE_ADMIN_TOKEN, else <data-dir>/admin.token)
  --data-dir DIR   where the server keeps admin.token (env TRUNKLINE_DATA_DIR, default ` + defaultDataDir + `)
  --json           print the API's JSON instead of a table
`

// runCLI runs one CLI command (args[0] is the command) and returns the exit code.
func runCLI(args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	c := &cli{getenv: os.Getenv, stdout: stdout, stderr: stderr, http: &http.Client{Timeout: cliTimeout}}
	return c.run(ctx, args)
}

// cli holds one invocation's I/O and settings.
type cli struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	http           *http.Client

	// set by the common flags
	api, token, dataDir string
	json                bool
}

// usageError is a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// apiError is an error answer of the API: {"error", "field", "reason"}.
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Field   string `json:"field"`
	Reason  string `json:"reason"`
}

func (e *apiError) Error() string {
	switch {
	case e.Field != "" && e.Reason != "":
		return e.Field + ": " + e.Reason
	case e.Reason != "":
		return e.Reason
	case e.Message != "":
		return e.Message
	}
	return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
}

func (c *cli) run(ctx context.Context, args []string) int {
	err := c.dispatch(ctx, args)
	var ue *usageError
	var ae *apiError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(c.stdout, cliUsage)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "error: %s\n\n%s", ue.msg, cliUsage)
		return exitUsage
	case errors.As(err, &ae):
		fmt.Fprintf(c.stderr, "error: %s\n", ae)
		if ae.Status == http.StatusUnauthorized {
			fmt.Fprintln(c.stderr, "hint: pass --token, set TRUNKLINE_ADMIN_TOKEN, or point --data-dir at the server's data directory")
		}
		return exitError
	default:
		fmt.Fprintf(c.stderr, "error: %v\n", err)
		return exitError
	}
}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{"no command"}
	}
	cmd, sub, rest := args[0], "", args[1:]
	if cmd == "ext" || cmd == "cdr" || cmd == "trunk" || cmd == "route" || cmd == "rule" {
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			sub, rest = rest[0], rest[1:]
		}
	}
	switch cmd + " " + sub {
	case "ext add":
		return c.extAdd(ctx, rest)
	case "ext list", "ext ls", "ext ":
		return c.simpleList(ctx, "ext list", rest, "/api/v1/extensions", c.printExtensions)
	case "ext rm", "ext delete":
		return c.extRemove(ctx, rest)
	case "cdr list", "cdr ":
		return c.cdrList(ctx, rest)
	case "calls ":
		return c.simpleList(ctx, "calls", rest, "/api/v1/calls", c.printCalls)
	case "regs ":
		return c.simpleList(ctx, "regs", rest, "/api/v1/registrations", c.printRegistrations)
	case "trunk add":
		return c.trunkAdd(ctx, rest)
	case "trunk list", "trunk ls", "trunk ":
		return c.simpleList(ctx, "trunk list", rest, "/api/v1/trunks", c.printTrunks)
	case "trunk show":
		return c.trunkShow(ctx, rest)
	case "trunk rm", "trunk delete":
		return c.trunkRemove(ctx, rest)
	case "trunk status":
		return c.trunkStatus(ctx, rest)
	case "route test":
		return c.routeTest(ctx, rest)
	case "rule list", "rule ls", "rule ":
		return c.ruleList(ctx, rest)
	}
	if sub != "" {
		return &usageError{fmt.Sprintf("unknown command %q", cmd+" "+sub)}
	}
	return &usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// flags returns a FlagSet with the common flags registered.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by run
	fs.StringVar(&c.api, "api", "", "API address")
	fs.StringVar(&c.token, "token", "", "admin token")
	fs.StringVar(&c.dataDir, "data-dir", "", "server data directory (for admin.token)")
	fs.BoolVar(&c.json, "json", false, "print raw JSON")
	return fs
}

// parse parses flags and positional arguments in any order ("ext add 1001
// --password x" as well as "ext add --password x 1001") and checks the number of
// positional arguments.
func parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	pos, err := parseAny(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != positional {
		return nil, &usageError{fmt.Sprintf("%s: want %d argument(s), got %d", fs.Name(), positional, len(pos))}
	}
	return pos, nil
}

// parseAny is parse without the count check.
func parseAny(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{fs.Name() + ": " + err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	return pos, nil
}

func (c *cli) extAdd(ctx context.Context, args []string) error {
	fs := c.flags("ext add")
	in := struct {
		Number   string `json:"number"`
		Name     string `json:"name,omitempty"`
		Password string `json:"password"`
		CallerID string `json:"caller_id,omitempty"`
		MaxCalls int    `json:"max_calls,omitempty"`
	}{}
	fs.StringVar(&in.Password, "password", "", "digest password (required)")
	fs.StringVar(&in.Name, "name", "", "display name")
	fs.StringVar(&in.CallerID, "caller-id", "", "caller ID on outbound trunk calls")
	fs.IntVar(&in.MaxCalls, "max-calls", 0, "concurrent call limit (0 = none)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	in.Number = pos[0]
	raw, err := c.call(ctx, http.MethodPost, "/api/v1/extensions", in)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	fmt.Fprintf(c.stdout, "extension %s created\n", in.Number)
	return nil
}

func (c *cli) extRemove(ctx context.Context, args []string) error {
	pos, err := parse(c.flags("ext rm"), args, 1)
	if err != nil {
		return err
	}
	if _, err := c.call(ctx, http.MethodDelete, "/api/v1/extensions/"+url.PathEscape(pos[0]), nil); err != nil {
		return err
	}
	if !c.json {
		fmt.Fprintf(c.stdout, "extension %s removed\n", pos[0])
	}
	return nil
}

func (c *cli) cdrList(ctx context.Context, args []string) error {
	fs := c.flags("cdr list")
	limit := fs.Int("limit", 20, "how many records (at most 1000)")
	before := fs.Int64("before", 0, "only records with an ID below this")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *limit < 1 || *before < 0 {
		return &usageError{"cdr list: --limit must be positive and --before not negative"}
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *before > 0 {
		q.Set("before", strconv.FormatInt(*before, 10))
	}
	raw, err := c.call(ctx, http.MethodGet, "/api/v1/cdrs?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	return c.printCDRs(raw)
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// trunkAddInput is the body trunk add sends: only what its flags set, so the
// server fills every other default.
type trunkAddInput struct {
	Name            string           `json:"name"`
	Kind            string           `json:"kind"`
	Host            string           `json:"host,omitempty"`
	Port            int              `json:"port,omitempty"`
	Transport       string           `json:"transport,omitempty"`
	Username        string           `json:"username,omitempty"`
	AuthID          string           `json:"auth_id,omitempty"`
	Password        string           `json:"password,omitempty"`
	Register        *bool            `json:"register,omitempty"`
	AssociatedIPs   []string         `json:"associated_ips,omitempty"`
	DIDs            []model.TrunkDID `json:"dids,omitempty"`
	DefaultOutbound bool             `json:"default_outbound,omitempty"`
	NumberFormat    string           `json:"number_format,omitempty"`
	TechPrefix      string           `json:"tech_prefix,omitempty"`
	DIDSource       string           `json:"did_source,omitempty"`
}

func (c *cli) trunkAdd(ctx context.Context, args []string) error {
	fs := c.flags("trunk add")
	var in trunkAddInput
	var ips, dids listFlag
	fs.StringVar(&in.Kind, "kind", "", "register, ip or accept_register (required)")
	fs.StringVar(&in.Host, "host", "", "provider host name or IP")
	fs.IntVar(&in.Port, "port", 0, "provider port (0 = SRV, else 5060/5061)")
	fs.StringVar(&in.Transport, "transport", "", "udp, tcp or tls")
	fs.StringVar(&in.Username, "username", "", "user name")
	fs.StringVar(&in.AuthID, "auth-id", "", "digest user when it differs from the user name")
	fs.StringVar(&in.Password, "password", "", "password")
	noRegister := fs.Bool("no-register", false, "kind register: answer digest challenges on INVITE but send no REGISTER")
	fs.Var(&ips, "associated-ip", "address or CIDR the provider sends from (repeatable)")
	fs.Var(&dids, "did", "NUMBER or NUMBER=EXTENSION (repeatable)")
	fs.BoolVar(&in.DefaultOutbound, "default-outbound", false, "send external calls over this trunk")
	fs.StringVar(&in.NumberFormat, "number-format", "", "e164_plus, e164, national or tech_prefix")
	fs.StringVar(&in.TechPrefix, "tech-prefix", "", "prefix for number format tech_prefix")
	fs.StringVar(&in.DIDSource, "did-source", "", "request_uri, to, p_called_party_id, diversion or auto")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if in.Kind == "" {
		return &usageError{"trunk add: --kind is required (register, ip or accept_register)"}
	}
	in.Name, in.AssociatedIPs = pos[0], ips
	if *noRegister {
		in.Register = new(bool)
	}
	for _, d := range dids {
		number, ext, _ := strings.Cut(d, "=")
		in.DIDs = append(in.DIDs, model.TrunkDID{Number: number, Extension: ext})
	}
	raw, err := c.call(ctx, http.MethodPost, "/api/v1/trunks", in)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	fmt.Fprintf(c.stdout, "trunk %s created\n", in.Name)
	return nil
}

func (c *cli) trunkShow(ctx context.Context, args []string) error {
	pos, err := parse(c.flags("trunk show"), args, 1)
	if err != nil {
		return err
	}
	raw, err := c.call(ctx, http.MethodGet, "/api/v1/trunks/"+url.PathEscape(pos[0]), nil)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	return c.printFields(raw)
}

func (c *cli) trunkRemove(ctx context.Context, args []string) error {
	pos, err := parse(c.flags("trunk rm"), args, 1)
	if err != nil {
		return err
	}
	if _, err := c.call(ctx, http.MethodDelete, "/api/v1/trunks/"+url.PathEscape(pos[0]), nil); err != nil {
		return err
	}
	if !c.json {
		fmt.Fprintf(c.stdout, "trunk %s removed\n", pos[0])
	}
	return nil
}

// trunkStatus prints one trunk's live state, or a state table of every trunk.
func (c *cli) trunkStatus(ctx context.Context, args []string) error {
	fs := c.flags("trunk status")
	pos, err := parseAny(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return &usageError{fmt.Sprintf("trunk status: want at most 1 argument, got %d", len(pos))}
	}
	if len(pos) == 1 {
		raw, err := c.call(ctx, http.MethodGet, "/api/v1/trunks/"+url.PathEscape(pos[0])+"/status", nil)
		if err != nil {
			return err
		}
		if c.json {
			return c.printJSON(raw)
		}
		return c.printFields(raw)
	}
	raw, err := c.call(ctx, http.MethodGet, "/api/v1/trunks", nil)
	if err != nil {
		return err
	}
	trunks, err := decodeTrunks(raw)
	if err != nil {
		return err
	}
	if c.json {
		states := []model.TrunkState{}
		for _, t := range trunks {
			if t.Status != nil {
				states = append(states, *t.Status)
			}
		}
		b, err := json.Marshal(map[string]any{"states": states})
		if err != nil {
			return fmt.Errorf("cli: encode states: %w", err)
		}
		return c.printJSON(b)
	}
	rows := make([][]string, 0, len(trunks))
	for _, t := range trunks {
		s := t.Status
		if s == nil {
			rows = append(rows, []string{t.Name, "-", "-", "-", "-", "-", "-", "-", "-"})
			continue
		}
		rtt, code, since := "-", "-", "-"
		if s.RTTMillis > 0 {
			rtt = strconv.FormatFloat(s.RTTMillis, 'f', 1, 64) + "ms"
		}
		if s.LastCode > 0 {
			code = strconv.Itoa(s.LastCode)
		}
		if !s.LastChange.IsZero() {
			since = s.LastChange.Local().Format(time.DateTime)
		}
		rows = append(rows, []string{t.Name, dash(s.Registration), dash(s.Reachability),
			strconv.Itoa(s.ActiveCalls), rtt, dash(s.Target), code, since, dash(s.LastError)})
	}
	return c.table([]string{"NAME", "REGISTRATION", "REACHABILITY", "CALLS", "RTT", "TARGET", "LAST_CODE",
		"LAST_CHANGE", "LAST_ERROR"}, rows)
}

// trunkListItem is one entry of GET /api/v1/trunks.
type trunkListItem struct {
	model.Trunk
	Status *model.TrunkState `json:"status"`
}

func decodeTrunks(raw []byte) ([]trunkListItem, error) {
	var resp struct{ Trunks []trunkListItem }
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("cli: decode trunks: %w", err)
	}
	return resp.Trunks, nil
}

func (c *cli) printTrunks(raw []byte) error {
	trunks, err := decodeTrunks(raw)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(trunks))
	for _, t := range trunks {
		reg, reach, calls, lastErr := "-", "-", "-", "-"
		if s := t.Status; s != nil {
			reg, reach, calls, lastErr = dash(s.Registration), dash(s.Reachability), strconv.Itoa(s.ActiveCalls), dash(s.LastError)
		}
		rows = append(rows, []string{t.Name, string(t.Kind), trunkHost(t.Trunk), yesNo(t.Enabled),
			reg, reach, calls, lastErr})
	}
	return c.table([]string{"NAME", "KIND", "HOST", "ENABLED", "REGISTRATION", "REACHABILITY", "CALLS",
		"LAST_ERROR"}, rows)
}

// trunkHost is where a trunk points: host[:port], else its first associated
// address (with a count of the others), else "-".
func trunkHost(t model.Trunk) string {
	switch {
	case t.Host != "" && t.Port != 0:
		return net.JoinHostPort(strings.Trim(t.Host, "[]"), strconv.Itoa(t.Port))
	case t.Host != "":
		return t.Host
	case len(t.AssociatedIPs) == 1:
		return t.AssociatedIPs[0]
	case len(t.AssociatedIPs) > 1:
		return fmt.Sprintf("%s (+%d)", t.AssociatedIPs[0], len(t.AssociatedIPs)-1)
	}
	return "-"
}

// printFields prints a JSON object as aligned "key: value" lines in the API's
// order. Nested objects become "parent.key" lines; arrays of scalars are joined
// with ", "; DIDs print as NUMBER=EXT; other arrays print as compact JSON.
func (c *cli) printFields(raw []byte) error {
	var rows [][]string
	if err := flattenJSON(raw, "", &rows); err != nil {
		return fmt.Errorf("cli: the API sent invalid JSON: %w", err)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 1, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func flattenJSON(raw []byte, prefix string, rows *[][]string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("want a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if len(v) > 0 && v[0] == '{' {
			if err := flattenJSON(v, prefix+key+".", rows); err != nil {
				return err
			}
			continue
		}
		*rows = append(*rows, []string{prefix + key, fieldText(prefix+key, v)})
	}
	return nil
}

// fieldText shows a trunk's DIDs as the --did flags that make them
// ("+4930123=1001, +4930124"), any other value as jsonText does.
func fieldText(key string, v json.RawMessage) string {
	var dids []model.TrunkDID
	if key != "dids" || json.Unmarshal(v, &dids) != nil {
		return jsonText(v)
	}
	parts := make([]string, len(dids))
	for i, d := range dids {
		parts[i] = d.Number
		if d.Extension != "" {
			parts[i] += "=" + d.Extension
		}
	}
	return strings.Join(parts, ", ")
}

// jsonText shows one JSON value to a person: strings unquoted, arrays of
// scalars joined, anything else compact.
func jsonText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var list []json.RawMessage
	if json.Unmarshal(v, &list) == nil {
		parts := make([]string, len(list))
		for i, e := range list {
			if len(e) > 0 && (e[0] == '{' || e[0] == '[') {
				var buf bytes.Buffer
				json.Compact(&buf, v)
				return buf.String()
			}
			parts[i] = jsonText(e)
		}
		return strings.Join(parts, ", ")
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return buf.String()
}

// simpleList runs a GET without command-specific flags and prints the result.
func (c *cli) simpleList(ctx context.Context, name string, args []string, path string, print func([]byte) error) error {
	if _, err := parse(c.flags(name), args, 0); err != nil {
		return err
	}
	raw, err := c.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	return print(raw)
}

// call sends one request to the API and returns the body of a 2xx answer.
func (c *cli) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	base, err := c.baseURL()
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("cli: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("cli: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if tok := c.resolveToken(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the API at %s: %w", base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("cli: read response: %w", err)
	}
	if resp.StatusCode >= 300 {
		ae := &apiError{}
		if json.Unmarshal(raw, ae) != nil {
			ae = &apiError{}
		}
		ae.Status = resp.StatusCode
		return nil, ae
	}
	return raw, nil
}

// baseURL is --api, else TRUNKLINE_API, else the default, without a trailing slash.
func (c *cli) baseURL() (string, error) {
	s := firstNonEmpty(c.api, c.getenv("TRUNKLINE_API"), defaultAPI)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &usageError{fmt.Sprintf("API address %q must be an http:// or https:// URL", s)}
	}
	return strings.TrimRight(s, "/"), nil
}

// resolveToken is --token, else TRUNKLINE_ADMIN_TOKEN, else the contents of
// <data-dir>/admin.token; empty if none (the API then answers 401).
func (c *cli) resolveToken() string {
	if tok := firstNonEmpty(c.token, c.getenv("TRUNKLINE_ADMIN_TOKEN")); tok != "" {
		return tok
	}
	dir := firstNonEmpty(c.dataDir, c.getenv("TRUNKLINE_DATA_DIR"), defaultDataDir)
	b, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// printJSON prints raw API JSON, indented.
func (c *cli) printJSON(raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return fmt.Errorf("cli: the API sent invalid JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := c.stdout.Write(buf.Bytes())
	return err
}

// table writes rows aligned in columns.
func (c *cli) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func (c *cli) printExtensions(raw []byte) error {
	var resp struct{ Extensions []model.Extension }
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("cli: decode extensions: %w", err)
	}
	rows := make([][]string, 0, len(resp.Extensions))
	for _, e := range resp.Extensions {
		maxCalls := "-"
		if e.MaxCalls > 0 {
			maxCalls = strconv.Itoa(e.MaxCalls)
		}
		rows = append(rows, []string{e.Number, dash(e.Name), dash(e.CallerID), maxCalls, yesNo(!e.Disabled)})
	}
	return c.table([]string{"NUMBER", "NAME", "CALLER-ID", "MAX-CALLS", "ENABLED"}, rows)
}

func (c *cli) printRegistrations(raw []byte) error {
	var resp struct{ Registrations []model.Binding }
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("cli: decode registrations: %w", err)
	}
	rows := make([][]string, 0, len(resp.Registrations))
	for _, b := range resp.Registrations {
		rows = append(rows, []string{b.AOR, b.Contact, dash(b.Source), dash(b.Transport),
			time.Until(b.Expires).Round(time.Second).String(), dash(b.UserAgent)})
	}
	return c.table([]string{"AOR", "CONTACT", "SOURCE", "TRANSPORT", "EXPIRES-IN", "USER-AGENT"}, rows)
}

func (c *cli) printCalls(raw []byte) error {
	var resp struct{ Calls []model.ActiveCall }
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("cli: decode calls: %w", err)
	}
	rows := make([][]string, 0, len(resp.Calls))
	for _, a := range resp.Calls {
		talking := "-"
		if a.AnswerTime != nil {
			talking = time.Since(*a.AnswerTime).Round(time.Second).String()
		}
		rows = append(rows, []string{a.ID, a.Caller, a.Callee, a.State, dash(a.Trunk),
			a.StartTime.Local().Format(time.DateTime), talking})
	}
	return c.table([]string{"ID", "CALLER", "CALLEE", "STATE", "TRUNK", "STARTED", "TALKING"}, rows)
}

func (c *cli) printCDRs(raw []byte) error {
	var resp struct {
		CDRs       []model.CDR `json:"cdrs"`
		NextBefore int64       `json:"next_before"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("cli: decode cdrs: %w", err)
	}
	rows := make([][]string, 0, len(resp.CDRs))
	for _, r := range resp.CDRs {
		rows = append(rows, []string{strconv.FormatInt(r.ID, 10), r.StartTime.Local().Format(time.DateTime),
			r.Caller, r.Callee, r.Direction, dash(r.Trunk), string(r.Disposition),
			strconv.Itoa(r.Duration), strconv.Itoa(r.BillSec), dash(r.HangupCause)})
	}
	if err := c.table([]string{"ID", "START", "CALLER", "CALLEE", "DIRECTION", "TRUNK", "DISPOSITION",
		"DURATION", "BILLSEC", "CAUSE"}, rows); err != nil {
		return err
	}
	if resp.NextBefore > 0 {
		fmt.Fprintf(c.stdout, "(older: --before %d)\n", resp.NextBefore)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
