package model

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Trunk defaults: what a zero value of the field means. Defaults writes them into
// the struct so that the API returns, and the runtime reads, explicit values.
const (
	DefaultTrunkTransport       = "udp"
	DefaultTrunkRegisterExpiry  = 600 // seconds
	DefaultTrunkInviteTimeoutMS = 2000
	DefaultTrunkOptionsInterval = 30 // seconds
	DefaultTrunkProbeDownAfter  = 3
	DefaultTrunkProbeUpAfter    = 2
	DefaultTrunkDTMFMode        = "rfc2833"
)

// Limits checked by ValidateTrunk.
const (
	maxTrunkName          = 64
	minAcceptRegisterPass = 8
	maxCredential         = 128
	maxTechPrefix         = 32
	maxDIDDigits          = 32
	// maxInviteTimeoutMS is Timer B (64*T1, RFC 3261 §17.1.1.2): an INVITE
	// transaction never waits longer for a provisional response.
	maxInviteTimeoutMS   = 32000
	maxProgressTimeoutMS = 300000 // 5 minutes without 18x
	maxOptionsInterval   = 3600
	maxProbeCount        = 100
	minRegisterExpiry    = 60
	maxRegisterExpiry    = 86400
)

// Defaults fills every field whose zero value means "default" with that default:
// transport udp, register_expiry 600, number_format e164_plus, did_source auto,
// caller_id_headers ["from"], invite_timeout_ms 2000, options_interval 30,
// probe_down_after 3, probe_up_after 2, dtmf_mode rfc2833, caller_id_policy
// replace. It applies the same
// defaults whatever the kind, so a trunk whose kind later changes keeps sane
// values. Fields without a default (port 0 = SRV, max_calls 0 = unlimited, …) are
// left alone, and so is options_interval -1 (probing off).
func (t *Trunk) Defaults() {
	if t.Transport == "" {
		t.Transport = DefaultTrunkTransport
	}
	if t.RegisterExpiry == 0 {
		t.RegisterExpiry = DefaultTrunkRegisterExpiry
	}
	if t.NumberFormat == "" {
		t.NumberFormat = FormatE164Plus
	}
	if t.DIDSource == "" {
		t.DIDSource = DIDAuto
	}
	if len(t.CallerIDHeaders) == 0 {
		t.CallerIDHeaders = []string{"from"}
	}
	if t.InviteTimeoutMS == 0 {
		t.InviteTimeoutMS = DefaultTrunkInviteTimeoutMS
	}
	if t.OptionsInterval == 0 {
		t.OptionsInterval = DefaultTrunkOptionsInterval
	}
	if t.ProbeDownAfter == 0 {
		t.ProbeDownAfter = DefaultTrunkProbeDownAfter
	}
	if t.ProbeUpAfter == 0 {
		t.ProbeUpAfter = DefaultTrunkProbeUpAfter
	}
	if t.DTMFMode == "" {
		t.DTMFMode = DefaultTrunkDTMFMode
	}
	if t.CallerIDPolicy == "" {
		t.CallerIDPolicy = CallerIDReplace
	}
}

// ownedHeaders are the headers Trunkline writes itself on every request it sends
// over a trunk (RFC 3261 §8.1.1, §20); Trunk.Headers may not set them. Keys are
// lower case and include the compact forms (RFC 3261 §7.3.3).
var ownedHeaders = map[string]bool{
	"via": true, "v": true,
	"from": true, "f": true,
	"to": true, "t": true,
	"call-id": true, "i": true,
	"cseq":           true,
	"contact":        true,
	"m":              true,
	"max-forwards":   true,
	"content-length": true, "l": true,
	"content-type": true, "c": true,
	"route":        true,
	"record-route": true,
}

