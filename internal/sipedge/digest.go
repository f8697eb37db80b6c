package sipedge

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// AuthConfig configures an Authenticator. The zero value of every field but Realm
// means "use the default".
type AuthConfig struct {
	// Realm is the protection domain sent in every challenge (RFC 3261 §22.1). Required.
	Realm string
	// NonceTTL is how long a nonce is accepted; 0 = 5 min (Kamailio's nonce_expire).
	// An expired nonce with correct credentials gets a stale=true challenge.
	NonceTTL time.Duration
	// Algorithms are offered as one challenge header each, in this order; nil =
	// ["MD5", "SHA-256"]. Supported: "MD5", "SHA-256", "SHA-512-256" (RFC 8760).
	//
	// MD5 comes first by default on purpose: SIPp 3.6.1 and older, and many deployed
	// phones, read only the first challenge and only know MD5, so a SHA-256-first list
	// locks them out. The price: RFC 8760 §2.3 has the server list challenges in its
	// order of preference and §2.4 has the client "use the topmost header field that it
	// supports unless a local policy dictates otherwise", so a compliant client that
	// knows both also answers MD5; only clients whose local policy picks the strongest
	// (e.g. sipx) use SHA-256. Sites without MD5-only phones should configure
	// ["SHA-256", "MD5"] or ["SHA-256"].
	Algorithms []string
	// FirstOnlyUserAgents lists User-Agent substrings (case-insensitive) of clients that
	// fail on a challenge list: they get only the first algorithm of Algorithms. nil =
	// ["baresip", "libre"]: libre 1.x (baresip 1.0, Debian 12) answers a REGISTER 401
	// that carries any non-MD5 challenge with ENOSYS and never registers (seen in
	// test/e2e TestBaresip). The choice depends on the User-Agent only, never on the
	// user, so known and unknown users still get identical challenges.
	FirstOnlyUserAgents []string
	// Secret keys the HMAC that makes nonces verifiable without server state; nil = 32
	// random bytes (nonces then do not survive a restart; clients just get a new
	// challenge). Set it to share nonces between instances.
	Secret []byte
	// MaxNonces bounds a generation of the nonce-count table (one entry per nonce in
	// use; two generations live at once); 0 = 131072 (at most about 13 MB). When the
	// current generation is full, a new one starts and the older one is dropped;
	// every nonce issued before that moment, if it comes back without an entry, gets a
	// stale=true challenge: phones simply take a fresh nonce; a replay never passes,
	// and nobody is locked out (an earlier design refused every new nonce while the
	// table was full: 401 to every REGISTER after ~65k nonces, docs/benchmarks.md).
	MaxNonces int
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// authAlgorithms are the algorithms icholy/digest computes and RFC 8760 names for SIP.
var authAlgorithms = []string{"MD5", "SHA-256", "SHA-512-256"}

// Validate reports a configuration NewAuthenticator would refuse.
func (c AuthConfig) Validate() error {
	if c.Realm == "" {
		return errors.New("sipedge: auth: realm is required")
	}
	if strings.ContainsAny(c.Realm, "\"\\\r\n") {
		return errors.New("sipedge: auth: realm must not contain quotes, backslashes or line breaks")
	}
	if c.NonceTTL < 0 || c.MaxNonces < 0 {
		return errors.New("sipedge: auth: negative nonce ttl or table size")
	}
	for _, alg := range c.Algorithms {
		if authCanonicalAlgorithm(alg) == "" {
			return fmt.Errorf("sipedge: auth: unsupported algorithm %q (want one of %s)", alg, strings.Join(authAlgorithms, ", "))
		}
	}
	return nil
}

func authCanonicalAlgorithm(name string) string {
	for _, a := range authAlgorithms {
		if strings.EqualFold(a, name) {
			return a
		}
	}
	return ""
}

// Authenticator verifies digest credentials on requests (RFC 3261 §22, RFC 7616,
// RFC 8760) with stateless HMAC nonces and a bounded nonce-count table. It is safe
// for concurrent use.
type Authenticator struct {
	realm      string
	ttl        time.Duration
	algorithms []string
	firstOnly  []string // lower-case User-Agent substrings
	secret     []byte
	now        func() time.Time
	// dummy is the password digested for unknown users, so that they cost the same
	// work as a known user with a wrong password.
	dummy  string
	counts *authNonceCounts
	// macs holds keyed HMAC states (hash.Hash): building one per nonce costs two
	// SHA-256 states and the key schedule, a Reset only the latter's copy.
	macs sync.Pool
}

// NewAuthenticator returns an Authenticator. It panics if cfg.Validate fails: check
// the configuration when it is loaded.
func NewAuthenticator(cfg AuthConfig) *Authenticator {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	a := &Authenticator{realm: cfg.Realm, ttl: cfg.NonceTTL, now: cfg.Now, secret: cfg.Secret}
	if a.ttl == 0 {
		a.ttl = 5 * time.Minute
	}
	if a.now == nil {
		a.now = time.Now
	}
	for _, alg := range cfg.Algorithms {
		a.algorithms = append(a.algorithms, authCanonicalAlgorithm(alg))
	}
	a.firstOnly = []string{"baresip", "libre"}
	if cfg.FirstOnlyUserAgents != nil {
		a.firstOnly = nil
		for _, ua := range cfg.FirstOnlyUserAgents {
			a.firstOnly = append(a.firstOnly, strings.ToLower(ua))
		}
	}
	if len(a.algorithms) == 0 {
		a.algorithms = []string{"MD5", "SHA-256"}
	}
	if a.secret == nil {
		a.secret = make([]byte, 32)
		rand.Read(a.secret)
	}
	var d [16]byte
	rand.Read(d[:])
	a.dummy = hex.EncodeToString(d[:])
	maxNonces := cfg.MaxNonces
	if maxNonces == 0 {
		maxNonces = 1 << 17
	}
	a.counts = &authNonceCounts{ttl: a.ttl, max: maxNonces}
	return a
}

// authOutcome is what Authenticate decided about one request.
type authOutcome int

const (
	authOK        authOutcome = iota
	authChallenge             // no usable credentials (none, other realm, unknown nonce): fresh challenge
	authStale                 // expired nonce, correct response: stale=true challenge
	authReplay                // correct response, nonce count not increasing: fresh challenge
	authFailed                // wrong credentials: fresh challenge, counted as a failure
)

// Authenticate checks the Authorization header (proxy=false, for REGISTER; challenge
// 401 WWW-Authenticate) or Proxy-Authorization (proxy=true, INVITE etc; challenge 407
// Proxy-Authenticate), RFC 3261 §22.2–22.3. password looks up a user's secret; ok=false
// for unknown users.
//
// It returns the authenticated user name, or a non-nil response to send and
// failed=true when credentials were presented and were wrong (the caller counts a
// failure toward a ban). The responses:
//
//   - no credentials for our realm, a nonce we did not issue (forged, or from before a
//     restart), or a full nonce table: a fresh challenge, failed=false;
//   - wrong password, unknown user, digest-uri not matching the Request-URI, an
//     algorithm or qop we did not offer, malformed credentials: the same fresh
//     challenge, failed=true. Unknown users are digested against a dummy password so
//     that status line, headers and work are those of a wrong password (no svwar
//     oracle);
//   - an expired nonce with a correct response: a challenge with stale=true (RFC 7616
//     §3.3), failed=false; a wrong response never gets stale=true;
//   - a replay (nonce count not above the last one accepted for that nonce, RFC 7616
//     §3.4): a fresh challenge, failed=false. The failure of a guess burns its nonce
//     (svcrack --reusenonce): later requests with it are at best replays.
//
// Authenticate never answers 403 itself: the fresh challenge is what RFC 3261 §22.2
// and §22.3 allow and is identical whatever went wrong.
func (a *Authenticator) Authenticate(req *sip.Request, proxy bool, password func(user string) (string, bool)) (user string, res *sip.Response, failed bool) {
	user, outcome := a.check(req, proxy, password)
	switch outcome {
	case authOK:
		return user, nil, false
	case authStale:
		return "", a.Challenge(req, proxy, true), false
	case authFailed:
		return "", a.Challenge(req, proxy, false), true
	default:
		return "", a.Challenge(req, proxy, false), false
	}
}

// Challenge builds a 401 (proxy=false) or 407 (proxy=true) response with one
// challenge per configured algorithm, all with one fresh nonce and qop="auth"
// (RFC 3261 §22.4 says servers MUST always send qop).
func (a *Authenticator) Challenge(req *sip.Request, proxy, stale bool) *sip.Response {
	code, reason, name := 401, "Unauthorized", "WWW-Authenticate"
	if proxy {
		code, reason, name = 407, "Proxy Authentication Required", "Proxy-Authenticate"
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	nonce := a.newNonce(a.now())
	algs := a.algorithms
	if a.wantsOne(req) {
		algs = algs[:1]
	}
	for _, alg := range algs {
		res.AppendHeader(sip.NewHeader(name, authChallengeValue(a.realm, nonce, alg, stale)))
	}
	return res
}

// wantsOne reports whether req comes from a client that fails on several challenges.
func (a *Authenticator) wantsOne(req *sip.Request) bool {
	h := header(req, "User-Agent")
	if h == nil || len(a.firstOnly) == 0 {
		return false
	}
	ua := strings.ToLower(h.Value())
	for _, s := range a.firstOnly {
		if s != "" && strings.Contains(ua, s) {
			return true
		}
	}
	return false
}

func (a *Authenticator) check(req *sip.Request, proxy bool, password func(string) (string, bool)) (string, authOutcome) {
	name := "Authorization"
	if proxy {
		name = "Proxy-Authorization"
	}
	cred, err := authFindCredentials(headers(req, name), a.realm)
	if err != nil {
		return "", authFailed
	}
	if cred == nil {
		// No Digest credentials for our realm; other schemes (RFC 4475 regaut01) and
		// other realms (RFC 3261 §22.3: credentials for another proxy) land here.
		return "", authChallenge
	}
	now := a.now()
	key, issued, ok := a.parseNonce(cred.Nonce, now)
	if !ok {
		// Not ours: verifying the response would be a free password oracle, and
		// counting it would ban phones that kept a nonce across our restart.
		return "", authChallenge
	}
	expired := now.Sub(issued) > a.ttl
	alg := authCanonicalAlgorithm(cred.Algorithm)
	if cred.Algorithm == "" {
		alg = "MD5" // RFC 2617 §3.2.2: absent means MD5
	}
	if !a.offers(alg) || !authQOPOK(cred) || !authURIMatches(cred.URI, &req.Recipient) {
		a.burn(key, expired, now)
		return "", authFailed
	}

	pw, known := password(cred.Username)
	if !known || cred.Username == "" {
		pw, known = a.dummy, false
	}
	want := authResponse(alg, cred.Username, a.realm, pw, string(req.Method), cred.URI, cred.Nonce, uint32(cred.Nc), cred.Cnonce, cred.QOP != "")
	match := len(cred.Response) == len(want) && subtle.ConstantTimeCompare(want, authLowerHex(cred.Response)) == 1
	if !match || !known {
		a.burn(key, expired, now)
		return "", authFailed
	}
	if expired {
		return "", authStale
	}
	nc := uint32(cred.Nc)
	if cred.QOP == "" {
		// RFC 2069 style: no nonce count, so the nonce is good for one request.
		nc = math.MaxUint32
	}
	switch a.counts.advance(key, nc, issued, now) {
	case authCountOK:
		return cred.Username, authOK
	case authCountStale:
		// Its count may have been evicted: the credentials are right, so ask for a
		// fresh nonce (RFC 7616 §3.3) rather than risk accepting a replay.
		return "", authStale
	default:
		return "", authReplay
	}
}

// burn marks a live nonce as used up after a failed attempt.
func (a *Authenticator) burn(key authNonceKey, expired bool, now time.Time) {
	if !expired {
		a.counts.burn(key, now)
	}
}

func (a *Authenticator) offers(alg string) bool {
	for _, o := range a.algorithms {
		if o == alg {
			return true
		}
	}
	return false
}

// authQOPOK accepts qop=auth with a cnonce and a nonce count from 1, and no qop at
// all: RFC 3261 §22.4 keeps qop optional for clients and servers to receive (RFC 2069
// compatibility). Such a response carries no nonce count, so its nonce is one-time.
func authQOPOK(c *digest.Credentials) bool {
	switch {
	case c.QOP == "":
		return true
	case strings.EqualFold(c.QOP, "auth"):
		return c.Cnonce != "" && c.Nc >= 1
	default:
		return false // auth-int was not offered
	}
}

// authMaxHeader bounds an Authorization value we are willing to parse.
const authMaxHeader = 4096

// authFindCredentials returns the first Digest credentials for realm among hdrs
// (RFC 3261 §22.4 allows one per realm), nil if there are none, or an error if a
// Digest header is malformed.
func authFindCredentials(hdrs []sip.Header, realm string) (*digest.Credentials, error) {
	var bad error
	for _, h := range hdrs {
		v := h.Value()
		if len(v) < 6 || !strings.EqualFold(v[:6], "Digest") || len(v) > 6 && v[6] != ' ' && v[6] != '\t' {
			continue // another scheme
		}
		c, err := authParseCredentials(v)
		if err != nil {
			bad = err
			continue
		}
		if c.Realm == realm {
			return c, nil
		}
	}
	return nil, bad
}

// authParseCredentials parses one Digest Authorization value (RFC 3261 §25.1
// credentials: "Digest" LWS dig-resp *(COMMA dig-resp), names case-insensitive,
// values token or quoted-string) and checks the fields every response needs.
//
// It fills icholy/digest's Credentials but does not use its parser: that one reads
// through a bufio.Reader and builds every value rune by rune, which was 60% of the
// cost of a whole REGISTER. This one slices the input (it copies only values with
// escapes); FuzzParseAuthorization checks that it agrees with icholy's.
func authParseCredentials(v string) (*digest.Credentials, error) {
	if len(v) > authMaxHeader {
		return nil, errors.New("sipedge: auth: authorization header too long")
	}
	if len(v) < 7 || !strings.EqualFold(v[:6], "Digest") || (v[6] != ' ' && v[6] != '\t') {
		return nil, errors.New("sipedge: auth: not a digest response")
	}
	c := &digest.Credentials{}
	rest := v[7:]
	for {
		rest = strings.TrimLeft(rest, " \t,") // RFC 7230 §7: empty list elements are allowed
		if rest == "" {
			break
		}
		i := authTokenLen(rest)
		if i == 0 {
			return nil, fmt.Errorf("sipedge: auth: bad parameter at %q", authQuoteShort(rest))
		}
		name := rest[:i]
		rest = strings.TrimLeft(rest[i:], " \t")
		if rest == "" || rest[0] != '=' {
			return nil, fmt.Errorf("sipedge: auth: parameter %q has no value", authQuoteShort(name))
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		var val string
		if rest != "" && rest[0] == '"' {
			var err error
			if val, rest, err = authUnquote(rest); err != nil {
				return nil, err
			}
		} else {
			j := authTokenLen(rest)
			if j == 0 {
				return nil, fmt.Errorf("sipedge: auth: parameter %q has no value", authQuoteShort(name))
			}
			val, rest = rest[:j], rest[j:]
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && rest[0] != ',' {
			return nil, fmt.Errorf("sipedge: auth: expected a comma at %q", authQuoteShort(rest))
		}
		if err := authSetParam(c, name, val); err != nil {
			return nil, err
		}
	}
	if c.Nonce == "" || c.URI == "" || c.Response == "" {
		return nil, errors.New("sipedge: auth: nonce, uri and response are required")
	}
	if c.Userhash {
		return nil, errors.New("sipedge: auth: userhash was not offered")
	}
	return c, nil
}

func authSetParam(c *digest.Credentials, name, val string) error {
	switch strings.ToLower(name) {
	case "username":
		c.Username = val
	case "realm":
		c.Realm = val
	case "nonce":
		c.Nonce = val
	case "uri":
		c.URI = val
	case "response":
		c.Response = val
	case "algorithm":
		c.Algorithm = val
	case "cnonce":
		c.Cnonce = val
	case "opaque":
		c.Opaque = val
	case "qop":
		c.QOP = val
	case "nc":
		// nc-value = 8LHEX (RFC 3261 §25.1); the response hashes these 8 characters.
		n, err := strconv.ParseUint(val, 16, 32)
		if err != nil || len(val) != 8 {
			return fmt.Errorf("sipedge: auth: bad nc %q", authQuoteShort(val))
		}
		c.Nc = int(n)
	case "userhash":
		c.Userhash = strings.EqualFold(val, "true")
	}
	return nil
}

// authTokenLen is the length of the RFC 3261 §25.1 token at the start of s.
func authTokenLen(s string) int {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' {
			continue
		}
		switch b {
		case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
			continue
		}
		return i
	}
	return len(s)
}

// authUnquote reads the quoted-string at the start of s (with quoted-pairs) and
// returns its value and the rest of s.
func authUnquote(s string) (val, rest string, err error) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return s[1:i], s[i+1:], nil
		case '\\':
			// Slow path: unescape.
			var b strings.Builder
			b.WriteString(s[1:i])
			for i < len(s) {
				switch c := s[i]; c {
				case '\\':
					if i+1 >= len(s) {
						return "", "", errors.New("sipedge: auth: unterminated quoted string")
					}
					b.WriteByte(s[i+1])
					i += 2
				case '"':
					return b.String(), s[i+1:], nil
				default:
					b.WriteByte(c)
					i++
				}
			}
			return "", "", errors.New("sipedge: auth: unterminated quoted string")
		}
	}
	return "", "", errors.New("sipedge: auth: unterminated quoted string")
}

