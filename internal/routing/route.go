package routing

import (
	"fmt"
	"slices"
	"strings"
	"time"

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
	// Now is the clock for schedules; the caller sets it (routing never reads the
	// clock). Zero: schedules are not evaluated and a scheduled rule uses its
	// open-hours destination (Explain says so).
	Now time.Time
}

// TargetKind says what a Target rings.
type TargetKind string

const (
	TargetExtension TargetKind = "extension"
	TargetTrunk     TargetKind = "trunk"
)

// Target is one step of a decision: call control tries targets in order and moves
// to the next one after a failure of the failover class (for extension targets
// also: no answer within RingTimeout, busy, not registered).
type Target struct {
	Kind      TargetKind
	Extension string // TargetExtension: the extension, or the first of Extensions
	Trunk     string // TargetTrunk
	// Number is the Request-URI user to send: the extension, or the dialed number
	// formatted and rewritten for the trunk.
	Number string
	// CallerID is the number presented to the callee.
	CallerID string
	// Extensions, when set, are rung at once (a simultaneous ring group); Extension
	// is then Extensions[0].
	Extensions []string
	// RingTimeout is how long this target may ring before the next one is tried (a
	// sequential ring group's member timeout); 0 = the call's ring timeout.
	RingTimeout time.Duration
	// Anonymous asks for the caller ID to be withheld: send Privacy: id (RFC 3323)
	// with the real number in P-Asserted-Identity only.
	Anonymous bool
	// Emergency: an emergency call; call control must not refuse it for trunk or
	// extension call limits (permissions were already bypassed here).
	Emergency bool
	// Route names what produced the target, for logs and CDRs: "rule/2" (route 2
	// of outbound rule "rule"), an inbound rule's name, or a built-in: "extension",
	// "did", "default_outbound".
	Route string
}

// Step is one line of a decision's story: a rule considered, a check, a target.
type Step struct {
	// Stage is number, rule, schedule, destination, permission, route or fallback.
	Stage string `json:"stage"`
	// Name is the rule, trunk, extension or ring group concerned, if any.
	Name string `json:"name,omitempty"`
	// OK: the rule matched, the check passed, the route became a target.
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Decision is the outcome of routing: targets to try in order, or a rejection.
type Decision struct {
	Direction string // "internal", "inbound", "outbound"
	Targets   []Target
	// RejectCode is set (with Reason) when the call must not be placed.
	RejectCode int
	Reason     string
	// Rule is the rule that matched; "" for built-ins (extension dialing, trunk DID
	// assignment, default_outbound trunk).
	Rule string
	// Number is the dialed number (or the DID, inbound) normalised and classified.
	Number Number
	// Explain is the dry-run story: each rule considered and why it matched or not,
	// each target and its rewrites.
	Explain []Step
}

func (d *Decision) step(stage, name string, ok bool, format string, args ...any) {
	d.Explain = append(d.Explain, Step{Stage: stage, Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
}

func (d *Decision) reject(code int, format string, args ...any) Decision {
	d.RejectCode, d.Reason, d.Targets = code, fmt.Sprintf(format, args...), nil
	d.step("result", "", false, "refused %d: %s", code, d.Reason)
	return *d
}

// Route decides where a call goes. It never fails: a call that cannot be routed
// gets a Decision with RejectCode and the reason.
func (s *Snapshot) Route(r Request) Decision {
	if r.FromTrunk != "" {
		return s.routeInbound(r)
	}
	d := Decision{Direction: "internal"}
	caller, hasCaller := s.extensions[r.FromExtension]
	if e, ok := s.Extension(r.Dialed); ok {
		d.Number = Number{Dialed: r.Dialed, Class: model.ClassInternal}
		if hasCaller && !permitted(caller, model.ClassInternal) {
			return d.reject(403, "extension %s may not call internal numbers", caller.Number)
		}
		d.step("destination", e.Number, true, "%s is an extension", e.Number)
		d.Targets = []Target{{Kind: TargetExtension, Extension: r.Dialed, Number: r.Dialed,
			CallerID: r.FromExtension, Route: "extension"}}
		return d
	}
	if _, known := s.extensions[r.Dialed]; known {
		return d.reject(404, "extension %s is disabled", r.Dialed)
	}
	if !isDialString(cleanNumber(r.Dialed)) {
		return d.reject(404, "no extension %s", r.Dialed)
	}
	caller.Number = r.FromExtension
	return s.routeOutbound(r.Dialed, outCaller{ext: r.FromExtension, callerID: caller.CallerID, perms: &caller})
}

// permitted reports whether e may call numbers of class; nil Permissions means
// model.DefaultPermissions.
func permitted(e model.Extension, class string) bool {
	if class == model.ClassEmergency {
		return true
	}
	p := e.Permissions
	if p == nil {
		p = model.DefaultPermissions()
	}
	return slices.Contains(p, class)
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

// digits returns only the decimal digits of s ("+1 (212) 555" → "1212555").
func digits(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}
