package main

// The trunk commands of the CLI (trunk add|list|show|rm|status) and their output.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

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
