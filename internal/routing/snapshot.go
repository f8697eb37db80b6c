// Package routing decides where calls go. It is pure: it reads an immutable Snapshot
// of the telephony configuration and never does SIP or I/O, so every decision can be
// table-tested. Call control asks it; the app swaps in a new Snapshot after every
// admin change (calls in progress keep the one they started with).
package routing

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/trunkline/trunkline/internal/model"
)

// Config is everything a Snapshot is built from: the store's lists as they are
// (NewSnapshot sorts rules itself).
type Config struct {
	Extensions    []model.Extension
	Trunks        []model.Trunk
	InboundRules  []model.InboundRule
	OutboundRules []model.OutboundRule
	RingGroups    []model.RingGroup
	DialPlan      model.DialPlan
}

// didEntry is where a DID leads.
type didEntry struct {
	trunk     string
	extension string
}

// Snapshot is the telephony configuration at one moment. Never modified after
// NewSnapshot returns.
type Snapshot struct {
	extensions map[string]model.Extension
	trunks     map[string]*model.Trunk
	// byUser maps accept-register trunk usernames (the AOR a gateway registers).
	byUser map[string]*model.Trunk
	// dids maps a normalised DID (digits only) to its trunk and extension.
	dids            map[string]didEntry
	defaultOutbound string
	trunkNames      []string

	plan       plan
	dialPlan   model.DialPlan
	inbound    []*inboundRule
	outbound   []*outboundRule
	ringGroups map[string]model.RingGroup
	// trunkNumbers: per trunk, the keys of the numbers it owns (its DIDs and
	// default caller ID), for the caller ID policy.
	trunkNumbers map[string]map[string]bool
	warnings     []string
}