// ValidateTrunk checks a trunk as the API receives it (normally after Defaults).
// Zero values that mean "default" are accepted, so a trunk that never went
// through Defaults validates the same way. The error is a *FieldError naming the
// JSON field ("associated_ips[2]", "dids[0].number", "headers[X-Token]" for
// elements); the first problem found is reported.
func ValidateTrunk(t *Trunk) error {
	for _, check := range []func(*Trunk) error{
		validateTrunkIdentity, validateTrunkTarget, validateTrunkCredentials,
		validateTrunkKind, validateTrunkNumbers, validateTrunkTiming,
		validateTrunkDIDs, validateTrunkMedia, validateTrunkHeaders,
	} {
		if err := check(t); err != nil {
			return err
		}
	}
	return nil
}

func fieldErr(field, reason string) *FieldError { return &FieldError{Field: field, Reason: reason} }

// validateTrunkIdentity: name and kind.
func validateTrunkIdentity(t *Trunk) error {
	switch {
	case t.Name == "":
		return fieldErr("name", "required")
	case len(t.Name) > maxTrunkName:
		return fieldErr("name", "longer than 64 characters")
	case strings.IndexFunc(t.Name, func(r rune) bool { return !isNameChar(r) }) >= 0:
		return fieldErr("name", "must contain only a-z, 0-9, _ and -")
	}
	switch t.Kind {
	case "":
		return fieldErr("kind", "required")
	case TrunkRegister, TrunkIP, TrunkAcceptRegister:
	default:
		return fieldErr("kind", "must be one of register, ip, accept_register")
	}
	return nil
}

func isNameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// validateTrunkTarget: where the provider is and how we reach it.
func validateTrunkTarget(t *Trunk) error {
	if t.Host != "" && !validHost(t.Host) {
		return fieldErr("host", "must be a host name or IP address")
	}
	if t.Port < 0 || t.Port > 65535 {
		return fieldErr("port", "must be between 0 and 65535")
	}
	switch t.Transport {
	case "", "udp", "tcp", "tls":
	default:
		return fieldErr("transport", "must be one of udp, tcp, tls")
	}
	if t.OutboundProxy != "" && !validHostPort(t.OutboundProxy) {
		return fieldErr("outbound_proxy", "must be host or host:port")
	}
	for i, s := range t.AssociatedIPs {
		if _, err := netip.ParsePrefix(s); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(s); err == nil {
			continue
		}
		// A host name is resolved again periodically by the runtime; it must look
		// like one (a letter somewhere), so a mistyped address is not taken for a name.
		if !validHost(s) || !strings.ContainsAny(strings.ToLower(s), "abcdefghijklmnopqrstuvwxyz") {
			return fieldErr(fmt.Sprintf("associated_ips[%d]", i), "must be an IP address, a CIDR or a host name")
		}
	}
	return nil
}

