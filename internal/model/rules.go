package model

import "time"

// Permission classes: what an extension may dial (Extension.Permissions) and how
// routing classifies a dialed number (docs/routing.md "Numbers").
const (
	ClassInternal      = "internal"      // another extension
	ClassEmergency     = "emergency"     // DialPlan.EmergencyNumbers; never refused
	ClassNational      = "national"      // same country code, or not normalisable
	ClassMobile        = "mobile"        // same country code, a mobile prefix
	ClassPremium       = "premium"       // same country code, a premium-rate prefix
	ClassInternational = "international" // another country code
)

// PermissionClasses lists every class, in the order the docs use.
var PermissionClasses = []string{ClassInternal, ClassNational, ClassMobile, ClassInternational, ClassPremium, ClassEmergency}

// DefaultPermissions are the classes an extension may call when it was created
// without "permissions" (and what routing assumes for an extension whose
// Permissions is nil): international and premium are off (toll fraud).
func DefaultPermissions() []string {
	return []string{ClassInternal, ClassNational, ClassMobile, ClassEmergency}
}

// DialPlan is the company's numbering context: how dialed numbers are turned into
// E.164 and classified. It is a singleton setting (GET/PUT /api/v1/dialplan). The
// zero value is usable: no home country, so only numbers dialed with + or the
// international prefix normalise.
type DialPlan struct {
	// CountryCode is the home country's calling code without +: "1", "44", "49".
	CountryCode string `json:"country_code"`
	// NationalPrefix is the trunk prefix of national numbers: "0" (UK, DE), ""
	// (NANP, where 10 digits or 1 + 10 digits are national).
	NationalPrefix string `json:"national_prefix"`
	// InternationalPrefix is dialed before a country code: "011" (NANP), "00".
	// Empty = "011" for country code 1, else "00".
	InternationalPrefix string `json:"international_prefix"`
	// EmergencyNumbers are always routable, bypass permissions and call limits.
	// Empty = ["911", "112", "999"].
	EmergencyNumbers []string `json:"emergency_numbers,omitempty"`
	// MobilePrefixes and PremiumPrefixes are prefixes of the national significant
	// number (after the country code: UK mobile "7" for 07…). null = the built-in
	// table for the country code (docs/routing.md); [] = none.
	MobilePrefixes  []string  `json:"mobile_prefixes"`
	PremiumPrefixes []string  `json:"premium_prefixes"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Destination is where an inbound rule sends a call.
type Destination struct {
	// Type is extension, ring_group, external, dialed or reject.
	Type string `json:"type"`
	// Target is the extension number, ring group name or external number; empty
	// for reject.
	Target string `json:"target,omitempty"`
	// RejectCode is the SIP status for reject (400-699); 0 = 403.
	RejectCode int `json:"reject_code,omitempty"`
}

// Destination types.
const (
	DestExtension = "extension"
	DestRingGroup = "ring_group"
	DestExternal  = "external"
	DestReject    = "reject"
	// DestDialed routes the number the trunk delivered as if one of our extensions
	// had dialed it: to that extension, else through outbound routing. It makes a
	// branch trunk work both ways (branch B's extensions, and B's providers when
	// branch A's own trunks are down). Only for trusted trunks: it is transit.
	DestDialed = "dialed"
)

// Schedule is a set of weekly opening hours in a time zone, minus holidays.
type Schedule struct {
	// TimeZone is an IANA zone name ("Europe/Berlin"); empty = UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// Hours are the open periods; none = open all week (holidays still close).
	Hours []OpenHours `json:"hours,omitempty"`
	// Holidays are closed dates, YYYY-MM-DD in TimeZone.
	Holidays []string `json:"holidays,omitempty"`
}

// OpenHours is one weekly open period: on each of Days from From to To (HH:MM,
// To may be "24:00"). A period with To before From runs past midnight into the
// next day.
type OpenHours struct {
	Days []string `json:"days"` // mon, tue, wed, thu, fri, sat, sun
	From string   `json:"from"`
	To   string   `json:"to"`
}

// InboundRule sends calls arriving on a trunk to a destination. Rules are tried by
// ascending Priority (then ID); the first that matches decides. A trunk DID with an
// extension (Trunk.DIDs) acts as a rule tried after all of these.
type InboundRule struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	// Trunk restricts the rule to calls from one trunk; empty = any trunk.
	Trunk string `json:"trunk,omitempty"`
	// DID is the called number: exact ("+4930100100"), a range
	// ("4930100100-4930100199") or a pattern; empty = any. Compared after
	// normalisation with the dial plan.
	DID string `json:"did,omitempty"`
	// CallerMask matches the caller's number the same way; empty = any.
	CallerMask  string      `json:"caller_mask,omitempty"`
	Destination Destination `json:"destination"`
	// Schedule, when set, limits Destination to its open hours; out of hours the
	// call goes to AfterHours, or (AfterHours nil) the rule does not match.
	Schedule   *Schedule    `json:"schedule,omitempty"`
	AfterHours *Destination `json:"after_hours,omitempty"`
	Enabled    bool         `json:"enabled"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
}

