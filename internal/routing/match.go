package routing

import (
	"slices"
	"strings"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/routing/pattern"
)

// matcher is a compiled number condition (pattern.Spec) plus, for exact numbers
// and ranges, their normalised forms under the dial plan.
type matcher struct {
	src  string
	spec pattern.Spec
	keys []string    // Exact: the number's keys
	rng  [][2]string // Range: the bounds as written and normalised
}

func (p plan) compileMatcher(s string) (*matcher, error) {
	spec, err := pattern.ParseSpec(s)
	if err != nil {
		return nil, err
	}
	m := &matcher{src: s, spec: spec}
	switch spec.Kind {
	case pattern.Exact:
		m.keys = p.number(s).keys()
	case pattern.Range:
		m.rng = [][2]string{{spec.Lo, spec.Hi}}
		lo, hi := p.normalise(spec.Lo), p.normalise(spec.Hi)
		if lo != "" && len(lo) == len(hi) && (lo != spec.Lo || hi != spec.Hi) {
			m.rng = append(m.rng, [2]string{lo, hi})
		}
	}
	return m, nil
}

// match reports whether n satisfies the condition, and which form of n matched.
func (m *matcher) match(n Number) (bool, string) {
	switch m.spec.Kind {
	case pattern.Exact:
		for _, k := range n.keys() {
			if slices.Contains(m.keys, k) {
				return true, k
			}
		}
	case pattern.Range:
		for _, k := range n.keys() {
			for _, r := range m.rng {
				if len(k) == len(r[0]) && k >= r[0] && k <= r[1] {
					return true, k
				}
			}
		}
	default:
		for _, c := range candidates(n) {
			if m.spec.Pattern.Match(c) {
				return true, c
			}
		}
	}
	return false, ""
}

// candidates are the forms a pattern is tried against, in order: as dialed, the
// digits without "+", the E.164 digits, +E.164.
func candidates(n Number) []string {
	c := []string{n.Dialed}
	add := func(s string) {
		if s != "" && !slices.Contains(c, s) {
			c = append(c, s)
		}
	}
	add(strings.TrimPrefix(n.Dialed, "+"))
	add(n.E164)
	if n.E164 != "" {
		add("+" + n.E164)
	}
	return c
}

// schedule is a compiled model.Schedule.
type schedule struct {
	loc      *time.Location
	hours    []openHours
	holidays map[string]bool
}

type openHours struct {
	days     [7]bool
	from, to int // minutes after midnight; to < from runs past midnight
}

func compileSchedule(s *model.Schedule) (*schedule, error) {
	c := &schedule{loc: time.UTC, holidays: make(map[string]bool, len(s.Holidays))}
	if s.TimeZone != "" {
		loc, err := time.LoadLocation(s.TimeZone)
		if err != nil {
			return nil, err
		}
		c.loc = loc
	}
	for _, h := range s.Hours {
		var o openHours
		for _, d := range h.Days {
			if wd, ok := model.Weekday(d); ok {
				o.days[wd] = true
			}
		}
		o.from, _ = model.ClockMinutes(h.From)
		o.to, _ = model.ClockMinutes(h.To)
		c.hours = append(c.hours, o)
	}
	for _, d := range s.Holidays {
		c.holidays[d] = true
	}
	return c, nil
}

// open reports whether t falls in the open hours, and why (for Explain).
func (s *schedule) open(t time.Time) (bool, string) {
	lt := t.In(s.loc)
	local := lt.Format("Mon 2006-01-02 15:04 MST")
	if s.holidays[lt.Format(time.DateOnly)] {
		return false, local + " is a holiday"
	}
	if len(s.hours) == 0 {
		return true, local + " (open all week)"
	}
	m, wd := lt.Hour()*60+lt.Minute(), lt.Weekday()
	for _, h := range s.hours {
		if h.from < h.to && h.days[wd] && m >= h.from && m < h.to ||
			h.from > h.to && (h.days[wd] && m >= h.from || h.days[(wd+6)%7] && m < h.to) {
			return true, local + " is within open hours"
		}
	}
	return false, local + " is outside open hours"
}