// NewSnapshot indexes the configuration and compiles the rules: patterns, ranges
// and schedules once, rules sorted by priority then ID. It never fails: a rule
// that does not compile (a store written by hand, a time zone missing from the
// system) never matches, says why in every dry run, and is listed by Warnings.
func NewSnapshot(c Config) *Snapshot {
	s := &Snapshot{
		extensions:   make(map[string]model.Extension, len(c.Extensions)),
		trunks:       make(map[string]*model.Trunk, len(c.Trunks)),
		byUser:       make(map[string]*model.Trunk),
		dids:         make(map[string]didEntry),
		plan:         newPlan(c.DialPlan),
		dialPlan:     c.DialPlan,
		ringGroups:   make(map[string]model.RingGroup, len(c.RingGroups)),
		trunkNumbers: make(map[string]map[string]bool, len(c.Trunks)),
	}
	s.dialPlan.Defaults()
	for _, e := range c.Extensions {
		s.extensions[e.Number] = e
	}
	for i := range c.Trunks {
		t := &c.Trunks[i]
		s.trunks[t.Name] = t
		s.trunkNames = append(s.trunkNames, t.Name)
		if t.Kind == model.TrunkAcceptRegister && t.Username != "" {
			s.byUser[t.Username] = t
		}
		owned := map[string]bool{}
		for _, d := range t.DIDs {
			for _, k := range s.plan.number(d.Number).keys() {
				s.dids[k] = didEntry{trunk: t.Name, extension: d.Extension}
				owned[k] = true
			}
		}
		if t.DefaultCallerID != "" {
			for _, k := range s.plan.number(t.DefaultCallerID).keys() {
				owned[k] = true
			}
		}
		s.trunkNumbers[t.Name] = owned
		if t.DefaultOutbound && t.Enabled && s.defaultOutbound == "" {
			s.defaultOutbound = t.Name
		}
	}
	sort.Strings(s.trunkNames)
	for _, g := range c.RingGroups {
		g.Defaults()
		s.ringGroups[g.Name] = g
	}
	for _, r := range c.InboundRules {
		ir := s.compileInbound(r)
		if ir.err != nil {
			s.warnings = append(s.warnings, fmt.Sprintf("inbound rule %q: %v", r.Name, ir.err))
		}
		s.inbound = append(s.inbound, ir)
	}
	slices.SortStableFunc(s.inbound, func(a, b *inboundRule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	for _, r := range c.OutboundRules {
		or := s.compileOutbound(r)
		if or.err != nil {
			s.warnings = append(s.warnings, fmt.Sprintf("outbound rule %q: %v", r.Name, or.err))
		}
		s.outbound = append(s.outbound, or)
	}
	slices.SortStableFunc(s.outbound, func(a, b *outboundRule) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	return s
}

// Warnings lists the rules that did not compile and therefore never match; the
// app logs them after a reload.
func (s *Snapshot) Warnings() []string { return slices.Clone(s.warnings) }

// DialPlan returns the dial plan in use, with its defaults filled in.
func (s *Snapshot) DialPlan() model.DialPlan { return s.dialPlan }

// RingGroup returns a ring group by name (enabled or not).
func (s *Snapshot) RingGroup(name string) (model.RingGroup, bool) {
	g, ok := s.ringGroups[name]
	return g, ok
}

// WithExtension returns a copy of s in which extension number is e, or is gone when
// e is nil. Only the extension index is copied (O(n) in extensions, no store read);
// everything else is shared, being immutable.
func (s *Snapshot) WithExtension(number string, e *model.Extension) *Snapshot {
	c := *s
	c.extensions = make(map[string]model.Extension, len(s.extensions)+1)
	for k, v := range s.extensions {
		c.extensions[k] = v
	}
	if e == nil {
		delete(c.extensions, number)
	} else {
		c.extensions[number] = *e
	}
	return &c
}

// Extension returns an enabled extension by number.
func (s *Snapshot) Extension(number string) (model.Extension, bool) {
	e, ok := s.extensions[number]
	if !ok || e.Disabled {
		return model.Extension{}, false
	}
	return e, true
}

// Trunk returns a trunk by name (enabled or not).
func (s *Snapshot) Trunk(name string) (model.Trunk, bool) {
	t, ok := s.trunks[name]
	if !ok {
		return model.Trunk{}, false
	}
	return *t, true
}

// Trunks returns every trunk, by name.
func (s *Snapshot) Trunks() []model.Trunk {
	out := make([]model.Trunk, 0, len(s.trunkNames))
	for _, n := range s.trunkNames {
		out = append(out, *s.trunks[n])
	}
	return out
}

// AcceptRegisterTrunk returns the enabled accept-register trunk whose issued user
// name is user.
func (s *Snapshot) AcceptRegisterTrunk(user string) (model.Trunk, bool) {
	t, ok := s.byUser[user]
	if !ok || !t.Enabled {
		return model.Trunk{}, false
	}
	return *t, true
}

// Table holds the current Snapshot; readers never block writers.
type Table struct {
	cur atomic.Pointer[Snapshot]
}

// NewTable starts with an empty snapshot.
func NewTable() *Table {
	t := &Table{}
	t.cur.Store(NewSnapshot(Config{}))
	return t
}

// Load returns the current snapshot.
func (t *Table) Load() *Snapshot { return t.cur.Load() }

// Store swaps in a new snapshot.
func (t *Table) Store(s *Snapshot) { t.cur.Store(s) }

// Extension looks up in the current snapshot (sipedge.Directory, call.Directory).
func (t *Table) Extension(number string) (model.Extension, bool) { return t.Load().Extension(number) }

// Accounts adapts a Table to the registrar and digest checks: extensions and
// accept-register trunks (a gateway or branch registering to us) authenticate alike.
// A trunk's account appears as an Extension whose Number is the issued user name.
type Accounts struct{ Table *Table }

// Extension returns the digest account named user.
func (a Accounts) Extension(user string) (model.Extension, bool) {
	s := a.Table.Load()
	if e, ok := s.Extension(user); ok {
		return e, true
	}
	if t, ok := s.AcceptRegisterTrunk(user); ok {
		return model.Extension{Number: user, Password: t.Password}, true
	}
	return model.Extension{}, false
}

// TrunkOfUser names the accept-register trunk whose issued user name is user.
func (a Accounts) TrunkOfUser(user string) (string, bool) {
	t, ok := a.Table.Load().AcceptRegisterTrunk(user)
	return t.Name, ok
}
