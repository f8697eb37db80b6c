package trunk

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// FuzzProviderResponse feeds provider responses through everything we read
// from them: granted expiry, Min-Expires, Retry-After and digest challenges.
func FuzzProviderResponse(f *testing.F) {
	for _, s := range []string{
		"SIP/2.0 200 OK\r\nContact: <sip:tl-x@1.2.3.4>;expires=300, <sip:o@h>;expires=1\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n",
		"SIP/2.0 423 Interval Too Brief\r\nMin-Expires: 3600\r\nContent-Length: 0\r\n\r\n",
		"SIP/2.0 503 Service Unavailable\r\nRetry-After: 18000 (x);duration=3\r\nContent-Length: 0\r\n\r\n",
		"SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256, qop=\"auth, auth-int\"\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"m\"\r\nContent-Length: 0\r\n\r\n",
		"SIP/2.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Digest realm=\"r\",nonce=\"n\",stale=TRUE\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := sip.ParseMessage(data)
		if err != nil {
			return
		}
		res, ok := msg.(*sip.Response)
		if !ok {
			return
		}
		if g := grantedExpiry(res, "tl-x", 600); g < 0 || g > 600 {
			t.Fatalf("granted %d", g)
		}
		if n, ok := minExpires(res); ok && (n < 0 || n > maxDeltaSeconds) {
			t.Fatalf("min-expires %d", n)
		}
		if d, ok := retryAfter(res); ok && (d < 0 || d > maxRetryAfter) {
			t.Fatalf("retry-after %v", d)
		}
		if c, err := pickChallenge(res, ""); err == nil && c == nil {
			t.Fatal("nil challenge without error")
		}
	})
}

// FuzzDeltaSeconds checks the delta-seconds and Retry-After parsers.
func FuzzDeltaSeconds(f *testing.F) {
	for _, s := range []string{"0", "60", " 3600 ", "120 (x)", "5;duration=1", "-1", "99999999999999999999", "\t7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, ok := parseDeltaSeconds(s); ok {
			if n < 0 || n > maxDeltaSeconds {
				t.Fatalf("%q: %d", s, n)
			}
			if strings.TrimSpace(s) == "" {
				t.Fatalf("%q accepted", s)
			}
		}
		if d, ok := parseRetryAfter(s); ok && (d < 0 || d > maxRetryAfter || d%time.Second != 0) {
			t.Fatalf("%q: %v", s, d)
		}
	})
}