// authQuoteShort shortens s for an error message.
func authQuoteShort(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// authURIMatches reports whether the digest-uri names the Request-URI (RFC 7616
// §3.4.6, RFC 2617 §3.2.2.5). Clients re-serialise URIs differently, so after an exact
// match fails we compare scheme, user, host (case-insensitive) and port (absent =
// 5060/5061), and ignore URI parameters; the response hash is over the client's own
// string, so tolerance here cannot make a wrong response right.
//
// A digest-uri without a user part is accepted when scheme, host and port match:
// SIPp (3.6.1) sends "sip:HOST:PORT" by default and Kamailio does not compare the
// digest-uri at all. The nonce-count rules still stop a replay to another target.
func authURIMatches(digestURI string, ruri *sip.Uri) bool {
	if digestURI == ruri.String() {
		return true
	}
	var u sip.Uri
	if err := sip.ParseUri(digestURI, &u); err != nil {
		return false
	}
	return strings.EqualFold(authScheme(&u), authScheme(ruri)) &&
		(u.User == ruri.User || u.User == "") &&
		strings.EqualFold(u.Host, ruri.Host) &&
		authPort(&u) == authPort(ruri)
}

func authScheme(u *sip.Uri) string {
	if u.Scheme == "" {
		return "sip"
	}
	return u.Scheme
}

func authPort(u *sip.Uri) int {
	if u.Port != 0 {
		return u.Port
	}
	if strings.EqualFold(u.Scheme, "sips") {
		return 5061
	}
	return 5060
}

// A nonce is base64url(issued unix nanoseconds, 8 bytes | random, 8 bytes | first 16
// bytes of HMAC-SHA256(secret, realm | the first 16 bytes)). It proves that we issued
// it and when, without server state; the first 16 bytes key the nonce-count table.
const (
	authNonceRaw = 32
	authNonceLen = 43 // base64.RawURLEncoding of 32 bytes
)

type authNonceKey [16]byte

func (a *Authenticator) newNonce(now time.Time) string {
	var raw [authNonceRaw]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(now.UnixNano()))
	rand.Read(raw[8:16])
	mac := a.mac(raw[:16])
	copy(raw[16:], mac[:])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// mac returns the truncated HMAC of the nonce's first 16 bytes.
func (a *Authenticator) mac(data []byte) [16]byte {
	m, _ := a.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, a.secret)
	}
	defer a.macs.Put(m)
	m.Reset()
	m.Write([]byte(a.realm))
	m.Write(data)
	var sum [sha256.Size]byte
	var out [16]byte
	copy(out[:], m.Sum(sum[:0]))
	return out
}

