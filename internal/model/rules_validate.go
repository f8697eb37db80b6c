package model

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trunkline/trunkline/internal/routing/pattern"
)

// Limits checked by the rule validators.
const (
	maxRuleName        = 64
	maxRuleNumbers     = 100 // patterns, caller extensions, members, holidays, ...
	maxPrefix          = 16  // dial plan prefixes
	maxRingTimeout     = 600 // seconds
	maxStrip           = 32
	defaultRejectCode  = 403
	minRejectCode      = 400
	maxRejectCode      = 699
	maxPriority        = 1_000_000
	maxScheduleEntries = 50
)

// validatePermissions: known classes, no duplicates.
func validatePermissions(ps []string) error {
	for i, p := range ps {
		field := fmt.Sprintf("permissions[%d]", i)
		if !slices.Contains(PermissionClasses, p) {
			return fieldErr(field, "must be one of "+strings.Join(PermissionClasses, ", "))
		}
		if slices.Contains(ps[:i], p) {
			return fieldErr(field, "duplicate")
		}
	}
	return nil
}

// Defaults fills the international prefix ("011" for country code 1, else "00")
// and the emergency numbers (911, 112, 999). Mobile and premium prefixes stay nil:
// routing then uses its built-in table for the country.
func (p *DialPlan) Defaults() {
	if p.InternationalPrefix == "" {
		p.InternationalPrefix = "00"
		if p.CountryCode == "1" {
			p.InternationalPrefix = "011"
		}
	}
	if len(p.EmergencyNumbers) == 0 {
		p.EmergencyNumbers = []string{"911", "112", "999"}
	}
}

// ValidateDialPlan checks a dial plan: all fields are digit strings.
func ValidateDialPlan(p *DialPlan) error {
	if p.CountryCode != "" && (len(p.CountryCode) > 3 || !allDigits(p.CountryCode) || p.CountryCode[0] == '0') {
		return fieldErr("country_code", "must be 1 to 3 digits not starting with 0")
	}
	for _, f := range []struct{ name, v string }{
		{"national_prefix", p.NationalPrefix}, {"international_prefix", p.InternationalPrefix},
	} {
		if len(f.v) > 4 || !allDigits(f.v) {
			return fieldErr(f.name, "must be at most 4 digits")
		}
	}
	if p.NationalPrefix != "" && p.NationalPrefix == p.InternationalPrefix {
		return fieldErr("national_prefix", "must differ from international_prefix")
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"emergency_numbers", p.EmergencyNumbers}, {"mobile_prefixes", p.MobilePrefixes}, {"premium_prefixes", p.PremiumPrefixes}} {
		if len(l.list) > maxRuleNumbers {
			return fieldErr(l.name, fmt.Sprintf("more than %d entries", maxRuleNumbers))
		}
		for i, v := range l.list {
			if v == "" || len(v) > maxPrefix || !allDigits(v) {
				return fieldErr(fmt.Sprintf("%s[%d]", l.name, i), "must be 1 to 16 digits")
			}
		}
	}
	return nil
}

// validRuleName: 1-64 printable characters.
func validateRuleName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fieldErr("name", "required")
	case len(name) > maxRuleName:
		return fieldErr("name", "longer than 64 characters")
	case strings.IndexFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0:
		return fieldErr("name", "must not contain control characters")
	}
	return nil
}

func validatePriority(p int) error {
	if p < 0 || p > maxPriority {
		return fieldErr("priority", "must be between 0 and 1000000")
	}
	return nil
}

// validateSpec checks a number, range or pattern (pattern.ParseSpec).
func validateSpec(field, s string) error {
	if _, err := pattern.ParseSpec(s); err != nil {
		return fieldErr(field, err.Error())
	}
	return nil
}

// ValidateInboundRule checks an inbound rule; trunks is the set of configured
// trunk names.
func ValidateInboundRule(r *InboundRule, trunks map[string]bool) error {
	if err := validateRuleName(r.Name); err != nil {
		return err
	}
	if err := validatePriority(r.Priority); err != nil {
		return err
	}
	if r.Trunk != "" && !trunks[r.Trunk] {
		return fieldErr("trunk", "no such trunk")
	}
	if r.DID != "" {
		if err := validateSpec("did", r.DID); err != nil {
			return err
		}
	}
	if r.CallerMask != "" {
		if err := validateSpec("caller_mask", r.CallerMask); err != nil {
			return err
		}
	}
	if err := validateDestination("destination", &r.Destination); err != nil {
		return err
	}
	if r.AfterHours != nil {
		if r.Schedule == nil {
			return fieldErr("after_hours", "requires a schedule")
		}
		if err := validateDestination("after_hours", r.AfterHours); err != nil {
			return err
		}
	}
	if r.Schedule != nil {
		return ValidateSchedule("schedule", r.Schedule)
	}
	return nil
}

