package model

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// Valid trunks of each kind; the table cases start from one and break one thing.
func registerTrunk() Trunk {
	return Trunk{Name: "telnyx", Kind: TrunkRegister, Enabled: true, Host: "sip.telnyx.com",
		Username: "pbx1", Password: "provider-secret"}
}

func ipTrunk() Trunk {
	return Trunk{Name: "flowroute", Kind: TrunkIP, Host: "us-west-or.sip.flowroute.com",
		AssociatedIPs: []string{"34.210.91.112", "34.226.36.32/28"}}
}

func acceptTrunk() Trunk {
	return Trunk{Name: "branch-b", Kind: TrunkAcceptRegister, Username: "branchb", Password: "branch-pass"}
}

func TestValidateTrunk(t *testing.T) {
	tests := []struct {
		name          string
		base          func() Trunk
		mod           func(*Trunk)
		field, reason string // field "" = valid
	}{
		// Valid trunks.
		{"register", registerTrunk, nil, "", ""},
		{"register with defaults", registerTrunk, func(t *Trunk) { t.Defaults() }, "", ""},
		{"digest on INVITE", registerTrunk, func(t *Trunk) { t.Register = ptr(false) }, "", ""},
		{"register explicit true", registerTrunk, func(t *Trunk) { t.Register = ptr(true) }, "", ""},
		{"ip with host", ipTrunk, func(t *Trunk) { t.AssociatedIPs = nil }, "", ""},
		{"ip with associated ips only", ipTrunk, func(t *Trunk) { t.Host = "" }, "", ""},
		{"ip v6 host", ipTrunk, func(t *Trunk) { t.Host = "2001:db8::1" }, "", ""},
		{"ip bracketed v6 host", ipTrunk, func(t *Trunk) { t.Host = "[2001:db8::1]" }, "", ""},
		{"ip v6 cidr", ipTrunk, func(t *Trunk) { t.AssociatedIPs = []string{"2001:db8::/32"} }, "", ""},
		{"accept_register", acceptTrunk, nil, "", ""},
		{"accept_register with defaults", acceptTrunk, func(t *Trunk) { t.Defaults() }, "", ""},
		{"tech prefix", ipTrunk, func(t *Trunk) { t.NumberFormat, t.TechPrefix = FormatTechPrefix, "12345678*" }, "", ""},
		{"full", registerTrunk, func(t *Trunk) {
			t.Defaults()
			t.Port, t.Transport, t.OutboundProxy = 5061, "tls", "proxy.example.com:5070"
			t.AuthID, t.Realm = "auth-1", "sip.telnyx.com"
			t.Headers = map[string]string{"X-Telnyx-Token": "abc 123", "P-Charge-Info": "<sip:+1@x>"}
			t.DIDs = []TrunkDID{{Number: "+13125550100", Extension: "1001"}, {Number: "13125550101"}}
			t.MaxCalls, t.MaxCPS, t.MaxCallSecs = 10, 2.5, 7200
			t.Codecs = []string{"PCMU", "PCMA", "opus", "telephone-event"}
			t.DTMFMode, t.NumberFormat, t.DIDSource = "info", FormatNational, DIDFromTo
			t.CallerIDHeaders = []string{"pai", "from"}
			t.DefaultCallerID = "+13125550100"
			t.FailoverCodes = []int{408, 480, 503}
			t.InviteTimeoutMS, t.ProgressTimeoutMS, t.OptionsInterval = 32000, 300000, -1
			t.ProbeDownAfter, t.ProbeUpAfter, t.DefaultOutbound = 100, 1, true
		}, "", ""},

		// name and kind
		{"no name", registerTrunk, func(t *Trunk) { t.Name = "" }, "name", "required"},
		{"long name", registerTrunk, func(t *Trunk) { t.Name = strings.Repeat("a", 65) }, "name", "longer than 64 characters"},
		{"64-char name", registerTrunk, func(t *Trunk) { t.Name = strings.Repeat("a", 64) }, "", ""},
		{"upper-case name", registerTrunk, func(t *Trunk) { t.Name = "Telnyx" }, "name", "must contain only a-z, 0-9, _ and -"},
		{"name with slash", registerTrunk, func(t *Trunk) { t.Name = "a/b" }, "name", "must contain only a-z, 0-9, _ and -"},
		{"name with space", registerTrunk, func(t *Trunk) { t.Name = "a b" }, "name", "must contain only a-z, 0-9, _ and -"},
		{"no kind", registerTrunk, func(t *Trunk) { t.Kind = "" }, "kind", "required"},
		{"bad kind", registerTrunk, func(t *Trunk) { t.Kind = "peer" }, "kind", "must be one of register, ip, accept_register"},

		// register kind
		{"register without host", registerTrunk, func(t *Trunk) { t.Host = "" }, "host", "required"},
		{"register without username", registerTrunk, func(t *Trunk) { t.Username = "" }, "username", "required"},
		{"register without password", registerTrunk, func(t *Trunk) { t.Password = "" }, "password", "required"},
		{"digest on INVITE without username", registerTrunk, func(t *Trunk) { t.Register, t.Username = ptr(false), "" },
			"username", "required"},
		{"digest on INVITE without password", registerTrunk, func(t *Trunk) { t.Register, t.Password = ptr(false), "" },
			"password", "required"},
		{"register flag on ip", ipTrunk, func(t *Trunk) { t.Register = ptr(false) }, "register", "only allowed for kind register"},
		{"short provider password is fine", registerTrunk, func(t *Trunk) { t.Password = "abc" }, "", ""},
		{"register_expiry too low", registerTrunk, func(t *Trunk) { t.RegisterExpiry = 59 }, "register_expiry", "must be between 60 and 86400"},
		{"register_expiry too high", registerTrunk, func(t *Trunk) { t.RegisterExpiry = 86401 }, "register_expiry", "must be between 60 and 86400"},
		{"register_expiry bounds", registerTrunk, func(t *Trunk) { t.RegisterExpiry = 60 }, "", ""},
		{"register_expiry negative", registerTrunk, func(t *Trunk) { t.RegisterExpiry = -1 }, "register_expiry", "must be between 60 and 86400"},
		{"username with space", registerTrunk, func(t *Trunk) { t.Username = "a b" }, "username", "must not contain spaces or control characters"},
		{"auth_id with newline", registerTrunk, func(t *Trunk) { t.AuthID = "a\r\nVia: x" }, "auth_id", "must not contain spaces or control characters"},
		{"realm too long", registerTrunk, func(t *Trunk) { t.Realm = strings.Repeat("r", 129) }, "realm", "longer than 128 characters"},
		{"password with NUL", registerTrunk, func(t *Trunk) { t.Password = "a\x00b" }, "password", "must not contain spaces or control characters"},

		// ip kind
		{"ip without host or ips", ipTrunk, func(t *Trunk) { t.Host, t.AssociatedIPs = "", nil }, "host", "required unless associated_ips is set"},
		{"bad associated ip", ipTrunk, func(t *Trunk) { t.AssociatedIPs = []string{"10.0.0.1", "10.0.0.300"} },
			"associated_ips[1]", "must be an IP address, a CIDR or a host name"},
		{"associated host name is resolved", ipTrunk, func(t *Trunk) { t.AssociatedIPs = []string{"sip.example.com"} }, "", ""},
		{"associated mistyped address is not a name", ipTrunk, func(t *Trunk) { t.AssociatedIPs = []string{"300.1.2.3"} },
			"associated_ips[0]", "must be an IP address, a CIDR or a host name"},
		{"associated bad prefix length", ipTrunk, func(t *Trunk) { t.AssociatedIPs = []string{"10.0.0.0/33"} },
			"associated_ips[0]", "must be an IP address, a CIDR or a host name"},
		{"associated empty", ipTrunk, func(t *Trunk) { t.AssociatedIPs = []string{""} },
			"associated_ips[0]", "must be an IP address, a CIDR or a host name"},

		// accept_register kind
		{"accept_register without username", acceptTrunk, func(t *Trunk) { t.Username = "" }, "username", "required"},
		{"accept_register without password", acceptTrunk, func(t *Trunk) { t.Password = "" }, "password", "required"},
		{"accept_register short password", acceptTrunk, func(t *Trunk) { t.Password = "1234567" }, "password", "shorter than 8 characters"},
		{"accept_register with host", acceptTrunk, func(t *Trunk) { t.Host = "192.0.2.1" }, "host", "not allowed for kind accept_register"},
		{"accept_register with proxy", acceptTrunk, func(t *Trunk) { t.OutboundProxy = "192.0.2.1" }, "outbound_proxy", "not allowed for kind accept_register"},

		// target
		{"bad host", registerTrunk, func(t *Trunk) { t.Host = "sip.example.com:5060" }, "host", "must be a host name or IP address"},
		{"host with scheme", registerTrunk, func(t *Trunk) { t.Host = "sip:provider.example" }, "host", "must be a host name or IP address"},
		{"host label dash", registerTrunk, func(t *Trunk) { t.Host = "-a.example" }, "host", "must be a host name or IP address"},
		{"host trailing dot", registerTrunk, func(t *Trunk) { t.Host = "sip.example.com." }, "", ""},
		{"negative port", registerTrunk, func(t *Trunk) { t.Port = -1 }, "port", "must be between 0 and 65535"},
		{"port too big", registerTrunk, func(t *Trunk) { t.Port = 65536 }, "port", "must be between 0 and 65535"},
		{"port max", registerTrunk, func(t *Trunk) { t.Port = 65535 }, "", ""},
		{"bad transport", registerTrunk, func(t *Trunk) { t.Transport = "UDP" }, "transport", "must be one of udp, tcp, tls"},
		{"ws transport", registerTrunk, func(t *Trunk) { t.Transport = "ws" }, "transport", "must be one of udp, tcp, tls"},
		{"bad outbound proxy", registerTrunk, func(t *Trunk) { t.OutboundProxy = "proxy:0" }, "outbound_proxy", "must be host or host:port"},
		{"outbound proxy v6", registerTrunk, func(t *Trunk) { t.OutboundProxy = "[2001:db8::1]:5060" }, "", ""},

		// numbers
		{"bad number format", registerTrunk, func(t *Trunk) { t.NumberFormat = "e.164" }, "number_format",
			"must be one of e164_plus, e164, national, tech_prefix"},
		{"tech_prefix format without prefix", ipTrunk, func(t *Trunk) { t.NumberFormat = FormatTechPrefix }, "tech_prefix",
			"required with number_format tech_prefix"},
		{"prefix without tech_prefix format", ipTrunk, func(t *Trunk) { t.TechPrefix = "1234" }, "tech_prefix",
			"only allowed with number_format tech_prefix"},
		{"bad tech prefix", ipTrunk, func(t *Trunk) { t.NumberFormat, t.TechPrefix = FormatTechPrefix, "12a*" }, "tech_prefix",
			"must contain only digits, * and #"},
		{"long tech prefix", ipTrunk, func(t *Trunk) { t.NumberFormat, t.TechPrefix = FormatTechPrefix, strings.Repeat("1", 33) },
			"tech_prefix", "longer than 32 characters"},
		{"bad did source", registerTrunk, func(t *Trunk) { t.DIDSource = "from" }, "did_source",
			"must be one of request_uri, to, p_called_party_id, diversion, auto"},
		{"each did source", registerTrunk, func(t *Trunk) {
			for _, s := range []string{DIDFromRequestURI, DIDFromTo, DIDFromPCalled, DIDFromDiversion, DIDAuto} {
				t.DIDSource = s
				if err := ValidateTrunk(t); err != nil {
					t.Name = "" // surface as an unexpected error below
				}
			}
		}, "", ""},
		{"bad caller id header", registerTrunk, func(t *Trunk) { t.CallerIDHeaders = []string{"from", "PAI"} },
			"caller_id_headers[1]", "must be one of from, pai, rpid, ppi"},
		{"duplicate caller id header", registerTrunk, func(t *Trunk) { t.CallerIDHeaders = []string{"rpid", "ppi", "rpid"} },
			"caller_id_headers[2]", "duplicate"},
		{"bad caller id policy", registerTrunk, func(t *Trunk) { t.CallerIDPolicy = "drop" }, "caller_id_policy",
			"must be one of replace, reject"},
		{"bad default caller id", registerTrunk, func(t *Trunk) { t.DefaultCallerID = "+1 312" }, "default_caller_id",
			"must be digits with an optional leading +"},

		// timing and limits
		{"failover code too low", registerTrunk, func(t *Trunk) { t.FailoverCodes = []int{503, 299} },
			"failover_codes[1]", "must be between 300 and 699"},
		{"failover code too high", registerTrunk, func(t *Trunk) { t.FailoverCodes = []int{700} },
			"failover_codes[0]", "must be between 300 and 699"},
		{"negative invite timeout", registerTrunk, func(t *Trunk) { t.InviteTimeoutMS = -1 }, "invite_timeout_ms", "must not be negative"},
		{"huge invite timeout", registerTrunk, func(t *Trunk) { t.InviteTimeoutMS = 32001 }, "invite_timeout_ms", "must be at most 32000"},
		{"negative progress timeout", registerTrunk, func(t *Trunk) { t.ProgressTimeoutMS = -5 }, "progress_timeout_ms", "must not be negative"},
		{"huge progress timeout", registerTrunk, func(t *Trunk) { t.ProgressTimeoutMS = 300001 }, "progress_timeout_ms", "must be at most 300000"},
		{"options off", registerTrunk, func(t *Trunk) { t.OptionsInterval = -1 }, "", ""},
		{"options -2", registerTrunk, func(t *Trunk) { t.OptionsInterval = -2 }, "options_interval", "must be -1 (off) or between 0 and 3600"},
		{"options too long", registerTrunk, func(t *Trunk) { t.OptionsInterval = 3601 }, "options_interval", "must be -1 (off) or between 0 and 3600"},
		{"negative probe down", registerTrunk, func(t *Trunk) { t.ProbeDownAfter = -1 }, "probe_down_after", "must not be negative"},
		{"huge probe up", registerTrunk, func(t *Trunk) { t.ProbeUpAfter = 101 }, "probe_up_after", "must be at most 100"},
		{"negative max calls", registerTrunk, func(t *Trunk) { t.MaxCalls = -1 }, "max_calls", "must not be negative"},
		{"negative max cps", registerTrunk, func(t *Trunk) { t.MaxCPS = -0.5 }, "max_cps", "must not be negative"},
		{"NaN max cps", registerTrunk, func(t *Trunk) { t.MaxCPS = math.NaN() }, "max_cps", "must not be negative"},
		{"Inf max cps", registerTrunk, func(t *Trunk) { t.MaxCPS = math.Inf(1) }, "max_cps", "must not be negative"},
		{"negative max call seconds", registerTrunk, func(t *Trunk) { t.MaxCallSecs = -1 }, "max_call_seconds", "must not be negative"},

		// DIDs
		{"empty did", registerTrunk, func(t *Trunk) { t.DIDs = []TrunkDID{{Number: ""}} }, "dids[0].number", "required"},
		{"did with letters", registerTrunk, func(t *Trunk) { t.DIDs = []TrunkDID{{Number: "+1"}, {Number: "+1312x"}} },
			"dids[1].number", "must be digits with an optional leading +"},
		{"did plus only", registerTrunk, func(t *Trunk) { t.DIDs = []TrunkDID{{Number: "+"}} },
			"dids[0].number", "must be digits with an optional leading +"},
		{"did inner plus", registerTrunk, func(t *Trunk) { t.DIDs = []TrunkDID{{Number: "1+2"}} },
			"dids[0].number", "must be digits with an optional leading +"},
		{"did too long", registerTrunk, func(t *Trunk) { t.DIDs = []TrunkDID{{Number: strings.Repeat("1", 33)}} },
			"dids[0].number", "must be digits with an optional leading +"},
		{"duplicate did", registerTrunk, func(t *Trunk) {
			t.DIDs = []TrunkDID{{Number: "+13125550100"}, {Number: "+13125550101"}, {Number: "+13125550100", Extension: "1002"}}
		}, "dids[2].number", "duplicate"},
		{"duplicate did with and without plus", registerTrunk, func(t *Trunk) {
			t.DIDs = []TrunkDID{{Number: "+13125550100"}, {Number: "13125550100"}}
		}, "dids[1].number", "duplicate"},
		{"bad did extension", registerTrunk, func(t *Trunk) { t.DIDs = []TrunkDID{{Number: "+13125550100", Extension: "sales"}} },
			"dids[0].extension", "must contain digits only"},

		// media
		{"bad dtmf", registerTrunk, func(t *Trunk) { t.DTMFMode = "sip-info" }, "dtmf_mode", "must be one of rfc2833, info, inband"},
		{"dtmf inband", registerTrunk, func(t *Trunk) { t.DTMFMode = "inband" }, "", ""},
		{"empty codec", registerTrunk, func(t *Trunk) { t.Codecs = []string{"PCMU", ""} }, "codecs[1]", "must be a codec name such as PCMU"},
		{"duplicate codec", registerTrunk, func(t *Trunk) { t.Codecs = []string{"PCMU", "pcmu"} }, "codecs[1]", "duplicate"},

		// headers
		{"owned header", registerTrunk, func(t *Trunk) { t.Headers = map[string]string{"X-Ok": "1", "Contact": "<sip:x>"} },
			"headers[Contact]", "set by Trunkline; not allowed"},
		{"owned header any case", registerTrunk, func(t *Trunk) { t.Headers = map[string]string{"call-id": "x"} },
			"headers[call-id]", "set by Trunkline; not allowed"},
		{"owned compact header", registerTrunk, func(t *Trunk) { t.Headers = map[string]string{"v": "SIP/2.0/UDP x"} },
			"headers[v]", "set by Trunkline; not allowed"},
		{"every owned header", registerTrunk, func(t *Trunk) {
			for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards",
				"Content-Length", "Content-Type", "Route", "Record-Route"} {
				t.Headers = map[string]string{h: "x"}
				if ValidateTrunk(t) == nil {
					t.Name = "" // surfaces as an unexpected error below
					return
				}
			}
			t.Headers = nil
		}, "", ""},
		{"header name with colon", registerTrunk, func(t *Trunk) { t.Headers = map[string]string{"X-A:": "1"} },
			"headers[X-A:]", "must be a SIP header name"},
		{"header name with space", registerTrunk, func(t *Trunk) { t.Headers = map[string]string{"X A": "1"} },
			"headers[X A]", "must be a SIP header name"},
		{"empty header name", registerTrunk, func(t *Trunk) { t.Headers = map[string]string{"": "1"} },
			"headers[]", "must be a SIP header name"},
		{"header value injection", registerTrunk, func(t *Trunk) { t.Headers = map[string]string{"X-Token": "a\r\nTo: <sip:evil>"} },
			"headers[X-Token]", "value must not contain control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.base()
			if tt.mod != nil {
				tt.mod(&tr)
			}
			err := ValidateTrunk(&tr)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("ValidateTrunk = %v; want nil", err)
				}
				return
			}
			fe, ok := err.(*FieldError)
			if !ok {
				t.Fatalf("ValidateTrunk = %v (%T); want *FieldError{%s, %s}", err, err, tt.field, tt.reason)
			}
			if fe.Field != tt.field || fe.Reason != tt.reason {
				t.Fatalf("ValidateTrunk = {%s, %s}; want {%s, %s}", fe.Field, fe.Reason, tt.field, tt.reason)
			}
		})
	}
}