// MaxOutboundRoutes is the most routes an outbound rule may have.
const MaxOutboundRoutes = 8

// OutboundRule sends numbers dialed by extensions out over trunks. Rules are tried
// by ascending Priority (then ID); the first that matches decides and its routes
// become the call's targets, tried in order (failover).
type OutboundRule struct {
	ID       int64         `json:"id"`
	Name     string        `json:"name"`
	Priority int           `json:"priority"`
	Enabled  bool          `json:"enabled"`
	Match    OutboundMatch `json:"match"`
	// Emergency marks a rule for emergency calls: its targets bypass permissions
	// and call limits, and for emergency numbers emergency rules are tried first.
	Emergency bool `json:"emergency,omitempty"`
	// Routes are the trunks to try, 1 to 8.
	Routes []OutboundRoute `json:"routes"`
	// Strategy is "ordered" (default: routes as listed) or "weighted" (routes by
	// descending Weight; ties keep their order).
	Strategy string `json:"strategy,omitempty"`
	// Permission, when set, is a class the caller must hold to use this rule, on top
	// of the class of the dialed number.
	Permission string    `json:"permission,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Outbound strategies.
const (
	StrategyOrdered  = "ordered"
	StrategyWeighted = "weighted"
)

// OutboundMatch is the condition of an outbound rule; every set part must hold.
type OutboundMatch struct {
	// Patterns: the dialed number (or its +E.164 form) matches one of them; none =
	// any number.
	Patterns []string `json:"patterns,omitempty"`
	// MinLength and MaxLength bound the dialed number's length in digits; 0 = none.
	MinLength int `json:"min_length,omitempty"`
	MaxLength int `json:"max_length,omitempty"`
	// CallerExtensions: the calling extension is one of these numbers or ranges
	// ("1000-1099"); none = any caller.
	CallerExtensions []string `json:"caller_extensions,omitempty"`
}

// OutboundRoute is one trunk of an outbound rule and how the number is rewritten
// for it.
type OutboundRoute struct {
	Trunk string `json:"trunk"`
	// Strip removes this many leading characters of the number as formatted for
	// the trunk; Prepend is then put in front (both before the trunk's tech prefix).
	Strip   int    `json:"strip,omitempty"`
	Prepend string `json:"prepend,omitempty"`
	// CallerID overrides the extension's caller ID on this route.
	CallerID string `json:"caller_id,omitempty"`
	// Anonymous withholds the caller ID (Privacy: id; PAI keeps the real number).
	Anonymous bool `json:"anonymous,omitempty"`
	// Weight orders routes of a weighted rule (higher first).
	Weight int `json:"weight,omitempty"`
}

// RingGroup rings several extensions for one destination.
type RingGroup struct {
	Name string `json:"name"`
	// Strategy is simultaneous (all members at once) or sequential (one after the
	// other, MemberTimeout each).
	Strategy string   `json:"strategy"`
	Members  []string `json:"members"`
	// MemberTimeout is how long each member rings in a sequential group, seconds;
	// 0 = 20.
	MemberTimeout int       `json:"member_timeout,omitempty"`
	Enabled       bool      `json:"enabled"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Ring group strategies and defaults.
const (
	RingSimultaneous              = "simultaneous"
	RingSequential                = "sequential"
	DefaultRingGroupMemberTimeout = 20
)

// Caller ID policies of a trunk (Trunk.CallerIDPolicy).
const (
	CallerIDReplace = "replace" // a caller ID the trunk does not own becomes its default
	CallerIDReject  = "reject"  // the route is skipped
)
