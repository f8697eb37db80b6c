package sipedge

import (
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// FuzzParseAuthorization: parsing any Authorization value and matching any digest-uri
// must not panic.
func FuzzParseAuthorization(f *testing.F) {
	f.Add(`Digest username="1001", realm="pbx.example.com", nonce="abc", uri="sip:pbx.example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="x", qop=auth, nc=00000001`)
	f.Add(`Digest username="1001",realm="r",nonce="n",uri="sip:a@b:5060;transport=tcp",response="r",nc=ffffffff`)
	f.Add(`Digest username="\"x\\", uri="sips:[::1]:5061"`)
	f.Add(`Digest username="1001", realm="r", nonce="n", uri="sip:a", response="r", cnonce="c\"d", qop=auth, nc=00000001, algorithm=sha-256`)
	f.Add(`Digest nc=-1`)
	f.Add(`Basic abc`)
	f.Add("Digest username=\"a\x00b\"")
	var ruri sip.Uri
	if err := sip.ParseUri("sip:pbx.example.com", &ruri); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := authParseCredentials(v)
		if err == nil {
			authURIMatches(c.URI, &ruri)
			authQOPOK(c)
		}
		authURIMatches(v, &ruri)
		// Differential: where icholy/digest's parser also succeeds on input it reads the
		// same way (valid UTF-8, lower-case names, no tabs), both agree.
		if err != nil || !utf8.ValidString(v) || strings.ContainsAny(v, "\t") || strings.ToLower(v[7:]) != v[7:] {
			return
		}
		ic, ierr := digest.ParseCredentials(v)
		if ierr != nil {
			return
		}
		ic.Userhash = c.Userhash // not offered: authParseCredentials refuses it
		if *ic != *c {
			t.Fatalf("parsers disagree on %q:\nours   %+v\nicholy %+v", v, *c, *ic)
		}
	})
}

// FuzzAuthenticate: any Authorization value, alone or next to valid credentials, must
// neither panic nor authenticate without the password.
func FuzzAuthenticate(f *testing.F) {
	clock := newTestClock()
	a := newTestAuth(clock)
	chal := a.Challenge(testAuthRequest(f, false, 1), false, false)
	good := testAnswer(f, chal, "MD5", "1001", "secret-1001", "REGISTER", "sip:"+testRealm, 1)
	f.Add(good)
	f.Add(strings.Replace(good, "nc=00000001", "nc=00000002", 1))
	f.Add(strings.Replace(good, `algorithm=MD5`, `algorithm=SHA-256`, 1))
	f.Add(`Digest username="1001", realm="pbx.example.com", nonce="x", uri="sip:pbx.example.com", response="y"`)
	f.Add(`Digest realm="pbx.example.com"`)
	f.Add(`Basic MTAwMTp4`)
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return // not one header line
		}
		msg, err := sip.ParseMessage([]byte("REGISTER sip:" + testRealm + " SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-f\r\nFrom: <sip:1001@" + testRealm + ">;tag=1\r\n" +
			"To: <sip:1001@" + testRealm + ">\r\nCall-ID: fz\r\nCSeq: 2 REGISTER\r\nAuthorization: " + v + "\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			return
		}
		req := msg.(*sip.Request)
		user, res, _ := a.Authenticate(req, false, func(u string) (string, bool) {
			if u == "1001" {
				return "secret-1001", true
			}
			return "", false
		})
		if (user == "") == (res == nil) {
			t.Fatalf("user %q with response %v", user, res)
		}
		if user != "" && user != "1001" {
			t.Fatalf("authenticated %q", user)
		}
		_, res, _ = a.Authenticate(req, true, testPassword)
		if res == nil || res.StatusCode != 407 {
			t.Fatal("Proxy-Authorization absent, yet no 407")
		}
	})
}

// FuzzRegisterContacts: any Contact and Expires values in an authenticated REGISTER
// must not panic, and the answer is always one response.
func FuzzRegisterContacts(f *testing.F) {
	f.Add("<sip:a@192.0.2.1>;expires=60;q=0.5", "600")
	f.Add("*", "0")
	f.Add("*", "")
	f.Add("<sip:a@b>, <sip:c@d>;expires=abc", "-1")
	f.Add("sip:a@b;expires=99999999999999999999", "x")
	f.Add("\"x\" <sips:[::1]:5061;transport=tls>;q=7", "4294967296")
	e := newTestEnv(f)
	e.reg.maxContacts = 1000
	p := newTestPhone("1001", "secret-1001")
	p.register(f, e) // learn a challenge
	f.Fuzz(func(t *testing.T, contact, expires string) {
		if strings.ContainsAny(contact+expires, "\r\n") {
			return
		}
		extra := []string{"Contact: " + contact}
		if expires != "" {
			extra = append(extra, "Expires: "+expires)
		}
		p.cseq++
		p.nc++
		h := registerHeaders("1001", p.callID, p.cseq, extra...)
		h = append(h, "Authorization: "+testAnswer(t, p.chal, "MD5", "1001", "secret-1001", "REGISTER", "sip:"+testRealm, p.nc))
		text := "REGISTER sip:" + testRealm + " SIP/2.0\r\n" + strings.Join(h, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
		msg, err := sip.ParseMessage([]byte(text))
		if err != nil {
			return
		}
		tx := newTestTx()
		e.reg.ServeRegister(msg.(*sip.Request), tx, netip.MustParseAddrPort("127.0.0.1:5062"), "udp")
		if n := len(tx.responses()); n != 1 {
			t.Fatalf("%d responses", n)
		}
	})
}
