package model

import (
	"time"
)

// TrunkKind says how a trunk authenticates and how calls find their way over it.
type TrunkKind string

const (
	// TrunkRegister: we REGISTER to the provider with digest credentials (or, with
	// Register=false, only answer digest challenges on INVITE: Twilio style).
	TrunkRegister TrunkKind = "register"
	// TrunkIP: no registration; the provider is recognised by its source address.
	TrunkIP TrunkKind = "ip"
	// TrunkAcceptRegister: the far side (gateway, remote PBX) registers to us with
	// credentials we issue.
	TrunkAcceptRegister TrunkKind = "accept_register"
)

// Number formats for outbound calls (sip-facts.md "Number formats per provider").
const (
	FormatE164Plus   = "e164_plus"   // +4930123456
	FormatE164       = "e164"        // 4930123456
	FormatNational   = "national"    // 030123456 / 2125551234
	FormatTechPrefix = "tech_prefix" // TechPrefix + "*"? see Trunk.TechPrefix
)

// DID sources for inbound calls (sip-facts.md "Where the DID is").
const (
	DIDFromRequestURI = "request_uri"
	DIDFromTo         = "to"
	DIDFromPCalled    = "p_called_party_id"
	DIDFromDiversion  = "diversion"
	DIDAuto           = "auto" // Request-URI unless it is our registration Contact user, then To
)

// Trunk is a SIP trunk to a provider, a gateway or another branch. Fields are grouped
// by kind; validation (ValidateTrunk) says which apply to which kind.
type Trunk struct {
	Name    string    `json:"name"`
	Kind    TrunkKind `json:"kind"`
	Enabled bool      `json:"enabled"`

	// Where the provider is (register and ip kinds): a host name or address. A name
	// is resolved per RFC 3263 (SRV, then A/AAAA) unless Port is set.
	Host string `json:"host,omitempty"`
	// Port 0 = SRV lookup, falling back to 5060 (5061 for tls).
	Port      int    `json:"port,omitempty"`
	Transport string `json:"transport,omitempty"` // udp (default), tcp, tls
	// OutboundProxy, "host[:port]", receives every request instead of Host.
	OutboundProxy string `json:"outbound_proxy,omitempty"`

	// Credentials. For register: what we send. For accept_register: what we issue
	// (Username is the AOR the far side registers).
	Username string `json:"username,omitempty"`
	AuthID   string `json:"auth_id,omitempty"` // digest user when it differs from Username
	Password string `json:"password,omitempty"`
	Realm    string `json:"realm,omitempty"` // expected realm; empty = any
	// Register: for kind register, whether we send REGISTER at all (default true).
	// false = digest-on-INVITE only.
	Register       *bool `json:"register,omitempty"`
	RegisterExpiry int   `json:"register_expiry,omitempty"` // seconds; 0 = 600

	// IP kind: addresses or CIDRs the provider sends calls from (besides Host).
	AssociatedIPs []string `json:"associated_ips,omitempty"`
	// TechPrefix is put before the number on outbound calls, e.g. "12345678*"
	// (Flowroute) when NumberFormat is tech_prefix.
	TechPrefix string `json:"tech_prefix,omitempty"`
	// Headers added to outbound INVITEs (e.g. a provider token).
	Headers map[string]string `json:"headers,omitempty"`

	// Common settings.
	DIDs         []TrunkDID `json:"dids,omitempty"`
	MaxCalls     int        `json:"max_calls,omitempty"` // in + out; 0 = unlimited
	MaxCPS       float64    `json:"max_cps,omitempty"`   // new calls per second; 0 = unlimited
	MaxCallSecs  int        `json:"max_call_seconds,omitempty"`
	Codecs       []string   `json:"codecs,omitempty"`    // allowed, in order; empty = any
	DTMFMode     string     `json:"dtmf_mode,omitempty"` // rfc2833 (default), info, inband
	MediaRelay   *bool      `json:"media_relay,omitempty"`
	NumberFormat string     `json:"number_format,omitempty"` // outbound; default e164_plus
	DIDSource    string     `json:"did_source,omitempty"`    // inbound; default auto
	// CallerIDHeaders lists the headers our caller ID goes in: from, pai, rpid, ppi.
	// Empty = ["from"].
	CallerIDHeaders []string `json:"caller_id_headers,omitempty"`
	// DefaultCallerID is used when the caller has none of this trunk's numbers.
	DefaultCallerID string `json:"default_caller_id,omitempty"`
	// CallerIDPolicy says what happens to a caller ID that is not one of DIDs or
	// DefaultCallerID: "replace" (default) sends DefaultCallerID, "reject" skips
	// the trunk for that call (routing).
	CallerIDPolicy string `json:"caller_id_policy,omitempty"`
	// FailoverCodes are final responses after which the next route is tried; empty =
	// the sip-facts.md set (408, 480, 500, 502, 503, 504).
	FailoverCodes     []int `json:"failover_codes,omitempty"`
	InviteTimeoutMS   int   `json:"invite_timeout_ms,omitempty"`   // no 100 within → next; 0 = 2000
	ProgressTimeoutMS int   `json:"progress_timeout_ms,omitempty"` // no 18x within → next; 0 = off
	// OptionsInterval is the OPTIONS probe period in seconds; 0 = 30, -1 = off.
	OptionsInterval int `json:"options_interval,omitempty"`
	ProbeDownAfter  int `json:"probe_down_after,omitempty"` // misses; 0 = 3
	ProbeUpAfter    int `json:"probe_up_after,omitempty"`   // successes; 0 = 2
	// DefaultOutbound marks the trunk external numbers go out on until outbound rules
	// exist (the routing issue replaces this with rules).
	DefaultOutbound bool `json:"default_outbound,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TrunkDID is a number the trunk owns and, optionally, the extension it rings.
type TrunkDID struct {
	Number    string `json:"number"`
	Extension string `json:"extension,omitempty"`
}

// Registers reports whether Trunkline sends REGISTER for this trunk.
func (t *Trunk) Registers() bool {
	return t.Kind == TrunkRegister && (t.Register == nil || *t.Register)
}

// DigestUser is the user name for digest authentication.
func (t *Trunk) DigestUser() string {
	if t.AuthID != "" {
		return t.AuthID
	}
	return t.Username
}

// TrunkState is the live state of a trunk (GET /api/v1/trunks/{name}/status).
type TrunkState struct {
	Name string `json:"name"`
	// Registration: "registered", "registering", "unregistered", "failed", "off".
	Registration string `json:"registration"`
	// Reachability: "up", "down", "unknown" (probing off or not yet probed).
	Reachability string    `json:"reachability"`
	LastCode     int       `json:"last_code,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	LastChange   time.Time `json:"last_change"`
	RTTMillis    float64   `json:"rtt_ms,omitempty"`
	ActiveCalls  int       `json:"active_calls"`
	// Target is the resolved address the trunk uses now ("ip:port").
	Target string `json:"target,omitempty"`
	// RegisteredUntil is when the current registration expires.
	RegisteredUntil *time.Time `json:"registered_until,omitempty"`
	// NextAttempt is when the next REGISTER is due after a failure.
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
}
