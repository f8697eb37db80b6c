package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRegisterBatch: 50 extensions register with digest auth (SIPp, 401 then 200 each);
// the API then lists exactly those 50 bindings.
func TestRegisterBatch(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := startTrunkline(t)
	port := freeUDPPort(t)
	contact := fmt.Sprintf("127.0.0.1:%d", port)
	var lines []regLine
	var want []string
	for n := 2000; n < 2050; n++ {
		num := strconv.Itoa(n)
		pw := "pass-" + num
		inst.API.createExtension(t, num, pw, "Batch "+num)
		lines = append(lines, regLine{num, num, pw, 3600, contact})
		want = append(want, num)
	}
	res := runSIPp(t, &sippRun{
		Name:     "register-50",
		Scenario: "register_auth.xml",
		Remote:   inst.SIPAddr(),
		Port:     port,
		Calls:    50,
		Rate:     25,
		CSV:      registerCSV(lines...),
		Timeout:  60 * time.Second,
	})
	expectCalls(t, res, 50, "50 REGISTERs of 2000..2049 (401 challenge, then 200 each)")

	regs := inst.API.registrations(t)
	var got []string
	for _, b := range regs {
		got = append(got, b.AOR)
		wantContact := "sip:" + b.AOR + "@" + contact
		if !strings.HasPrefix(b.Contact, wantContact) {
			t.Errorf("binding of %s: contact %q, expected %s;transport=UDP", b.AOR, b.Contact, wantContact)
		}
		if b.Source != contact {
			t.Errorf("binding of %s: source %q, expected %s (where the REGISTER came from)", b.AOR, b.Source, contact)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("GET /api/v1/registrations: expected 50 bindings, one for each of 2000..2049; got %d: %v", len(got), got)
	}
}

// TestNoEnumeration: a REGISTER of a known extension with a wrong password and one of an
// unknown user must get the same answers - the same 401 challenge first, then the same
// final response to the credentials - so that nobody can tell which users exist.
func TestNoEnumeration(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := startTrunkline(t)
	inst.API.createExtension(t, "1001", pw1001, "Known")
	const known, unknown = "1001", "1999"
	port := freeUDPPort(t)
	contact := fmt.Sprintf("127.0.0.1:%d", port)
	res := runSIPp(t, &sippRun{
		Name:     "register-reject",
		Scenario: "register_reject.xml",
		Remote:   inst.SIPAddr(),
		Port:     port,
		Calls:    2,
		CSV: registerCSV(
			regLine{known, known, "wrong-password", 3600, contact},
			regLine{unknown, unknown, "wrong-password", 3600, contact},
		),
		Timeout:  30 * time.Second,
		TraceMsg: true,
	})

	// Responses per user (from the From of the REGISTER with the same Call-ID), first
	// final response per CSeq (retransmissions dropped).
	msgs := readSIPpMessages(t, res.MessageLog)
	userOf := map[string]string{} // Call-ID -> user
	for _, m := range msgs {
		if !m.Received && m.Method() == "REGISTER" && m.StatusCode() == 0 {
			if from := m.Get("from"); len(from) > 0 && len(m.Get("call-id")) > 0 {
				userOf[m.Get("call-id")[0]] = uriUser(from[0])
			}
		}
	}
	final := map[string][]sipMsg{}
	for _, m := range firstPerCallCSeq(received(msgs, func(m sipMsg) bool { return m.StatusCode() >= 200 })) {
		u := userOf[strings.Join(m.Get("call-id"), "")]
		final[u] = append(final[u], m)
	}
	for _, u := range []string{known, unknown} {
		if len(final[u]) != 2 {
			t.Fatalf("REGISTER of %s: expected 2 final responses (the challenge, then the answer to the credentials), got %d:\n%v\n(sipp: %s)%s",
				u, len(final[u]), final[u], res, firstError(res))
		}
	}
	for i, what := range []string{"challenge to the first REGISTER", "answer to the REGISTER with credentials"} {
		k := normalizeResponse(final[known][i], known, unknown)
		u := normalizeResponse(final[unknown][i], known, unknown)
		t.Logf("%s, normalised:\n  %s", what, strings.Join(k, "\n  "))
		if !slices.Equal(k, u) {
			t.Errorf("%s: known user %s (wrong password) and unknown user %s got different responses; expected identical after normalisation.\nknown:\n  %s\nunknown:\n  %s",
				what, known, unknown, strings.Join(k, "\n  "), strings.Join(u, "\n  "))
		}
	}
	if code := final[known][1].StatusCode(); code != 401 && code != 403 {
		t.Errorf("REGISTER of %s with a wrong password: expected 401 or 403, got %s", known, final[known][1].First)
	}
	checkRegisterChallenge(t, final[known][0])
	expectCalls(t, res, 2, "REGISTER with bad credentials, known and unknown user (401, then 401/403)")
}

// firstPerCallCSeq keeps the first message of each (Call-ID, CSeq).
func firstPerCallCSeq(msgs []sipMsg) []sipMsg {
	seen := map[string]bool{}
	var out []sipMsg
	for _, m := range msgs {
		k := strings.Join(m.Get("call-id"), "") + "|" + strings.Join(m.Get("cseq"), "")
		if !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	return out
}

var uriUserRE = regexp.MustCompile(`sips?:([^@;>]+)@`)

// uriUser is the user part of the first SIP URI in a header value.
func uriUser(v string) string {
	if m := uriUserRE.FindStringSubmatch(v); m != nil {
		return m[1]
	}
	return ""
}

// Parts of a response that differ between two requests for reasons that reveal nothing
// about the user. Everything else - status line, header names, their order and values,
// the body - must be identical.
var (
	// Via is our own request's Via echoed back: branch is per transaction; received and
	// rport are what the server saw of our address.
	viaParamRE = regexp.MustCompile(`(?i)(;\s*(?:branch|received|rport)\s*=)[^;,\s]*`)
	// From/To tags: ours differs per call; the server's To tag is fresh per response.
	tagRE = regexp.MustCompile(`(?i)(;\s*tag\s*=)[^;,\s>]*`)
	// Digest nonce and opaque are fresh per challenge by design (RFC 7616 §3.3, RFC 3261
	// §22.4); their presence is still compared, their values cannot be.
	nonceRE = regexp.MustCompile(`(?i)\b(nonce|opaque)\s*=\s*("[^"]*"|[^,\s]*)`)
)

// normalizeResponse renders a response as comparable lines: the status line, then
// "name: value" per header in order. Call-ID, CSeq and Content-Length values are per
// request (Content-Length still follows from the compared body) and Date is the wall
// clock: their values are blanked. The user parts of the From and To URIs are the
// users the two requests were for (echoed from the request), so either user is replaced
// by USER there - and only there: a user name anywhere else would be a leak.
func normalizeResponse(m sipMsg, users ...string) []string {
	out := []string{m.First}
	for _, h := range m.Headers {
		name := canonicalName(h.Name)
		v := h.Value
		switch name {
		case "call-id", "cseq", "content-length", "date":
			v = "*"
		case "via":
			v = viaParamRE.ReplaceAllString(v, "${1}*")
		case "from", "to":
			v = tagRE.ReplaceAllString(v, "${1}*")
			for _, u := range users {
				v = strings.ReplaceAll(v, "sip:"+u+"@", "sip:USER@")
			}
		case "www-authenticate", "proxy-authenticate":
			v = nonceRE.ReplaceAllString(v, `$1="*"`)
		}
		out = append(out, name+": "+v)
	}
	if m.Body != "" {
		out = append(out, "", m.Body)
	}
	return out
}

// digestParam reads one parameter of a Digest challenge.
func digestParam(challenge, name string) string {
	re := regexp.MustCompile(`(?i)(?:^|[\s,])` + name + `\s*=\s*("([^"]*)"|[^,\s]*)`)
	m := re.FindStringSubmatch(challenge)
	if m == nil {
		return ""
	}
	if m[2] != "" || strings.HasPrefix(m[1], `"`) {
		return m[2]
	}
	return m[1]
}

// checkRegisterChallenge: the 401 to a REGISTER offers Digest MD5 first, then SHA-256,
// both realm "trunkline" and qop auth.
func checkRegisterChallenge(t testing.TB, m sipMsg) {
	t.Helper()
	if m.StatusCode() != 401 {
		t.Errorf("challenge to REGISTER: expected 401, got %s", m.First)
		return
	}
	ch := m.Get("www-authenticate")
	algs := []string{}
	for _, c := range ch {
		if !strings.HasPrefix(strings.ToLower(c), "digest ") {
			t.Errorf("WWW-Authenticate %q: expected a Digest challenge", c)
			continue
		}
		alg := digestParam(c, "algorithm")
		if alg == "" {
			alg = "MD5" // RFC 3261 default
		}
		algs = append(algs, strings.ToUpper(alg))
		if r := digestParam(c, "realm"); r != "trunkline" {
			t.Errorf("WWW-Authenticate %q: realm %q, expected \"trunkline\"", c, r)
		}
		if q := digestParam(c, "qop"); !slices.Contains(strings.Split(strings.ReplaceAll(q, " ", ""), ","), "auth") {
			t.Errorf("WWW-Authenticate %q: qop %q, expected auth offered", c, q)
		}
		if digestParam(c, "nonce") == "" {
			t.Errorf("WWW-Authenticate %q: no nonce", c)
		}
	}
	if !slices.Equal(algs, []string{"MD5", "SHA-256"}) {
		t.Errorf("401 to REGISTER: expected WWW-Authenticate with algorithm MD5 first, then SHA-256; got %v:\n%s", algs, m)
	}
}

// TestImpersonation: an authenticated extension may only register its own AOR and call
// as itself. 1001's valid credentials used for the AOR 1002 (REGISTER) or with From 1002
// (INVITE) get 403, and nothing is registered or rung.
func TestImpersonation(t *testing.T) {
	t.Parallel()
	requirePeer(t, "sipp")
	inst := newPBX(t)

	port := freeUDPPort(t)
	res := runSIPp(t, &sippRun{
		Name:     "register-1002-as-1001",
		Scenario: "register_403.xml",
		Remote:   inst.SIPAddr(),
		Port:     port,
		CSV:      registerCSV(regLine{"1002", "1001", pw1001, 3600, fmt.Sprintf("127.0.0.1:%d", port)}),
		Timeout:  20 * time.Second,
		TraceMsg: true,
	})
	expectCalls(t, res, 1, "REGISTER of AOR 1002 with 1001's credentials: 401, then exactly 403")
	if regs := inst.API.registrations(t); len(regs) != 0 {
		t.Errorf("GET /api/v1/registrations after the refused REGISTER: %+v, expected none", regs)
	}

	// 1002 is registered for real (a SIPp UAS that must not ring); 1001 calls with From 1002.
	uas := calleeUAS(t, inst, "uas.xml", 0)
	run := caller(inst, "uac_403.xml", "1002", 0)
	run.Caller = "1002" // From/Contact user; the digest user stays 1001
	expectCalls(t, runSIPp(t, run), 1, "INVITE with From 1002 and 1001's credentials: 407, then exactly 403")
	r := uas.Stop()
	if invites := received(readSIPpMessages(t, r.MessageLog), isRequest("INVITE")); len(invites) != 0 {
		t.Errorf("callee 1002 was rung by the refused INVITE: expected no INVITE at the UAS, got:\n%s", invites[0])
	}
}