func TestTrunkDefaults(t *testing.T) {
	var tr Trunk
	tr.Defaults()
	want := Trunk{Transport: "udp", RegisterExpiry: 600, NumberFormat: FormatE164Plus, DIDSource: DIDAuto,
		CallerIDHeaders: []string{"from"}, InviteTimeoutMS: 2000, OptionsInterval: 30, ProbeDownAfter: 3,
		ProbeUpAfter: 2, DTMFMode: "rfc2833", CallerIDPolicy: CallerIDReplace}
	if !reflect.DeepEqual(tr, want) {
		t.Fatalf("Defaults() = %+v; want %+v", tr, want)
	}

	// Set values are kept; options_interval -1 (off) is not a zero value.
	set := Trunk{Transport: "tls", RegisterExpiry: 3600, NumberFormat: FormatNational, DIDSource: DIDFromTo,
		CallerIDHeaders: []string{"pai"}, InviteTimeoutMS: 5000, OptionsInterval: -1, ProbeDownAfter: 5,
		ProbeUpAfter: 1, DTMFMode: "info", CallerIDPolicy: CallerIDReject}
	got := set
	got.CallerIDHeaders = []string{"pai"}
	got.Defaults()
	if !reflect.DeepEqual(got, set) {
		t.Fatalf("Defaults() changed set values: %+v; want %+v", got, set)
	}

	// Defaults is idempotent and its result validates for every kind.
	for _, base := range []func() Trunk{registerTrunk, ipTrunk, acceptTrunk} {
		tr := base()
		tr.Defaults()
		again := tr
		again.Defaults()
		if !reflect.DeepEqual(tr, again) {
			t.Errorf("%s: Defaults not idempotent", tr.Name)
		}
		if err := ValidateTrunk(&tr); err != nil {
			t.Errorf("%s after Defaults: %v", tr.Name, err)
		}
	}
}

func FuzzValidateTrunkHost(f *testing.F) {
	for _, s := range []string{"sip.telnyx.com", "192.0.2.1", "[2001:db8::1]", "a..b", "-x", "x:5060", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		tr := ipTrunk()
		tr.Host = host
		if ValidateTrunk(&tr) == nil && strings.ContainsFunc(host, func(r rune) bool {
			return r <= ' ' || r >= 0x7f || strings.ContainsRune("/@%;?<>\"", r)
		}) {
			t.Fatalf("host %q accepted", host)
		}
	})
}
