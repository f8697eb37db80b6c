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
	// maxResponse caps an API answer: the extension list of a PBX provisioned
	// with the import's maximum of 100,000 extensions is ~35 MB.
	maxResponse = 256 << 20
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
  trunkline ext import FILE   (CSV with a header line: number,password[,name][,caller_id]
        [,max_calls][,permissions], classes in permissions separated by |; all or nothing)
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

// cliCommands are the first words of the API client's commands: main routes them
// here, dispatch reads a sub-command after those that have one.
var cliCommands = map[string]bool{"ext": true, "cdr": true, "calls": false, "regs": false, "trunk": true, "route": true, "rule": true}

func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{"no command"}
	}
	cmd, sub, rest := args[0], "", args[1:]
	if cliCommands[cmd] {
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
	case "ext import":
		return c.extImport(ctx, rest)
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
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("cli: read response: %w", err)
	}
	if len(raw) > maxResponse {
		return nil, fmt.Errorf("cli: the API's answer is larger than %d MiB", maxResponse>>20)
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
