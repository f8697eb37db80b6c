package routing

import (
	"strings"

	"github.com/trunkline/trunkline/internal/model"
)

// Request is a call to be routed: who calls and what was dialed.
type Request struct {
	// FromExtension is set for calls from an extension; FromTrunk for calls that
	// arrived on a trunk (then Dialed is the DID as the trunk's did_source gave it).
	FromExtension string
	FromTrunk     string
	Dialed        string
	// CallerNumber is the caller's number as received (for trunk calls).
	CallerNumber string
}

// TargetKind says what a Target rings.
type TargetKind string

const (
	TargetExtension TargetKind = "extension"
	TargetTrunk     TargetKind = "trunk"
)

// Target is one step of a decision: call control tries targets in order.
type Target struct {
	Kind      TargetKind
	Extension string // TargetExtension
	Trunk     string // TargetTrunk
	// Number is the Request-URI user to send: the extension, or the dialed number
	// formatted for the trunk.
	Number string
	// CallerID is the number presented to the callee.
	CallerID string
}

// Decision is the outcome of routing: targets to try in order, or a rejection.
type Decision struct {
	Direction string // "internal", "inbound", "outbound"
	Targets   []Target
	// RejectCode is set (with Reason) when the call must not be placed.
	RejectCode int
	Reason     string
}

// Route decides where a call goes. It never fails: a call that cannot be routed
// gets a Decision with RejectCode and the reason.
func (s *Snapshot) Route(r Request) Decision {
	if r.FromTrunk != "" {
		return s.routeInbound(r)
	}
	if _, ok := s.Extension(r.Dialed); ok {
		return Decision{Direction: "internal", Targets: []Target{{Kind: TargetExtension, Extension: r.Dialed, Number: r.Dialed, CallerID: r.FromExtension}}}
	}
	if _, known := s.extensions[r.Dialed]; known {
		return Decision{Direction: "internal", RejectCode: 404, Reason: "extension " + r.Dialed + " is disabled"}
	}
	if !isDialString(r.Dialed) {
		return Decision{Direction: "internal", RejectCode: 404, Reason: "no extension " + r.Dialed}
	}
	return s.routeOutbound(r)
}

func (s *Snapshot) routeInbound(r Request) Decision {
	d := Decision{Direction: "inbound"}
	n := digits(r.Dialed)
	e, ok := s.dids[n]
	if !ok || e.trunk != r.FromTrunk {
		// A DID of another trunk arriving here is refused too: a provider may only
		// deliver the numbers it owns.
		d.RejectCode, d.Reason = 404, "DID "+r.Dialed+" is not a number of trunk "+r.FromTrunk
		return d
	}
	if e.extension == "" {
		d.RejectCode, d.Reason = 404, "DID "+r.Dialed+" has no destination"
		return d
	}
	if _, ok := s.Extension(e.extension); !ok {
		d.RejectCode, d.Reason = 404, "DID "+r.Dialed+" leads to missing or disabled extension "+e.extension
		return d
	}
	d.Targets = []Target{{Kind: TargetExtension, Extension: e.extension, Number: e.extension, CallerID: r.CallerNumber}}
	return d
}

func (s *Snapshot) routeOutbound(r Request) Decision {
	d := Decision{Direction: "outbound"}
	name := s.defaultOutbound
	if name == "" {
		d.RejectCode, d.Reason = 404, "no outbound trunk for "+r.Dialed
		return d
	}
	t := s.trunks[name]
	caller := s.extensions[r.FromExtension]
	cid := caller.CallerID
	if cid == "" {
		cid = t.DefaultCallerID
	}
	d.Targets = []Target{{Kind: TargetTrunk, Trunk: name, Number: FormatNumber(r.Dialed, t), CallerID: cid}}
	return d
}

// isDialString reports whether s looks like a phone number: optional +, then 2 to 20
// digits (also * and #, which some services use).
func isDialString(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 2 || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '*' && c != '#' {
			return false
		}
	}
	return true
}

// digits returns only the decimal digits of s ("+1 (212) 555" → "1212555"), after
// an international "00" prefix is dropped.
func digits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// FormatNumber writes a dialed number in the form the trunk wants. Numbers are
// taken as dialed: with a leading + (or 00) they are international; without, they
// are sent as they are except for the + of e164_plus. The routing issue adds the
// company dial plan (national → E.164).
func FormatNumber(dialed string, t *model.Trunk) string {
	intl := strings.HasPrefix(dialed, "+") || strings.HasPrefix(dialed, "00")
	n := strings.TrimPrefix(dialed, "+")
	if strings.HasPrefix(dialed, "00") {
		n = dialed[2:]
	}
	switch t.NumberFormat {
	case model.FormatE164:
		return n
	case model.FormatNational:
		return n
	case model.FormatTechPrefix:
		return t.TechPrefix + n
	default: // e164_plus
		if intl || len(n) > 0 {
			return "+" + n
		}
		return n
	}
}