// validHost accepts an IP address (IPv6 with or without brackets) or a DNS name
// (RFC 1123 labels).
func validHost(h string) bool {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		return err == nil && a.Is6() && a.Zone() == ""
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == "" // a zone is local to this host: meaningless in a URI
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validHostPort accepts "host" or "host:port" ("[v6]:port" for IPv6).
func validHostPort(s string) bool {
	if validHost(s) {
		return true
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p >= 1 && p <= 65535 && validHost(host)
}

// validateTrunkCredentials checks the credential fields' syntax; which are
// required depends on the kind (validateTrunkKind).
func validateTrunkCredentials(t *Trunk) error {
	for _, f := range []struct{ name, value string }{
		{"username", t.Username}, {"auth_id", t.AuthID}, {"password", t.Password}, {"realm", t.Realm},
	} {
		if len(f.value) > maxCredential {
			return fieldErr(f.name, "longer than 128 characters")
		}
		// They end up in From/To/Authorization headers or digest hashes: no
		// whitespace (SIP user parts have none) and no control characters.
		if strings.IndexFunc(f.value, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return fieldErr(f.name, "must not contain spaces or control characters")
		}
	}
	if t.RegisterExpiry != 0 && (t.RegisterExpiry < minRegisterExpiry || t.RegisterExpiry > maxRegisterExpiry) {
		return fieldErr("register_expiry", "must be between 60 and 86400")
	}
	return nil
}

// validateTrunkKind applies the per-kind rules: what each kind needs and forbids.
func validateTrunkKind(t *Trunk) error {
	if t.Register != nil && t.Kind != TrunkRegister {
		return fieldErr("register", "only allowed for kind register")
	}
	switch t.Kind {
	case TrunkRegister:
		// Registering or digest-on-INVITE (register: false): either way we answer
		// challenges, so both need credentials.
		switch {
		case t.Host == "":
			return fieldErr("host", "required")
		case t.Username == "":
			return fieldErr("username", "required")
		case t.Password == "":
			return fieldErr("password", "required")
		}
	case TrunkIP:
		if t.Host == "" && len(t.AssociatedIPs) == 0 {
			return fieldErr("host", "required unless associated_ips is set")
		}
	case TrunkAcceptRegister:
		switch {
		case t.Host != "":
			return fieldErr("host", "not allowed for kind accept_register")
		case t.OutboundProxy != "":
			return fieldErr("outbound_proxy", "not allowed for kind accept_register")
		case t.Username == "":
			return fieldErr("username", "required")
		case t.Password == "":
			return fieldErr("password", "required")
		case len(t.Password) < minAcceptRegisterPass:
			return fieldErr("password", "shorter than 8 characters")
		}
	}
	return nil
}

// validateTrunkNumbers: number formats, DID source, caller ID.
func validateTrunkNumbers(t *Trunk) error {
	switch t.NumberFormat {
	case "", FormatE164Plus, FormatE164, FormatNational:
		if t.TechPrefix != "" {
			return fieldErr("tech_prefix", "only allowed with number_format tech_prefix")
		}
	case FormatTechPrefix:
		if t.TechPrefix == "" {
			return fieldErr("tech_prefix", "required with number_format tech_prefix")
		}
	default:
		return fieldErr("number_format", "must be one of e164_plus, e164, national, tech_prefix")
	}
	if len(t.TechPrefix) > maxTechPrefix {
		return fieldErr("tech_prefix", "longer than 32 characters")
	}
	if strings.IndexFunc(t.TechPrefix, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '*' || r == '#')
	}) >= 0 {
		return fieldErr("tech_prefix", "must contain only digits, * and #")
	}
	switch t.DIDSource {
	case "", DIDFromRequestURI, DIDFromTo, DIDFromPCalled, DIDFromDiversion, DIDAuto:
	default:
		return fieldErr("did_source", "must be one of request_uri, to, p_called_party_id, diversion, auto")
	}
	for i, h := range t.CallerIDHeaders {
		field := fmt.Sprintf("caller_id_headers[%d]", i)
		switch h {
		case "from", "pai", "rpid", "ppi":
		default:
			return fieldErr(field, "must be one of from, pai, rpid, ppi")
		}
		if slices.Contains(t.CallerIDHeaders[:i], h) {
			return fieldErr(field, "duplicate")
		}
	}
	if t.DefaultCallerID != "" && !validNumber(t.DefaultCallerID) {
		return fieldErr("default_caller_id", "must be digits with an optional leading +")
	}
	switch t.CallerIDPolicy {
	case "", CallerIDReplace, CallerIDReject:
	default:
		return fieldErr("caller_id_policy", "must be one of replace, reject")
	}
	return nil
}

