package routing

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/routing/pattern"
)

// outboundRule is a compiled model.OutboundRule.
type outboundRule struct {
	model.OutboundRule
	patterns []*pattern.Pattern
	callers  []*matcher
	order    []int // indexes of Routes in the order they are tried
	err      error // the rule never matches
}

func (s *Snapshot) compileOutbound(r model.OutboundRule) *outboundRule {
	c := &outboundRule{OutboundRule: r}
	for _, p := range r.Match.Patterns {
		cp, err := pattern.Compile(p)
		if err != nil {
			c.err = fmt.Errorf("pattern %q: %w", p, err)
			return c
		}
		c.patterns = append(c.patterns, cp)
	}
	for _, e := range r.Match.CallerExtensions {
		m, err := s.plan.compileMatcher(e)
		if err != nil {
			c.err = fmt.Errorf("caller extension %q: %w", e, err)
			return c
		}
		c.callers = append(c.callers, m)
	}
	for i := range r.Routes {
		c.order = append(c.order, i)
	}
	if r.Strategy == model.StrategyWeighted {
		// Pure and deterministic: highest weight first, ties in configured order.
		slices.SortStableFunc(c.order, func(a, b int) int { return cmp.Compare(r.Routes[b].Weight, r.Routes[a].Weight) })
	}
	return c
}

// outCaller is who places an outbound call: an extension, or (forwarding an
// inbound call to an external number) a virtual caller with no extension.
type outCaller struct {
	ext      string
	callerID string
	// perms is the calling extension whose permissions apply; nil = none checked
	// (a forward configured by the administrator).
	perms *model.Extension
}

// routeOutbound routes a dialed external number for c.
func (s *Snapshot) routeOutbound(dialed string, c outCaller) Decision {
	d := Decision{Direction: "outbound"}
	s.outbound1(&d, dialed, c)
	return d
}

// outbound1 fills d with the targets (or the refusal) for dialed; it is shared by
// calls from extensions and inbound calls forwarded to an external number.
func (s *Snapshot) outbound1(d *Decision, dialed string, c outCaller) {
	n := s.plan.number(dialed)
	if d.Number.Dialed == "" {
		d.Number = n
	}
	d.step("number", "", true, "%s: %s", dialed, describe(n))
	emergency := n.Class == model.ClassEmergency

	rule := s.pickOutbound(d, n, c, emergency)
	var routes []model.OutboundRoute
	var names []string
	switch {
	case rule != nil:
		d.Rule = rule.Name
		emergency = emergency || rule.Emergency
		for _, i := range rule.order {
			routes = append(routes, rule.Routes[i])
			names = append(names, rule.Name+"/"+strconv.Itoa(i+1))
		}
	case s.defaultOutbound != "":
		d.step("fallback", s.defaultOutbound, true, "no outbound rule matched: default_outbound trunk %s", s.defaultOutbound)
		routes = []model.OutboundRoute{{Trunk: s.defaultOutbound}}
		names = []string{"default_outbound"}
	default:
		d.reject(404, "no outbound rule matches %s and no trunk is default_outbound", dialed)
		return
	}

	if c.perms != nil && !emergency {
		who := "extension " + c.perms.Number
		if c.perms.Number == "" {
			who = "caller"
		}
		if !permitted(*c.perms, n.Class) {
			d.reject(403, "%s may not call %s numbers (%s)", who, n.Class, dialed)
			return
		}
		if rule != nil && rule.Permission != "" && !permitted(*c.perms, rule.Permission) {
			d.reject(403, "%s lacks permission %s required by rule %q", who, rule.Permission, rule.Name)
			return
		}
		d.step("permission", c.perms.Number, true, "%s may call %s numbers", who, n.Class)
	} else if emergency {
		d.step("permission", "", true, "emergency call: permissions and limits bypassed")
	}

	policyRefused := false
	for i, rt := range routes {
		tg, ok, refused := s.routeTarget(d, n, c, rt, names[i], emergency)
		policyRefused = policyRefused || refused
		if ok {
			d.Targets = append(d.Targets, tg)
		}
	}
	if len(d.Targets) == 0 {
		if policyRefused {
			d.reject(403, "caller ID %s may not be sent on any trunk for %s", dash(c.callerID), dialed)
			return
		}
		d.reject(503, "no enabled trunk to reach %s", dialed)
	}
}

// pickOutbound returns the first outbound rule that matches, explaining each one
// tried. For an emergency number, emergency rules are tried first.
func (s *Snapshot) pickOutbound(d *Decision, n Number, c outCaller, emergency bool) *outboundRule {
	rules := s.outbound
	if emergency {
		rules = slices.Clone(rules)
		slices.SortStableFunc(rules, func(a, b *outboundRule) int {
			switch {
			case a.Emergency == b.Emergency:
				return 0
			case a.Emergency:
				return -1
			}
			return 1
		})
	}
	for _, r := range rules {
		ok, why := r.matches(n, c)
		d.step("rule", r.Name, ok, "%s", why)
		if ok {
			return r
		}
	}
	return nil
}