// parseNonce verifies a nonce and returns its key and issue time. Nonces from the
// future (beyond a second of clock skew) are refused like forged ones.
func (a *Authenticator) parseNonce(s string, now time.Time) (authNonceKey, time.Time, bool) {
	var key authNonceKey
	if len(s) != authNonceLen {
		return key, time.Time{}, false
	}
	var raw [authNonceRaw]byte
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(s)); err != nil || n != authNonceRaw {
		return key, time.Time{}, false
	}
	want := a.mac(raw[:16])
	if !hmac.Equal(want[:], raw[16:]) {
		return key, time.Time{}, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	if issued.After(now.Add(time.Second)) {
		return key, time.Time{}, false
	}
	copy(key[:], raw[:16])
	return key, issued, true
}

// authNonceCounts remembers the highest nonce count accepted per live nonce
// (RFC 7616 §3.4: the server checks that nc increases). Entries live in two
// generations rotated every TTL, so an entry is dropped only after its nonce has
// expired (an entry written during generation g refers to a nonce issued before g
// ended, which expires before g+1 ends) and purging costs no scan.
//
// When the current generation is full, a new one starts early (the older one is
// dropped) and floor is set:
// a nonce issued before floor that has no entry may have lost one, so it is stale
// (the client takes a fresh nonce); nonces issued since are new. The table never
// refuses service and never forgets a count without making its nonce stale.
type authNonceCounts struct {
	mu        sync.Mutex
	ttl       time.Duration
	max       int
	start     time.Time // when cur began
	floor     time.Time // untracked nonces issued before this are stale
	cur, prev map[authNonceKey]uint32
}