func validateDestination(field string, d *Destination) error {
	switch d.Type {
	case DestExtension:
		if d.Target == "" || len(d.Target) > 32 || !allDigits(d.Target) {
			return fieldErr(field+".target", "must be an extension number")
		}
	case DestRingGroup:
		if !validGroupName(d.Target) {
			return fieldErr(field+".target", "must be a ring group name")
		}
	case DestExternal:
		if !validNumber(d.Target) {
			return fieldErr(field+".target", "must be digits with an optional leading +")
		}
	case DestDialed:
		if d.Target != "" {
			return fieldErr(field+".target", "not allowed for type dialed")
		}
	case DestReject:
		if d.Target != "" {
			return fieldErr(field+".target", "not allowed for type reject")
		}
		if d.RejectCode != 0 && (d.RejectCode < minRejectCode || d.RejectCode > maxRejectCode) {
			return fieldErr(field+".reject_code", "must be between 400 and 699")
		}
		return nil
	case "":
		return fieldErr(field+".type", "required")
	default:
		return fieldErr(field+".type", "must be one of extension, ring_group, external, dialed, reject")
	}
	if d.RejectCode != 0 {
		return fieldErr(field+".reject_code", "only allowed for type reject")
	}
	return nil
}

// RejectStatus is the SIP status of a reject destination (default 403).
func (d Destination) RejectStatus() int {
	if d.RejectCode == 0 {
		return defaultRejectCode
	}
	return d.RejectCode
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Weekday parses mon…sun.
func Weekday(s string) (time.Weekday, bool) {
	d, ok := weekdays[s]
	return d, ok
}

// ClockMinutes parses "HH:MM" (00:00 to 24:00) into minutes after midnight.
func ClockMinutes(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' || !allDigits(s[:2]) || !allDigits(s[3:]) {
		return 0, false
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	if h > 24 || m > 59 || h == 24 && m != 0 {
		return 0, false
	}
	return h*60 + m, true
}

// ValidateSchedule checks a schedule; field prefixes the error's field name.
func ValidateSchedule(field string, s *Schedule) error {
	if s.TimeZone != "" {
		if s.TimeZone == "Local" {
			return fieldErr(field+".time_zone", "must be an IANA time zone name")
		}
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			return fieldErr(field+".time_zone", "must be an IANA time zone name")
		}
	}
	if len(s.Hours) > maxScheduleEntries {
		return fieldErr(field+".hours", "more than 50 entries")
	}
	for i, h := range s.Hours {
		f := fmt.Sprintf("%s.hours[%d]", field, i)
		if len(h.Days) == 0 {
			return fieldErr(f+".days", "required")
		}
		for j, d := range h.Days {
			if _, ok := weekdays[d]; !ok {
				return fieldErr(fmt.Sprintf("%s.days[%d]", f, j), "must be one of mon, tue, wed, thu, fri, sat, sun")
			}
		}
		from, ok := ClockMinutes(h.From)
		if !ok || from == 24*60 {
			return fieldErr(f+".from", "must be HH:MM")
		}
		to, ok := ClockMinutes(h.To)
		if !ok {
			return fieldErr(f+".to", "must be HH:MM")
		}
		if from == to {
			return fieldErr(f+".to", "must differ from from")
		}
	}
	if len(s.Holidays) > maxRuleNumbers*4 {
		return fieldErr(field+".holidays", "more than 400 entries")
	}
	for i, d := range s.Holidays {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return fieldErr(fmt.Sprintf("%s.holidays[%d]", field, i), "must be a date YYYY-MM-DD")
		}
	}
	return nil
}

// Defaults sets the strategy to ordered when empty.
func (r *OutboundRule) Defaults() {
	if r.Strategy == "" {
		r.Strategy = StrategyOrdered
	}
}

