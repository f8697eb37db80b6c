// Package model holds Trunkline's domain types and their validation. It imports no
// runtime package: store, api, sipedge and call all speak these types.
package model

import (
	"fmt"
	"time"
)

// FieldError is a validation failure of one field. The API turns it into
// {"error": ..., "field": ..., "reason": ...} with status 400.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// Extension is a phone account: a number that registers with digest auth and makes and
// receives calls.
type Extension struct {
	Number string `json:"number"`
	Name   string `json:"name"`
	// Password is the digest secret. It is write-only: the API never returns it. It is
	// stored as given because digest (RFC 3261 §22) needs H(user:realm:password) for
	// every algorithm and realm we offer.
	Password string `json:"password,omitempty"`
	// CallerID is the number presented on outbound trunk calls; empty = trunk default.
	CallerID string `json:"caller_id,omitempty"`
	// MaxCalls limits concurrent calls of this extension; 0 = no limit.
	MaxCalls int `json:"max_calls,omitempty"`
	// Permissions are the number classes this extension may call (rules.go:
	// internal, national, mobile, international, premium, emergency); nil =
	// DefaultPermissions. Emergency numbers are never refused.
	Permissions []string `json:"permissions,omitempty"`
	// Disabled extensions cannot register or call.
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Binding is one registered contact of an address of record (RFC 3261 §10). An
// extension may have several, each with its own expiry.
type Binding struct {
	// AOR is the user part of the address of record: an extension number (or, later,
	// an accept-register trunk's user).
	AOR string `json:"aor"`
	// Contact is the Contact URI as registered, e.g. "sip:1001@192.0.2.10:5062".
	Contact string `json:"contact"`
	// Source is where the REGISTER came from ("ip:port"); requests to the binding are
	// sent there (NAT: the Contact may be a private address).
	Source string `json:"source"`
	// Transport is "udp", "tcp" or "tls".
	Transport string    `json:"transport"`
	Expires   time.Time `json:"expires"`
	CallID    string    `json:"call_id"`
	CSeq      uint32    `json:"cseq"`
	UserAgent string    `json:"user_agent,omitempty"`
	Q         float64   `json:"q,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AORBindings is every binding of one address of record: what the location service
// writes to the store for an AOR that changed.
type AORBindings struct {
	AOR      string
	Bindings []Binding
	// Removed: a binding of AOR was removed since it was last written, so the
	// stored set must be replaced rather than merged into.
	Removed bool
}

// Disposition is how a call ended, as written in its CDR.
type Disposition string

const (
	DispAnswered  Disposition = "answered"
	DispBusy      Disposition = "busy"
	DispNoAnswer  Disposition = "no_answer"
	DispFailed    Disposition = "failed"
	DispCancelled Disposition = "cancelled"
)

// Party names which side of a call did something (hung up, failed).
type Party string

const (
	PartyCaller Party = "caller"
	PartyCallee Party = "callee"
	PartySystem Party = "system"
)

// CDR is the record of one finished call, written once when the call ends.
type CDR struct {
	ID        int64  `json:"id"`
	CallID    string `json:"call_id"` // Call-ID of the caller's leg
	Caller    string `json:"caller"`
	Callee    string `json:"callee"`
	Direction string `json:"direction"` // "internal", "inbound", "outbound"
	Trunk     string `json:"trunk,omitempty"`
	// Times. AnswerTime is nil for calls that were never answered.
	StartTime  time.Time  `json:"start_time"`
	AnswerTime *time.Time `json:"answer_time,omitempty"`
	EndTime    time.Time  `json:"end_time"`
	// Duration is the whole call (start→end); BillSec the answered part (answer→end),
	// both in whole seconds rounded down.
	Duration    int         `json:"duration"`
	BillSec     int         `json:"billsec"`
	Disposition Disposition `json:"disposition"`
	HangupBy    Party       `json:"hangup_by"`
	// HangupCause says why, e.g. "BYE", "486 Busy Here", "CANCEL", "shutdown".
	HangupCause string `json:"hangup_cause"`
	SIPCode     int    `json:"sip_code,omitempty"` // final code sent to the caller
	// RTP packets the relay forwarded in each direction (proof that media flowed).
	RTPCallerToCallee int64 `json:"rtp_caller_to_callee"`
	RTPCalleeToCaller int64 `json:"rtp_callee_to_caller"`
}

// ActiveCall is a live view of a call in progress (GET /api/v1/calls).
type ActiveCall struct {
	ID         string     `json:"id"`
	CallID     string     `json:"call_id"`
	Caller     string     `json:"caller"`
	Callee     string     `json:"callee"`
	State      string     `json:"state"` // "ringing", "answered", "ending"
	Trunk      string     `json:"trunk,omitempty"`
	StartTime  time.Time  `json:"start_time"`
	AnswerTime *time.Time `json:"answer_time,omitempty"`
}