type authCount int

const (
	authCountOK authCount = iota
	authCountReplay
	authCountStale
)

func (n *authNonceCounts) rotate(now time.Time) {
	if n.cur == nil {
		n.cur, n.start = make(map[authNonceKey]uint32), now
	}
	if age := now.Sub(n.start); age >= n.ttl {
		n.prev = n.cur
		if age >= 2*n.ttl {
			n.prev = nil
		}
		n.cur, n.start = make(map[authNonceKey]uint32), now
	}
}

// makeRoom starts a new generation early when the current one is full, dropping
// the older one; callers hold mu. The table holds at most 2×max entries.
func (n *authNonceCounts) makeRoom(now time.Time) {
	if len(n.cur) < n.max {
		return
	}
	n.prev, n.cur, n.start = n.cur, make(map[authNonceKey]uint32), now
	n.floor = now
}

// lookup returns the last count of key; callers hold mu.
func (n *authNonceCounts) lookup(key authNonceKey) (uint32, bool) {
	if last, ok := n.cur[key]; ok {
		return last, true
	}
	last, ok := n.prev[key]
	return last, ok
}

// advance records nc for the nonce key, issued at issued, if it is higher than the
// last one seen.
func (n *authNonceCounts) advance(key authNonceKey, nc uint32, issued, now time.Time) authCount {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rotate(now)
	last, seen := n.lookup(key)
	switch {
	case seen && nc <= last:
		return authCountReplay
	case !seen && issued.Before(n.floor):
		return authCountStale
	case !seen:
		n.makeRoom(now)
	}
	n.cur[key] = nc
	delete(n.prev, key)
	return authCountOK
}

