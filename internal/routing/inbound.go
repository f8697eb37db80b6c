package routing

import (
	"fmt"
	"time"

	"github.com/trunkline/trunkline/internal/model"
)

// inboundRule is a compiled model.InboundRule.
type inboundRule struct {
	model.InboundRule
	did, caller *matcher // nil = any
	sched       *schedule
	err         error // the rule never matches
}

func (s *Snapshot) compileInbound(r model.InboundRule) *inboundRule {
	c := &inboundRule{InboundRule: r}
	var err error
	if r.DID != "" {
		if c.did, err = s.plan.compileMatcher(r.DID); err != nil {
			c.err = fmt.Errorf("did %q: %w", r.DID, err)
			return c
		}
	}
	if r.CallerMask != "" {
		if c.caller, err = s.plan.compileMatcher(r.CallerMask); err != nil {
			c.err = fmt.Errorf("caller_mask %q: %w", r.CallerMask, err)
			return c
		}
	}
	if r.Schedule != nil {
		if c.sched, err = compileSchedule(r.Schedule); err != nil {
			c.err = fmt.Errorf("schedule: %w", err)
		}
	}
	return c
}

// matches checks trunk, DID and caller (not the schedule).
func (r *inboundRule) matches(trunk string, did, caller Number) (bool, string) {
	prio := fmt.Sprintf("priority %d: ", r.Priority)
	switch {
	case r.err != nil:
		return false, prio + "broken, never matches: " + r.err.Error()
	case !r.Enabled:
		return false, prio + "disabled"
	case r.Trunk != "" && r.Trunk != trunk:
		return false, prio + "only for trunk " + r.Trunk
	}
	why := prio + "any DID"
	if r.did != nil {
		ok, form := r.did.match(did)
		if !ok {
			return false, prio + "DID " + did.Dialed + " does not match " + r.DID
		}
		why = prio + "DID " + form + " matches " + r.DID
	}
	if r.caller != nil {
		ok, form := r.caller.match(caller)
		if !ok {
			return false, prio + "caller " + dash(caller.Dialed) + " does not match " + r.CallerMask
		}
		why += "; caller " + form + " matches " + r.CallerMask
	}
	return true, why
}

func (s *Snapshot) routeInbound(r Request) Decision {
	d := Decision{Direction: "inbound"}
	did := s.plan.number(r.Dialed)
	d.Number = did
	d.step("number", "", true, "DID %s on trunk %s: %s", r.Dialed, r.FromTrunk, describe(did))
	callerN := s.plan.number(r.CallerNumber)
	for _, rule := range s.inbound {
		ok, why := rule.matches(r.FromTrunk, did, callerN)
		if !ok {
			d.step("rule", rule.Name, false, "%s", why)
			continue
		}
		dest := rule.Destination
		if rule.sched != nil {
			switch open, when := rule.sched.open(r.Now); {
			case r.Now.IsZero():
				why += "; no clock given: open hours assumed"
			case open:
				why += "; " + when
			case rule.AfterHours == nil:
				d.step("rule", rule.Name, false, "%s; %s and no after_hours destination", why, when)
				continue
			default:
				dest = *rule.AfterHours
				why += "; " + when + ": after_hours destination"
			}
		}
		d.step("rule", rule.Name, true, "%s", why)
		d.Rule = rule.Name
		s.destination(&d, r, did, dest, rule.Name)
		return d
	}

	// Built-in: the trunk's own DID list (a DID with an extension).
	var e didEntry
	found := false
	for _, k := range did.keys() {
		if e, found = s.dids[k]; found {
			break
		}
	}
	if !found || e.trunk != r.FromTrunk {
		// A DID of another trunk arriving here is refused too: a provider may only
		// deliver the numbers it owns.
		return d.reject(404, "DID %s is not a number of trunk %s and no inbound rule matches", r.Dialed, r.FromTrunk)
	}
	if e.extension == "" {
		return d.reject(404, "DID %s has no destination", r.Dialed)
	}
	d.step("fallback", e.extension, true, "DID %s of trunk %s is assigned to extension %s", r.Dialed, r.FromTrunk, e.extension)
	s.destination(&d, r, did, model.Destination{Type: model.DestExtension, Target: e.extension}, "did")
	return d
}

// destination turns an inbound destination into targets (or a refusal) in d.
func (s *Snapshot) destination(d *Decision, r Request, did Number, dest model.Destination, route string) {
	switch dest.Type {
	case model.DestExtension:
		if _, ok := s.Extension(dest.Target); !ok {
			d.reject(404, "DID %s leads to missing or disabled extension %s", r.Dialed, dest.Target)
			return
		}
		d.step("destination", dest.Target, true, "extension %s", dest.Target)
		d.Targets = []Target{{Kind: TargetExtension, Extension: dest.Target, Number: dest.Target,
			CallerID: r.CallerNumber, Route: route}}
	case model.DestRingGroup:
		s.ringGroup(d, r, dest.Target, route)
	case model.DestExternal:
		d.step("destination", dest.Target, true, "external number %s: outbound routing with caller ID %s", dest.Target, did.plus())
		rule := d.Rule
		s.outbound1(d, dest.Target, outCaller{callerID: did.plus()})
		d.Rule = rule
	case model.DestDialed:
		if _, ok := s.Extension(r.Dialed); ok {
			d.step("destination", r.Dialed, true, "dialed number %s is an extension", r.Dialed)
			d.Targets = []Target{{Kind: TargetExtension, Extension: r.Dialed, Number: r.Dialed,
				CallerID: r.CallerNumber, Route: route}}
			return
		}
		d.step("destination", r.Dialed, true, "dialed number %s: outbound routing (transit) with caller ID %s", r.Dialed, r.CallerNumber)
		rule := d.Rule
		s.outbound1(d, r.Dialed, outCaller{callerID: r.CallerNumber})
		d.Rule = rule
	case model.DestReject:
		d.reject(dest.RejectStatus(), "rule %s rejects the call", route)
	default:
		d.reject(500, "rule %s has an unknown destination type %q", route, dest.Type)
	}
}

// ringGroup expands a ring group into targets: simultaneous = one target ringing
// every available member at once; sequential = one target per member, each
// ringing MemberTimeout.
func (s *Snapshot) ringGroup(d *Decision, r Request, name, route string) {
	g, ok := s.ringGroups[name]
	switch {
	case !ok:
		d.reject(404, "ring group %s does not exist", name)
		return
	case !g.Enabled:
		d.reject(404, "ring group %s is disabled", name)
		return
	}
	var members []string
	for _, m := range g.Members {
		if _, ok := s.Extension(m); ok {
			members = append(members, m)
		} else {
			d.step("destination", m, false, "ring group %s: member %s is missing or disabled", name, m)
		}
	}
	if len(members) == 0 {
		d.reject(480, "ring group %s has no available member", name)
		return
	}
	if g.Strategy == model.RingSequential {
		timeout := time.Duration(g.MemberTimeout) * time.Second
		for _, m := range members {
			d.Targets = append(d.Targets, Target{Kind: TargetExtension, Extension: m, Number: m,
				CallerID: r.CallerNumber, RingTimeout: timeout, Route: route})
		}
		d.step("destination", name, true, "ring group %s, sequential: %v, %s each", name, members, timeout)
		return
	}
	d.Targets = []Target{{Kind: TargetExtension, Extension: members[0], Extensions: members, Number: members[0],
		CallerID: r.CallerNumber, Route: route}}
	d.step("destination", name, true, "ring group %s, simultaneous: %v", name, members)
}