// validNumber: 1-32 digits with an optional leading "+".
func validNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	return s != "" && len(s) <= maxDIDDigits && allDigits(s)
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validateTrunkTiming: failover, timeouts, probing and limits.
func validateTrunkTiming(t *Trunk) error {
	for i, c := range t.FailoverCodes {
		if c < 300 || c > 699 {
			return fieldErr(fmt.Sprintf("failover_codes[%d]", i), "must be between 300 and 699")
		}
	}
	for _, f := range []struct {
		name     string
		value    int
		max      int
		maxError string
	}{
		{"invite_timeout_ms", t.InviteTimeoutMS, maxInviteTimeoutMS, "must be at most 32000"},
		{"progress_timeout_ms", t.ProgressTimeoutMS, maxProgressTimeoutMS, "must be at most 300000"},
		{"probe_down_after", t.ProbeDownAfter, maxProbeCount, "must be at most 100"},
		{"probe_up_after", t.ProbeUpAfter, maxProbeCount, "must be at most 100"},
		{"max_calls", t.MaxCalls, math.MaxInt32, "too large"},
		{"max_call_seconds", t.MaxCallSecs, math.MaxInt32, "too large"},
	} {
		if f.value < 0 {
			return fieldErr(f.name, "must not be negative")
		}
		if f.value > f.max {
			return fieldErr(f.name, f.maxError)
		}
	}
	if t.OptionsInterval < -1 || t.OptionsInterval > maxOptionsInterval {
		return fieldErr("options_interval", "must be -1 (off) or between 0 and 3600")
	}
	if !(t.MaxCPS >= 0) || math.IsInf(t.MaxCPS, 0) { // !(x >= 0) also catches NaN
		return fieldErr("max_cps", "must not be negative")
	}
	return nil
}

// validateTrunkDIDs: numbers are unique within the trunk, compared without
// their leading "+" as routing indexes them; the store enforces the same across
// trunks.
func validateTrunkDIDs(t *Trunk) error {
	seen := make(map[string]bool, len(t.DIDs))
	for i, d := range t.DIDs {
		field := fmt.Sprintf("dids[%d]", i)
		switch {
		case d.Number == "":
			return fieldErr(field+".number", "required")
		case !validNumber(d.Number):
			return fieldErr(field+".number", "must be digits with an optional leading +")
		case seen[strings.TrimPrefix(d.Number, "+")]:
			return fieldErr(field+".number", "duplicate")
		case d.Extension != "" && (len(d.Extension) > 32 || !allDigits(d.Extension)):
			return fieldErr(field+".extension", "must contain digits only")
		}
		seen[strings.TrimPrefix(d.Number, "+")] = true
	}
	return nil
}

// validateTrunkMedia: DTMF and codec names.
func validateTrunkMedia(t *Trunk) error {
	switch t.DTMFMode {
	case "", "rfc2833", "info", "inband":
	default:
		return fieldErr("dtmf_mode", "must be one of rfc2833, info, inband")
	}
	for i, c := range t.Codecs {
		field := fmt.Sprintf("codecs[%d]", i)
		if c == "" || len(c) > 32 || !isToken(c) {
			return fieldErr(field, "must be a codec name such as PCMU")
		}
		if slices.ContainsFunc(t.Codecs[:i], func(o string) bool { return strings.EqualFold(o, c) }) {
			return fieldErr(field, "duplicate")
		}
	}
	return nil
}

// validateTrunkHeaders: extra headers are SIP tokens that Trunkline does not own,
// with values that cannot break the message (no CR, LF or other controls).
func validateTrunkHeaders(t *Trunk) error {
	names := make([]string, 0, len(t.Headers))
	for name := range t.Headers {
		names = append(names, name)
	}
	slices.Sort(names) // report the same error every time
	for _, name := range names {
		field := "headers[" + name + "]"
		switch {
		case name == "" || !isToken(name):
			return fieldErr(field, "must be a SIP header name")
		case ownedHeaders[strings.ToLower(name)]:
			return fieldErr(field, "set by Trunkline; not allowed")
		}
		if strings.IndexFunc(t.Headers[name], func(r rune) bool {
			return r < ' ' && r != '\t' || r == 0x7f
		}) >= 0 {
			return fieldErr(field, "value must not contain control characters")
		}
	}
	return nil
}

// isToken reports whether s is an RFC 3261 §25.1 token:
// 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~").
func isToken(s string) bool {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("-.!%*_+`'~", c):
		default:
			return false
		}
	}
	return s != ""
}