// ValidateOutboundRule checks an outbound rule; trunks is the set of configured
// trunk names.
func ValidateOutboundRule(r *OutboundRule, trunks map[string]bool) error {
	if err := validateRuleName(r.Name); err != nil {
		return err
	}
	if err := validatePriority(r.Priority); err != nil {
		return err
	}
	m := &r.Match
	if len(m.Patterns) > maxRuleNumbers {
		return fieldErr("match.patterns", "more than 100 entries")
	}
	for i, p := range m.Patterns {
		if _, err := pattern.Compile(p); err != nil {
			return fieldErr(fmt.Sprintf("match.patterns[%d]", i), err.Error())
		}
	}
	switch {
	case m.MinLength < 0 || m.MinLength > 32:
		return fieldErr("match.min_length", "must be between 0 and 32")
	case m.MaxLength < 0 || m.MaxLength > 32:
		return fieldErr("match.max_length", "must be between 0 and 32")
	case m.MaxLength != 0 && m.MaxLength < m.MinLength:
		return fieldErr("match.max_length", "must not be less than min_length")
	case len(m.CallerExtensions) > maxRuleNumbers:
		return fieldErr("match.caller_extensions", "more than 100 entries")
	}
	for i, c := range m.CallerExtensions {
		if err := validateSpec(fmt.Sprintf("match.caller_extensions[%d]", i), c); err != nil {
			return err
		}
	}
	switch r.Strategy {
	case "", StrategyOrdered, StrategyWeighted:
	default:
		return fieldErr("strategy", "must be one of ordered, weighted")
	}
	if r.Permission != "" && !slices.Contains(PermissionClasses, r.Permission) {
		return fieldErr("permission", "must be one of "+strings.Join(PermissionClasses, ", "))
	}
	switch {
	case len(r.Routes) == 0:
		return fieldErr("routes", "at least one route required")
	case len(r.Routes) > MaxOutboundRoutes:
		return fieldErr("routes", "at most 8 routes")
	}
	for i, rt := range r.Routes {
		if err := validateRoute(fmt.Sprintf("routes[%d]", i), &rt, trunks, r.Strategy); err != nil {
			return err
		}
	}
	return nil
}

func validateRoute(f string, rt *OutboundRoute, trunks map[string]bool, strategy string) error {
	switch {
	case rt.Trunk == "":
		return fieldErr(f+".trunk", "required")
	case !trunks[rt.Trunk]:
		return fieldErr(f+".trunk", "no such trunk")
	case rt.Strip < 0 || rt.Strip > maxStrip:
		return fieldErr(f+".strip", "must be between 0 and 32")
	case len(rt.Prepend) > maxTechPrefix:
		return fieldErr(f+".prepend", "longer than 32 characters")
	case strings.IndexFunc(rt.Prepend, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '*' || r == '#' || r == '+')
	}) >= 0:
		return fieldErr(f+".prepend", "must contain only digits, *, # and +")
	case rt.CallerID != "" && !validNumber(rt.CallerID):
		return fieldErr(f+".caller_id", "must be digits with an optional leading +")
	case rt.Weight < 0 || rt.Weight > 1000:
		return fieldErr(f+".weight", "must be between 0 and 1000")
	case rt.Weight != 0 && strategy != StrategyWeighted:
		return fieldErr(f+".weight", "only allowed with strategy weighted")
	}
	return nil
}

// Defaults sets the strategy (simultaneous) and member timeout (20 s) when unset.
func (g *RingGroup) Defaults() {
	if g.Strategy == "" {
		g.Strategy = RingSimultaneous
	}
	if g.MemberTimeout == 0 {
		g.MemberTimeout = DefaultRingGroupMemberTimeout
	}
}

// validGroupName: like trunk names, 1-64 of a-z 0-9 _ -.
func validGroupName(s string) bool {
	return s != "" && len(s) <= maxRuleName && strings.IndexFunc(s, func(r rune) bool { return !isNameChar(r) }) < 0
}

// ValidateRingGroup checks a ring group.
func ValidateRingGroup(g *RingGroup) error {
	switch {
	case g.Name == "":
		return fieldErr("name", "required")
	case !validGroupName(g.Name):
		return fieldErr("name", "must be 1 to 64 of a-z, 0-9, _ and -")
	}
	switch g.Strategy {
	case "", RingSimultaneous, RingSequential:
	default:
		return fieldErr("strategy", "must be one of simultaneous, sequential")
	}
	switch {
	case len(g.Members) == 0:
		return fieldErr("members", "at least one member required")
	case len(g.Members) > maxRuleNumbers:
		return fieldErr("members", "more than 100 members")
	}
	for i, m := range g.Members {
		f := fmt.Sprintf("members[%d]", i)
		if m == "" || len(m) > 32 || !allDigits(m) {
			return fieldErr(f, "must be an extension number")
		}
		if slices.Contains(g.Members[:i], m) {
			return fieldErr(f, "duplicate")
		}
	}
	if g.MemberTimeout < 0 || g.MemberTimeout > maxRingTimeout {
		return fieldErr("member_timeout", "must be between 0 and 600")
	}
	return nil
}
