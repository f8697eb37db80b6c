package main

// Routing commands: the dry run (route test) and rule listings.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	_ "time/tzdata" // schedules in any IANA zone, even without system zoneinfo

	"github.com/trunkline/trunkline/internal/model"
)

const routeUsage = `  trunkline route test FROM TO [--at RFC3339]
  trunkline route test --trunk T --did NUMBER [--caller NUMBER] [--at RFC3339]
  trunkline rule list
`

// routeTestResponse is the part of POST /api/v1/route/test the story prints.
type routeTestResponse struct {
	Direction string `json:"direction"`
	At        string `json:"at"`
	Number    struct {
		Dialed string `json:"dialed"`
		E164   string `json:"e164"`
		Class  string `json:"class"`
	} `json:"number"`
	Rule       string `json:"rule"`
	RejectCode int    `json:"reject_code"`
	Reason     string `json:"reason"`
	Targets    []struct {
		Kind        string            `json:"kind"`
		Extension   string            `json:"extension"`
		Extensions  []string          `json:"extensions"`
		Trunk       string            `json:"trunk"`
		Number      string            `json:"number"`
		CallerID    string            `json:"caller_id"`
		RingTimeout float64           `json:"ring_timeout"`
		Anonymous   bool              `json:"anonymous"`
		Emergency   bool              `json:"emergency"`
		Route       string            `json:"route"`
		Usable      *bool             `json:"usable"`
		State       *model.TrunkState `json:"state"`
	} `json:"targets"`
	Explain []struct {
		Stage  string `json:"stage"`
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"explain"`
	Warnings []string `json:"warnings"`
}

func (c *cli) routeTest(ctx context.Context, args []string) error {
	fs := c.flags("route test")
	in := struct {
		From   string `json:"from,omitempty"`
		To     string `json:"to,omitempty"`
		Trunk  string `json:"trunk,omitempty"`
		DID    string `json:"did,omitempty"`
		Caller string `json:"caller,omitempty"`
		At     string `json:"at,omitempty"`
	}{}
	fs.StringVar(&in.Trunk, "trunk", "", "inbound: the trunk the call arrives on")
	fs.StringVar(&in.DID, "did", "", "inbound: the called number")
	fs.StringVar(&in.Caller, "caller", "", "inbound: the caller's number")
	fs.StringVar(&in.At, "at", "", "the time of the call (RFC 3339; default now)")
	pos, err := parseAny(fs, args)
	if err != nil {
		return err
	}
	switch {
	case in.Trunk != "" || in.DID != "":
		if len(pos) != 0 || in.Trunk == "" || in.DID == "" {
			return &usageError{"route test: an inbound test needs --trunk and --did and no FROM TO"}
		}
	case len(pos) != 2:
		return &usageError{fmt.Sprintf("route test: want FROM TO, got %d argument(s)", len(pos))}
	default:
		in.From, in.To = pos[0], pos[1]
	}
	raw, err := c.call(ctx, http.MethodPost, "/api/v1/route/test", in)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(raw)
	}
	var res routeTestResponse
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("cli: the API sent invalid JSON: %w", err)
	}
	c.printRouteStory(res)
	return nil
}

// printRouteStory prints the decision as a readable story: each step, then the
// targets in the order call control tries them, then the verdict.
func (c *cli) printRouteStory(res routeTestResponse) {
	w := c.stdout
	fmt.Fprintf(w, "%s call at %s\n", res.Direction, res.At)
	for _, s := range res.Explain {
		mark := "-"
		if s.OK {
			mark = "+"
		}
		stage := s.Stage
		if s.Name != "" && s.Stage == "rule" {
			stage += " " + strconv.Quote(s.Name)
		}
		fmt.Fprintf(w, "  %s %-12s %s\n", mark, stage, s.Detail)
	}
	for _, wn := range res.Warnings {
		fmt.Fprintf(w, "  ! %s\n", wn)
	}
	if res.RejectCode != 0 {
		fmt.Fprintf(w, "REFUSED %d: %s\n", res.RejectCode, res.Reason)
		return
	}
	rule := res.Rule
	if rule == "" {
		rule = "(built-in)"
	}
	fmt.Fprintf(w, "rule %s, %d target(s), tried in order:\n", rule, len(res.Targets))
	for i, t := range res.Targets {
		var b strings.Builder
		if t.Kind == "trunk" {
			fmt.Fprintf(&b, "%d. trunk %s: number %s, caller ID %s", i+1, t.Trunk, t.Number, dash(t.CallerID))
		} else {
			members := t.Extension
			if len(t.Extensions) > 0 {
				members = strings.Join(t.Extensions, "+")
			}
			fmt.Fprintf(&b, "%d. extension %s, caller ID %s", i+1, members, dash(t.CallerID))
		}
		if t.RingTimeout > 0 {
			fmt.Fprintf(&b, ", rings %gs", t.RingTimeout)
		}
		if t.Anonymous {
			b.WriteString(", anonymous")
		}
		if t.Emergency {
			b.WriteString(", EMERGENCY")
		}
		if t.Usable != nil {
			state := "usable"
			if !*t.Usable {
				state = "would be skipped now"
			}
			if t.State != nil {
				state += " (" + dash(t.State.Registration) + "/" + dash(t.State.Reachability) + ")"
			}
			b.WriteString(" [" + state + "]")
		}
		fmt.Fprintf(w, "  %s  via %s\n", b.String(), t.Route)
	}
}

func (c *cli) ruleList(ctx context.Context, args []string) error {
	if _, err := parse(c.flags("rule list"), args, 0); err != nil {
		return err
	}
	inRaw, err := c.call(ctx, http.MethodGet, "/api/v1/inbound-rules", nil)
	if err != nil {
		return err
	}
	outRaw, err := c.call(ctx, http.MethodGet, "/api/v1/outbound-rules", nil)
	if err != nil {
		return err
	}
	var ins struct {
		Rules []model.InboundRule `json:"inbound_rules"`
	}
	var outs struct {
		Rules []model.OutboundRule `json:"outbound_rules"`
	}
	if err := json.Unmarshal(inRaw, &ins); err != nil {
		return fmt.Errorf("cli: the API sent invalid JSON: %w", err)
	}
	if err := json.Unmarshal(outRaw, &outs); err != nil {
		return fmt.Errorf("cli: the API sent invalid JSON: %w", err)
	}
	if c.json {
		b, _ := json.Marshal(map[string]any{"inbound_rules": ins.Rules, "outbound_rules": outs.Rules})
		return c.printJSON(b)
	}
	var rows [][]string
	for _, r := range ins.Rules {
		dest := r.Destination.Type + " " + r.Destination.Target
		if r.Schedule != nil {
			dest += " (scheduled)"
		}
		rows = append(rows, []string{"in", strconv.FormatInt(r.ID, 10), strconv.Itoa(r.Priority), r.Name,
			yesNo(r.Enabled), dash(r.Trunk) + " " + dash(r.DID), strings.TrimSpace(dest)})
	}
	for _, r := range outs.Rules {
		var trunks []string
		for _, rt := range r.Routes {
			trunks = append(trunks, rt.Trunk)
		}
		match := strings.Join(r.Match.Patterns, ",")
		if r.Emergency {
			match += " (emergency)"
		}
		rows = append(rows, []string{"out", strconv.FormatInt(r.ID, 10), strconv.Itoa(r.Priority), r.Name,
			yesNo(r.Enabled), dash(match), strings.Join(trunks, " > ")})
	}
	return c.table([]string{"DIR", "ID", "PRIO", "NAME", "ENABLED", "MATCH", "DESTINATION"}, rows)
}
