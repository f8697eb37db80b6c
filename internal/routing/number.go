package routing

import (
	"slices"
	"strings"

	"github.com/trunkline/trunkline/internal/model"
)

// Number is a dialed (or called, for inbound calls) number as routing understands
// it.
type Number struct {
	// Dialed is the number as given, without visual separators (spaces, dashes,
	// dots, parentheses).
	Dialed string `json:"dialed"`
	// E164 is the international number without "+" ("442071234567"), or "" when
	// the number cannot be normalised (short codes, service codes, local numbers
	// without a country code in the dial plan).
	E164 string `json:"e164,omitempty"`
	// Class is the permission class (model.Class*): emergency, national, mobile,
	// premium or international ("internal" is decided by Route: an extension).
	Class string `json:"class"`
}

// Built-in mobile and premium-rate prefixes of the national significant number
// (after the country code), used when the dial plan does not list its own. NANP
// (country code 1) mobiles share area codes with fixed lines: no mobile prefixes.
var (
	builtinMobile = map[string][]string{
		"44": {"71", "72", "73", "74", "75", "77", "78", "79"},
		"49": {"15", "16", "17"},
	}
	builtinPremium = map[string][]string{
		"1":  {"900", "976"},
		"44": {"9", "87", "70"},
		"49": {"900", "137"},
	}
)

// plan is a compiled model.DialPlan.
type plan struct {
	cc, national, intl string
	emergency          map[string]bool
	mobile, premium    []string
}

func newPlan(p model.DialPlan) plan {
	p.Defaults()
	c := plan{cc: p.CountryCode, national: p.NationalPrefix, intl: p.InternationalPrefix,
		emergency: make(map[string]bool, len(p.EmergencyNumbers)),
		mobile:    p.MobilePrefixes, premium: p.PremiumPrefixes}
	for _, e := range p.EmergencyNumbers {
		c.emergency[e] = true
	}
	if c.mobile == nil {
		c.mobile = builtinMobile[c.cc]
	}
	if c.premium == nil {
		c.premium = builtinPremium[c.cc]
	}
	return c
}

// E.164 numbers have at most 15 digits (ITU-T E.164 §6); we accept from 3 so that
// short test numbers ("+4930123") still normalise.
const (
	minE164 = 3
	maxE164 = 15
)

// cleanNumber removes visual separators: "+1 (212) 555-1234" → "+12125551234".
func cleanNumber(s string) string {
	if !strings.ContainsAny(s, " -().\t") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '(', ')', '.', '\t':
			return -1
		}
		return r
	}, s)
}

// normalise returns the E.164 digits of a cleaned number, or "".
func (p plan) normalise(d string) string {
	if rest, ok := strings.CutPrefix(d, "+"); ok {
		return e164(rest)
	}
	if !isDigits(d) {
		return ""
	}
	if p.intl != "" && len(d) > len(p.intl) && strings.HasPrefix(d, p.intl) {
		return e164(d[len(p.intl):])
	}
	if p.cc == "1" {
		switch {
		case len(d) == 11 && d[0] == '1' && d[1] >= '2':
			return d
		case len(d) == 10 && d[0] >= '2':
			return "1" + d
		}
		return ""
	}
	if p.cc != "" && p.national != "" && strings.HasPrefix(d, p.national) && len(d) > len(p.national)+2 {
		return e164(p.cc + d[len(p.national):])
	}
	return ""
}

func e164(d string) string {
	if len(d) < minE164 || len(d) > maxE164 || !isDigits(d) || d[0] == '0' {
		return ""
	}
	return d
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// number normalises and classifies a dialed number.
func (p plan) number(dialed string) Number {
	d := cleanNumber(dialed)
	n := Number{Dialed: d, E164: p.normalise(d)}
	switch {
	case p.emergency[d]:
		n.Class = model.ClassEmergency
	case n.E164 == "":
		n.Class = model.ClassNational
	case p.cc == "" || !strings.HasPrefix(n.E164, p.cc):
		n.Class = model.ClassInternational
	default:
		nsn := n.E164[len(p.cc):]
		hasPrefix := func(list []string) bool {
			return slices.ContainsFunc(list, func(x string) bool { return strings.HasPrefix(nsn, x) })
		}
		switch {
		case hasPrefix(p.premium):
			n.Class = model.ClassPremium
		case hasPrefix(p.mobile):
			n.Class = model.ClassMobile
		default:
			n.Class = model.ClassNational
		}
	}
	return n
}

// keys are the forms a number is compared by: its digits as given and its E.164
// digits ("030100100" and "4930100100" for Berlin with a 49/0 dial plan).
func (n Number) keys() []string {
	k := []string{strings.TrimPrefix(n.Dialed, "+")}
	if n.E164 != "" && n.E164 != k[0] {
		k = append(k, n.E164)
	}
	return k
}

// plus is the +E.164 form, or the number as dialed.
func (n Number) plus() string {
	if n.E164 != "" {
		return "+" + n.E164
	}
	return n.Dialed
}

// format writes n as the trunk wants it, without the tech prefix: e164_plus
// "+442071234567", e164 "442071234567", national "02071234567" (home country) or
// "00442071234567" (abroad, with the international prefix). A number without
// E.164 form (an emergency or short code) is sent as dialed.
func (p plan) format(n Number, t *model.Trunk) string {
	if n.E164 == "" {
		return n.Dialed
	}
	switch t.NumberFormat {
	case model.FormatE164, model.FormatTechPrefix:
		return n.E164
	case model.FormatNational:
		switch {
		case p.cc == "":
			return p.intl + n.E164
		case p.cc == "1" && strings.HasPrefix(n.E164, "1"):
			return n.E164[1:]
		case strings.HasPrefix(n.E164, p.cc):
			return p.national + n.E164[len(p.cc):]
		}
		return p.intl + n.E164
	default: // e164_plus
		return "+" + n.E164
	}
}

// rewrite applies a route's strip and prepend to the formatted number, then the
// trunk's tech prefix.
func rewrite(formatted string, strip int, prepend string, t *model.Trunk) string {
	if strip >= len(formatted) {
		formatted = ""
	} else if strip > 0 {
		formatted = formatted[strip:]
	}
	out := prepend + formatted
	if t.NumberFormat == model.FormatTechPrefix {
		out = t.TechPrefix + out
	}
	return out
}

// FormatNumber writes a dialed number in the form the trunk wants, with an empty
// dial plan: numbers dialed with + or 00 are international, others are sent as
// dialed. Snapshot.FormatNumber uses the configured dial plan.
func FormatNumber(dialed string, t *model.Trunk) string {
	p := newPlan(model.DialPlan{})
	return rewrite(p.format(p.number(dialed), t), 0, "", t)
}

// FormatNumber writes a dialed number in the form the trunk wants, normalised
// with the snapshot's dial plan.
func (s *Snapshot) FormatNumber(dialed string, t *model.Trunk) string {
	return rewrite(s.plan.format(s.plan.number(dialed), t), 0, "", t)
}

// Number normalises and classifies a dialed number with the snapshot's dial plan.
func (s *Snapshot) Number(dialed string) Number { return s.plan.number(dialed) }