// burn makes every later count for key a replay.
func (n *authNonceCounts) burn(key authNonceKey, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rotate(now)
	if _, seen := n.lookup(key); !seen {
		n.makeRoom(now)
	}
	n.cur[key] = math.MaxUint32
	delete(n.prev, key)
}

// len reports the number of tracked nonces (tests).
func (n *authNonceCounts) len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.cur) + len(n.prev)
}

// authResponse computes the digest response a client must send (RFC 7616 §3.4.1,
// RFC 2617 §3.2.2.1 without qop) as lower-case hex: H(HA1:nonce[:nc:cnonce:auth]:HA2)
// with HA1 = H(user:realm:password) and HA2 = H(method:uri). It is this package's own
// rather than icholy/digest's (which the trunk client uses) because it runs for
// every REGISTER and INVITE: fixed buffers and the hash functions' Sum forms keep
// it to one allocation, where the general one took about twenty (P1 profile).
func authResponse(alg, user, realm, password, method, uri, nonce string, nc uint32, cnonce string, qop bool) []byte {
	var scratch [512]byte
	var ha1, ha2 [128]byte
	buf := append(append(append(append(append(scratch[:0], user...), ':'), realm...), ':'), password...)
	h1 := authHashHex(alg, ha1[:0], buf)
	buf = append(append(append(scratch[:0], method...), ':'), uri...)
	h2 := authHashHex(alg, ha2[:0], buf)
	buf = append(append(append(scratch[:0], h1...), ':'), nonce...)
	if qop {
		var ncHex [8]byte
		for i := range ncHex {
			ncHex[i] = "0123456789abcdef"[nc>>(28-4*i)&0xf]
		}
		buf = append(append(append(append(append(buf, ':'), ncHex[:]...), ':'), cnonce...), ":auth"...)
	}
	buf = append(append(buf, ':'), h2...)
	return authHashHex(alg, make([]byte, 0, 128), buf)
}

