package call

import (
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/model"
)

func parseReq(t *testing.T, raw string) *sip.Request {
	t.Helper()
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return msg.(*sip.Request)
}

const inviteTmpl = "INVITE sip:%s@127.0.0.1:5060 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK1\r\n" +
	"From: <sip:+15550001@127.0.0.2>;tag=a\r\n" +
	"To: <sip:%s@127.0.0.1>\r\n" +
	"Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n%s" +
	"Content-Length: 0\r\n\r\n"

func TestDIDOf(t *testing.T) {
	tests := []struct {
		name, ruri, to, extra, source, contactUser, want string
	}{
		{"auto: request-uri", "4930100100", "4930999", "", model.DIDAuto, "tl-abc", "4930100100"},
		{"auto: our contact user means To", "tl-abc", "4930100100", "", model.DIDAuto, "tl-abc", "4930100100"},
		{"empty source is auto", "tl-abc", "+4930100100", "", "", "tl-abc", "+4930100100"},
		{"request_uri forced", "tl-abc", "4930100100", "", model.DIDFromRequestURI, "tl-abc", "tl-abc"},
		{"to forced", "4930100100", "4930100101", "", model.DIDFromTo, "", "4930100101"},
		{"p-called-party-id", "x", "y", "P-Called-Party-ID: <sip:4930200200@itsp>\r\n", model.DIDFromPCalled, "", "4930200200"},
		{"p-called-party-id missing falls back to To", "x", "4930100101", "", model.DIDFromPCalled, "", "4930100101"},
		{"diversion", "x", "y", "Diversion: <sip:4930300300@itsp>;reason=unconditional\r\n", model.DIDFromDiversion, "", "4930300300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := parseReq(t, fmt.Sprintf(inviteTmpl, tt.ruri, tt.to, tt.extra))
			got := didOf(req, model.Trunk{DIDSource: tt.source}, tt.contactUser)
			if got != tt.want {
				t.Errorf("didOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFailoverAllowed(t *testing.T) {
	def := model.Trunk{}
	custom := model.Trunk{FailoverCodes: []int{486}}
	tests := []struct {
		name string
		tr   model.Trunk
		a    attempt
		want bool
	}{
		{"503", def, attempt{code: 503}, true},
		{"408", def, attempt{code: 408}, true},
		{"480", def, attempt{code: 480}, true},
		{"500 502 504", def, attempt{code: 502}, true},
		{"timeout", def, attempt{code: 408, timeout: true}, true},
		{"transport", def, attempt{transport: true}, true},
		{"486 never", def, attempt{code: 486}, false},
		{"404 never", def, attempt{code: 404}, false},
		{"484 never", def, attempt{code: 484}, false},
		{"603 never", def, attempt{code: 603}, false},
		{"600 never", def, attempt{code: 600}, false},
		{"407 after credentials never", def, attempt{code: 407}, false},
		{"503 after ringing never", def, attempt{code: 503, ringing: true}, false},
		{"timeout after ringing never", def, attempt{timeout: true, ringing: true}, false},
		{"custom set replaces default", custom, attempt{code: 503}, false},
		{"custom set", custom, attempt{code: 486}, true},
	}
	for _, tt := range tests {
		if got := failoverAllowed(tt.tr, tt.a); got != tt.want {
			t.Errorf("%s: failoverAllowed = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBetter(t *testing.T) {
	tests := []struct {
		code, than int
		want       bool
	}{
		{603, 486, true}, {486, 480, true}, {480, 486, false}, {404, 480, true},
		{500, 0, true}, {0, 500, false}, {600, 603, false},
	}
	for _, tt := range tests {
		if got := better(tt.code, tt.than); got != tt.want {
			t.Errorf("better(%d, %d) = %v, want %v", tt.code, tt.than, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{{"30", 30 * time.Second}, {"120 (maintenance)", 120 * time.Second}, {"5;duration=10", 5 * time.Second}, {"", 0}, {"x", 0}, {"99999999999", 86400 * time.Second}}
	for _, tt := range tests {
		if got := retryAfter(tt.in); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNATDestination(t *testing.T) {
	u := func(s string) sip.Uri {
		var x sip.Uri
		if err := sip.ParseUri(s, &x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		contact, source, want string
	}{
		{"sip:1002@127.0.0.1:5090", "127.0.0.1:5091", ""},                        // same host: trust the contact port
		{"sip:1002@192.168.1.20:5060", "203.0.113.7:40000", "203.0.113.7:40000"}, // NAT
		{"sip:1002@phone.local", "127.0.0.1:5070", "127.0.0.1:5070"},
		{"sip:1002@127.0.0.1:5090", "", ""},
	}
	for _, tt := range tests {
		if got := natDestination(u(tt.contact), tt.source); got != tt.want {
			t.Errorf("natDestination(%s, %s) = %q, want %q", tt.contact, tt.source, got, tt.want)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	f.Add("30")
	f.Add("120 (x);duration=5")
	f.Fuzz(func(t *testing.T, s string) {
		if d := retryAfter(s); d < 0 || d > 86400*time.Second {
			t.Fatalf("retryAfter(%q) = %v out of range", s, d)
		}
	})
}
