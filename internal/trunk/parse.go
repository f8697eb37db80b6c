package trunk

import (
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Limits applied to values a provider sends us. They keep a hostile or broken
// provider from parking a trunk for days or making us refresh in a tight loop.
const (
	// maxDeltaSeconds caps any delta-seconds value we accept (Expires,
	// Min-Expires, Retry-After): one day.
	maxDeltaSeconds = 86400
	// maxRetryAfter caps a Retry-After hold: one hour.
	maxRetryAfter = time.Hour
)

// parseDeltaSeconds parses an RFC 3261 §25.1 delta-seconds value (1*DIGIT),
// ignoring surrounding white space. Values above one day are clamped to one
// day. ok is false for anything that is not a plain decimal number.
func parseDeltaSeconds(s string) (int, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= maxDeltaSeconds {
			n = n*10 + int(c-'0')
		}
	}
	return min(n, maxDeltaSeconds), true
}

// parseRetryAfter parses a Retry-After value (RFC 3261 §20.33):
// delta-seconds, optionally followed by a comment and parameters, as in
// "120 (maintenance);duration=3600". Only the delta-seconds matter to us. The
// result is clamped to one hour; ok is false when no delay is given.
func parseRetryAfter(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	end := strings.IndexAny(s, " \t(;")
	if end >= 0 {
		s = s[:end]
	}
	n, ok := parseDeltaSeconds(s)
	if !ok {
		return 0, false
	}
	return min(time.Duration(n)*time.Second, maxRetryAfter), true
}

// headerValue returns the value of the first header called name, or "".
func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// retryAfter returns the Retry-After delay of a response, if any.
func retryAfter(res *sip.Response) (time.Duration, bool) {
	return parseRetryAfter(headerValue(res, "Retry-After"))
}

// minExpires returns the Min-Expires value of a 423 response (RFC 3261
// §10.2.8, §20.23).
func minExpires(res *sip.Response) (int, bool) {
	return parseDeltaSeconds(headerValue(res, "Min-Expires"))
}

// grantedExpiry returns the registration lifetime a 2xx to REGISTER grants our
// binding, in seconds (RFC 3261 §10.2.4): the expires parameter of the Contact
// whose user is contactUser; else the Expires header; else requested. A
// registrar may shorten the lifetime but not lengthen it (§10.3 step 7), so
// the result never exceeds requested. 0 means the registrar dropped the
// binding; the caller treats that as a failure.
func grantedExpiry(res *sip.Response, contactUser string, requested int) int {
	granted := -1
	for _, h := range res.GetHeaders("Contact") {
		user, params, ok := contactUserParams(h)
		if !ok || user != contactUser {
			continue
		}
		if v, ok := params.Get("expires"); ok {
			if n, ok := parseDeltaSeconds(v); ok {
				granted = n
			}
		}
		break
	}
	if granted < 0 {
		if n, ok := parseDeltaSeconds(headerValue(res, "Expires")); ok {
			granted = n
		}
	}
	if granted < 0 {
		granted = requested
	}
	return min(granted, requested)
}

// contactUserParams returns the URI user and header parameters of a Contact
// header, parsing it when the message was built rather than received.
func contactUserParams(h sip.Header) (string, sip.HeaderParams, bool) {
	if c, ok := h.(*sip.ContactHeader); ok {
		return c.Address.User, c.Params, true
	}
	var uri sip.Uri
	params := sip.NewParams()
	v := h.Value()
	if i := strings.IndexByte(v, ','); i >= 0 && !strings.ContainsAny(v[:i], "<\"") {
		v = v[:i]
	}
	if _, err := sip.ParseAddressValue(v, &uri, &params); err != nil {
		return "", nil, false
	}
	return uri.User, params, true
}