// matches reports whether the rule applies to n dialed by c, and why (not).
func (r *outboundRule) matches(n Number, c outCaller) (bool, string) {
	prio := fmt.Sprintf("priority %d: ", r.Priority)
	if r.err != nil {
		return false, prio + "broken, never matches: " + r.err.Error()
	}
	if !r.Enabled {
		return false, prio + "disabled"
	}
	l := len(digits(n.Dialed))
	if m := r.Match; m.MinLength > 0 && l < m.MinLength || m.MaxLength > 0 && l > m.MaxLength {
		return false, fmt.Sprintf("%s%d digits, outside length %d-%d", prio, l, r.Match.MinLength, r.Match.MaxLength)
	}
	why := []string{}
	if len(r.patterns) > 0 {
		hit := ""
		for _, p := range r.patterns {
			for _, cand := range candidates(n) {
				if p.Match(cand) {
					hit = fmt.Sprintf("pattern %s matches %s", p, cand)
					break
				}
			}
			if hit != "" {
				break
			}
		}
		if hit == "" {
			return false, prio + "no pattern matches " + strings.Join(candidates(n), " or ")
		}
		why = append(why, hit)
	}
	if len(r.callers) > 0 {
		if c.ext == "" {
			return false, prio + "caller is not an extension"
		}
		en := Number{Dialed: c.ext}
		if !slices.ContainsFunc(r.callers, func(m *matcher) bool { ok, _ := m.match(en); return ok }) {
			return false, prio + "caller " + c.ext + " is not among the rule's caller extensions"
		}
		why = append(why, "caller "+c.ext+" allowed")
	}
	if len(why) == 0 {
		why = append(why, "matches any number")
	}
	return true, prio + strings.Join(why, "; ")
}

// routeTarget turns one route into a target, or explains why it is skipped;
// refused reports a skip by the trunk's caller ID policy.
func (s *Snapshot) routeTarget(d *Decision, n Number, c outCaller, rt model.OutboundRoute, name string, emergency bool) (tg Target, ok, refused bool) {
	t, exists := s.trunks[rt.Trunk]
	switch {
	case !exists:
		d.step("route", rt.Trunk, false, "%s: trunk %s does not exist", name, rt.Trunk)
		return Target{}, false, false
	case !t.Enabled:
		d.step("route", rt.Trunk, false, "%s: trunk %s is disabled", name, rt.Trunk)
		return Target{}, false, false
	}
	cid := cmp.Or(rt.CallerID, c.callerID, t.DefaultCallerID)
	cid, ok, why := s.callerIDFor(t, cid, emergency)
	if !ok {
		d.step("route", rt.Trunk, false, "%s: %s", name, why)
		return Target{}, false, true
	}
	formatted := s.plan.format(n, t)
	number := rewrite(formatted, rt.Strip, rt.Prepend, t)
	var how []string
	how = append(how, "format "+cmp.Or(t.NumberFormat, model.FormatE164Plus)+" → "+formatted)
	if rt.Strip > 0 {
		how = append(how, fmt.Sprintf("strip %d", rt.Strip))
	}
	if rt.Prepend != "" {
		how = append(how, "prepend "+rt.Prepend)
	}
	if t.NumberFormat == model.FormatTechPrefix {
		how = append(how, "tech prefix "+t.TechPrefix)
	}
	extra := ""
	if rt.Anonymous {
		extra = "; anonymous (Privacy: id)"
	}
	if emergency {
		extra += "; emergency"
	}
	d.step("route", rt.Trunk, true, "%s: trunk %s, number %s (%s), caller ID %s (%s)%s",
		name, rt.Trunk, number, strings.Join(how, ", "), dash(cid), why, extra)
	return Target{Kind: TargetTrunk, Trunk: rt.Trunk, Number: number, CallerID: cid,
		Anonymous: rt.Anonymous, Emergency: emergency, Route: name}, true, false
}

// callerIDFor applies the trunk's caller ID policy (sip-facts.md "Caller ID"): a
// caller ID the trunk owns (one of its DIDs or its default caller ID) is kept;
// another one is replaced by the trunk's default, else its first DID ("replace"),
// or makes the trunk unusable for this call ("reject"; never for emergency calls,
// which are replaced). No caller ID at all gets the trunk's number too. A trunk
// that lists no numbers checks nothing.
func (s *Snapshot) callerIDFor(t *model.Trunk, cid string, emergency bool) (string, bool, string) {
	owned := s.trunkNumbers[t.Name]
	repl := t.DefaultCallerID
	if repl == "" && len(t.DIDs) > 0 {
		repl = t.DIDs[0].Number
	}
	switch {
	case cid == "" && repl == "":
		return "", true, "none configured"
	case cid == "":
		return repl, true, "none configured: the trunk's own number"
	case len(owned) == 0:
		return cid, true, "trunk lists no numbers: not checked"
	}
	for _, k := range s.plan.number(cid).keys() {
		if owned[k] {
			return cid, true, "a number of the trunk"
		}
	}
	if t.CallerIDPolicy == model.CallerIDReject && !emergency {
		return "", false, "caller ID " + cid + " is not a number of trunk " + t.Name + " (caller_id_policy reject)"
	}
	return repl, true, "replaced " + cid + ", not a number of the trunk"
}

func describe(n Number) string {
	if n.E164 == "" {
		return "class " + n.Class + " (not normalised)"
	}
	return "+" + n.E164 + ", class " + n.Class
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