// authHashHex appends the lower-case hex hash of data under alg (one of
// authAlgorithms) to dst.
func authHashHex(alg string, dst, data []byte) []byte {
	switch alg {
	case "SHA-256":
		sum := sha256.Sum256(data)
		return hex.AppendEncode(dst, sum[:])
	case "SHA-512-256":
		sum := sha512.Sum512_256(data)
		return hex.AppendEncode(dst, sum[:])
	default:
		sum := md5.Sum(data)
		return hex.AppendEncode(dst, sum[:])
	}
}

// authLowerHex returns s as bytes with A-F lowered (hex digests may come in either
// case); it allocates once.
func authLowerHex(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	return b
}

// authChallengeValue formats a challenge as icholy/digest's Challenge.String does
// (the same parameters in the same order, so clients see no change), without its
// general parameter formatting, which was 4 % of a registration storm's CPU. The
// realm is checked for quotes and backslashes at configuration (AuthConfig.Validate)
// and the nonce is base64url, so neither needs escaping.
func authChallengeValue(realm, nonce, alg string, stale bool) string {
	var b strings.Builder
	b.Grow(len(realm) + len(nonce) + len(alg) + 64)
	b.WriteString(`Digest realm="`)
	b.WriteString(realm)
	b.WriteString(`", nonce="`)
	b.WriteString(nonce)
	b.WriteString(`"`)
	if stale {
		b.WriteString(", stale=true")
	}
	b.WriteString(", algorithm=")
	b.WriteString(alg)
	b.WriteString(`, qop="auth"`)
	return b.String()
}
