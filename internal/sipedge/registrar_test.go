package sipedge

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/trunkline/trunkline/internal/model"
)

// testClock is an adjustable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testTx is a sip.ServerTransaction that records responses.
type testTx struct {
	mu   sync.Mutex
	res  []*sip.Response
	done chan struct{}
}

var _ sip.ServerTransaction = (*testTx)(nil)

func newTestTx() *testTx { return &testTx{done: make(chan struct{})} }

func (t *testTx) Respond(res *sip.Response) error {
	t.mu.Lock()
	t.res = append(t.res, res)
	t.mu.Unlock()
	return nil
}
func (t *testTx) Acks() <-chan *sip.Request          { return nil }
func (t *testTx) OnCancel(sip.FnTxCancel) bool       { return false }
func (t *testTx) Terminate()                         {}
func (t *testTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (t *testTx) Done() <-chan struct{}              { return t.done }
func (t *testTx) Err() error                         { return nil }

func (t *testTx) responses() []*sip.Response {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.res)
}

func (t *testTx) last() *sip.Response { r := t.responses(); return r[len(r)-1] }

// testStore is an in-memory BindingStore; fail, when set, makes writes fail.
type testStore struct {
	mu     sync.Mutex
	m      map[[2]string]model.Binding
	fail   error
	writes int
}

func newTestStore() *testStore { return &testStore{m: make(map[[2]string]model.Binding)} }

func (s *testStore) SaveBindings(_ context.Context, sets []model.AORBindings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.writes++
	for _, set := range sets {
		for k := range s.m {
			if k[0] == set.AOR && set.Removed {
				delete(s.m, k)
			}
		}
		for _, b := range set.Bindings {
			s.m[[2]string{b.AOR, b.Contact}] = b
		}
	}
	return nil
}

func (s *testStore) ListBindings(context.Context) ([]model.Binding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []model.Binding
	for _, b := range s.m {
		out = append(out, b)
	}
	return out, nil
}

func (s *testStore) DeleteExpiredBindings(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, b := range s.m {
		if !b.Expires.After(now) {
			delete(s.m, k)
			n++
		}
	}
	return n, nil
}

func (s *testStore) len() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.m) }

// nopStore discards writes (benchmarks).
type nopStore struct{}

func (nopStore) SaveBindings(context.Context, []model.AORBindings) error       { return nil }
func (nopStore) ListBindings(context.Context) ([]model.Binding, error)         { return nil, nil }
func (nopStore) DeleteExpiredBindings(context.Context, time.Time) (int, error) { return 0, nil }

// testDir is a Directory over a map.
type testDir map[string]model.Extension

func (d testDir) Extension(user string) (model.Extension, bool) {
	e, ok := d[user]
	return e, ok
}

const testRealm = "pbx.example.com"

// testRequest parses a request made of method, Request-URI and header lines.
func testRequest(t testing.TB, method, ruri string, headers []string) *sip.Request {
	t.Helper()
	text := method + " " + ruri + " SIP/2.0\r\n" + strings.Join(headers, "\r\n") + "\r\nContent-Length: 0\r\n\r\n"
	msg, err := sip.ParseMessage([]byte(text))
	if err != nil {
		t.Fatalf("parse request: %v\n%s", err, text)
	}
	req := msg.(*sip.Request)
	req.SetSource("127.0.0.1:5062")
	req.SetTransport("UDP")
	return req
}

// registerHeaders are the header lines of a REGISTER from user.
func registerHeaders(user, callID string, cseq int, extra ...string) []string {
	h := []string{
		"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-" + fmt.Sprint(cseq) + callID,
		"Max-Forwards: 70",
		"From: <sip:" + user + "@" + testRealm + ">;tag=f" + callID,
		"To: <sip:" + user + "@" + testRealm + ">",
		"Call-ID: " + callID,
		fmt.Sprintf("CSeq: %d REGISTER", cseq),
	}
	return append(h, extra...)
}

// testAnswer computes an Authorization value for the challenge with algorithm alg in
// res, as a client would.
func testAnswer(t testing.TB, res *sip.Response, alg, user, pass, method, uri string, nc int) string {
	t.Helper()
	name := "WWW-Authenticate"
	if res.StatusCode == 407 {
		name = "Proxy-Authenticate"
	}
	for _, h := range res.GetHeaders(name) {
		chal, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatalf("parse challenge %q: %v", h.Value(), err)
		}
		if chal.Algorithm != alg {
			continue
		}
		cred, err := digest.Digest(chal, digest.Options{Method: method, URI: uri, Username: user, Password: pass, Count: nc, Cnonce: "0a4f113b"})
		if err != nil {
			t.Fatal(err)
		}
		return cred.String()
	}
	t.Fatalf("no %s challenge in %v", alg, res)
	return ""
}

// testEnv is a registrar over fakes.
type testEnv struct {
	clock *testClock
	store *testStore
	loc   *Location
	bans  *Banlist
	auth  *Authenticator
	reg   *Registrar
	src   netip.AddrPort
}

func newTestEnv(t testing.TB) *testEnv {
	e := &testEnv{clock: newTestClock(), store: newTestStore(), src: netip.MustParseAddrPort("127.0.0.1:5062")}
	e.loc = NewLocation(e.store, nil)
	e.loc.now = e.clock.Now
	e.bans = NewBanlist(BanConfig{Now: e.clock.Now})
	e.auth = NewAuthenticator(AuthConfig{Realm: testRealm, Now: e.clock.Now})
	dir := testDir{
		"1001": {Number: "1001", Password: "secret-1001"},
		"1002": {Number: "1002", Password: "secret-1002"},
		"1003": {Number: "1003", Password: "secret-1003", Disabled: true},
	}
	e.reg = NewRegistrar(RegistrarConfig{}, e.auth, dir, e.loc, e.bans, nil)
	return e
}

func (e *testEnv) serve(req *sip.Request) *sip.Response {
	tx := newTestTx()
	e.reg.ServeRegister(req, tx, e.src, "udp")
	if n := len(tx.responses()); n != 1 {
		panic(fmt.Sprintf("ServeRegister sent %d responses", n))
	}
	return tx.last()
}

// testPhone registers like a phone: it answers a 401 once and reuses the nonce with an
// increasing nc until it is challenged again.
type testPhone struct {
	user, pass, alg string
	callID          string
	cseq            int
	chal            *sip.Response
	nc              int
}

func newTestPhone(user, pass string) *testPhone {
	return &testPhone{user: user, pass: pass, alg: "MD5", callID: "call-" + user}
}

func (p *testPhone) register(t testing.TB, e *testEnv, extra ...string) *sip.Response {
	t.Helper()
	for attempt := 0; ; attempt++ {
		p.cseq++
		h := registerHeaders(p.user, p.callID, p.cseq, extra...)
		if p.chal != nil {
			p.nc++
			h = append(h, "Authorization: "+testAnswer(t, p.chal, p.alg, p.user, p.pass, "REGISTER", "sip:"+testRealm, p.nc))
		}
		res := e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, h))
		if res.StatusCode == 401 && attempt == 0 {
			p.chal, p.nc = res, 0
			continue
		}
		return res
	}
}

// testContacts returns the Contact values of res.
func testContacts(res *sip.Response) []string {
	var out []string
	for _, h := range res.GetHeaders("Contact") {
		out = append(out, h.Value())
	}
	return out
}

func TestRegisterChallengeThenOK(t *testing.T) {
	for _, alg := range []string{"MD5", "SHA-256"} {
		t.Run(alg, func(t *testing.T) {
			e := newTestEnv(t)
			p := newTestPhone("1001", "secret-1001")
			p.alg = alg
			res := p.register(t, e, "Contact: <sip:1001@192.168.1.20:5062;transport=udp>")
			if res.StatusCode != 200 {
				t.Fatalf("got %d %s, want 200", res.StatusCode, res.Reason)
			}
			want := []string{"<sip:1001@192.168.1.20:5062;transport=udp>;expires=3600"}
			if got := testContacts(res); !slices.Equal(got, want) {
				t.Errorf("contacts %q, want %q", got, want)
			}
			if d := res.GetHeader("Date"); d == nil || d.Value() != "Sat, 01 Mar 2025 12:00:00 GMT" {
				t.Errorf("Date = %v", d)
			}
			b := e.loc.Lookup("1001")
			if len(b) != 1 || b[0].Source != "127.0.0.1:5062" || b[0].Transport != "udp" || b[0].CSeq != 2 {
				t.Errorf("bindings %+v", b)
			}
			// A refresh reuses the nonce with the next nc: no new challenge.
			if res := p.register(t, e, "Contact: <sip:1001@192.168.1.20:5062;transport=udp>"); res.StatusCode != 200 || p.nc != 2 {
				t.Errorf("refresh: %d, nc %d", res.StatusCode, p.nc)
			}
		})
	}
}

func TestRegisterRejections(t *testing.T) {
	tests := []struct {
		name   string
		user   string // authenticated as
		pass   string
		to     string // AOR in To; "" = user
		extra  []string
		code   int
		reason string
	}{
		{name: "wrong AOR", user: "1001", pass: "secret-1001", to: "1002", extra: []string{"Contact: <sip:x@192.0.2.1>"}, code: 403, reason: "Forbidden"},
		{name: "wrong password", user: "1001", pass: "nope", extra: []string{"Contact: <sip:x@192.0.2.1>"}, code: 401, reason: "Unauthorized"},
		{name: "unknown user", user: "4711", pass: "nope", extra: []string{"Contact: <sip:x@192.0.2.1>"}, code: 401, reason: "Unauthorized"},
		{name: "disabled user", user: "1003", pass: "secret-1003", extra: []string{"Contact: <sip:x@192.0.2.1>"}, code: 401, reason: "Unauthorized"},
		{name: "too brief", user: "1001", pass: "secret-1001", extra: []string{"Contact: <sip:x@192.0.2.1>", "Expires: 30"}, code: 423, reason: "Interval Too Brief"},
		{name: "too brief param", user: "1001", pass: "secret-1001", extra: []string{"Contact: <sip:x@192.0.2.1>;expires=59", "Expires: 600"}, code: 423, reason: "Interval Too Brief"},
		{name: "star without expires", user: "1001", pass: "secret-1001", extra: []string{"Contact: *"}, code: 400, reason: "Invalid Request"},
		{name: "star with expires 60", user: "1001", pass: "secret-1001", extra: []string{"Contact: *", "Expires: 60"}, code: 400, reason: "Invalid Request"},
		{name: "star with another contact", user: "1001", pass: "secret-1001", extra: []string{"Contact: *", "Contact: <sip:x@192.0.2.1>", "Expires: 0"}, code: 400, reason: "Invalid Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			to := tt.to
			if to == "" {
				to = tt.user
			}
			h := registerHeaders(to, "c1", 1, tt.extra...)
			res := e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, h))
			if res.StatusCode != 401 {
				t.Fatalf("first answer %d, want 401", res.StatusCode)
			}
			h = registerHeaders(to, "c1", 2, tt.extra...)
			h = append(h, "Authorization: "+testAnswer(t, res, "MD5", tt.user, tt.pass, "REGISTER", "sip:"+testRealm, 1))
			res = e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, h))
			if res.StatusCode != tt.code || res.Reason != tt.reason {
				t.Fatalf("got %d %s, want %d %s", res.StatusCode, res.Reason, tt.code, tt.reason)
			}
			if tt.code == 423 {
				if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
					t.Errorf("Min-Expires = %v", h)
				}
			}
			if n := len(e.loc.Bindings()) + e.store.len(); n != 0 {
				t.Errorf("%d bindings created", n)
			}
		})
	}
}

// TestRegisterNoEnumeration: an unknown user, a disabled one and a wrong password get
// the same answer, header by header, and all count toward a ban.
func TestRegisterNoEnumeration(t *testing.T) {
	answer := func(user, pass string) (*sip.Response, *testEnv) {
		e := newTestEnv(t)
		h := registerHeaders(user, "c1", 1, "Contact: <sip:x@192.0.2.1>")
		res := e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, h))
		first := res
		h = registerHeaders(user, "c1", 2, "Contact: <sip:x@192.0.2.1>")
		h = append(h, "Authorization: "+testAnswer(t, res, "MD5", user, pass, "REGISTER", "sip:"+testRealm, 1))
		res = e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, h))
		testSameResponse(t, first, res)
		return res, e
	}
	wrong, e := answer("1001", "guess")
	for _, user := range []string{"4711", "1003"} {
		other, _ := answer(user, "guess")
		testSameResponse(t, wrong, other)
	}
	// e has seen one failure; nine more (unknown user) ban the source.
	for i := 0; i < 9; i++ {
		p := newTestPhone("4711", "guess")
		p.register(t, e, "Contact: <sip:x@192.0.2.1>")
	}
	if !e.bans.Banned(e.src.Addr()) {
		t.Error("source not banned after 10 failures")
	}
}

// testSameResponse fails unless a and b have the same status line and headers, except
// the nonce and the fields echoed from the request (Via, From, To with its tag,
// Call-ID, CSeq).
func testSameResponse(t testing.TB, a, b *sip.Response) {
	t.Helper()
	norm := func(r *sip.Response) []string {
		out := []string{fmt.Sprintf("%d %s", r.StatusCode, r.Reason)}
		for _, h := range r.Headers() {
			v := h.Value()
			switch strings.ToLower(h.Name()) {
			case "www-authenticate", "proxy-authenticate":
				c, err := digest.ParseChallenge(v)
				if err != nil {
					t.Fatal(err)
				}
				c.Nonce = ""
				v = c.String()
			case "call-id", "cseq", "via", "from", "to":
				continue // echoed from the request (To with a random tag)
			}
			out = append(out, h.Name()+": "+v)
		}
		return out
	}
	if na, nb := norm(a), norm(b); !slices.Equal(na, nb) {
		t.Errorf("responses differ:\n%s\n---\n%s", strings.Join(na, "\n"), strings.Join(nb, "\n"))
	}
}

func TestRegisterMissingHeaders(t *testing.T) {
	for _, drop := range []string{"To", "From", "Call-ID", "CSeq"} {
		t.Run(drop, func(t *testing.T) {
			e := newTestEnv(t)
			var h []string
			for _, l := range registerHeaders("1001", "c1", 1, "Contact: <sip:x@192.0.2.1>") {
				if !strings.HasPrefix(l, drop+":") {
					h = append(h, l)
				}
			}
			res := e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, h))
			if res.StatusCode != 400 || res.Reason != "Missing "+drop {
				t.Errorf("got %d %s", res.StatusCode, res.Reason)
			}
		})
	}
}

func TestRegisterContacts(t *testing.T) {
	e := newTestEnv(t)
	p := newTestPhone("1001", "secret-1001")

	// Two contacts, own lifetimes: param beats header; cap at MaxExpires; q orders.
	res := p.register(t, e,
		"Contact: <sip:a@192.0.2.1>;expires=120;q=0.5, <sip:b@192.0.2.2>;q=0.9",
		"Contact: <sip:c@192.0.2.3>;expires=7200",
		"Expires: 300")
	if res.StatusCode != 200 {
		t.Fatalf("got %d %s", res.StatusCode, res.Reason)
	}
	want := []string{
		"<sip:c@192.0.2.3>;expires=3600",
		"<sip:b@192.0.2.2>;expires=300;q=0.9",
		"<sip:a@192.0.2.1>;expires=120;q=0.5",
	}
	if got := testContacts(res); !slices.Equal(got, want) {
		t.Fatalf("contacts\n%q\nwant\n%q", got, want)
	}

	// Query: no Contact lists the bindings with their remaining time.
	e.clock.Advance(20 * time.Second)
	res = p.register(t, e)
	want = []string{
		"<sip:c@192.0.2.3>;expires=3580",
		"<sip:b@192.0.2.2>;expires=280;q=0.9",
		"<sip:a@192.0.2.1>;expires=100;q=0.5",
	}
	if got := testContacts(res); res.StatusCode != 200 || !slices.Equal(got, want) {
		t.Fatalf("query: %d %q", res.StatusCode, got)
	}

	// Expiry: a lapses after 100 s more; Lookup hides it, Sweep deletes it.
	e.clock.Advance(101 * time.Second)
	if got := len(e.loc.Lookup("1001")); got != 2 {
		t.Errorf("after expiry %d bindings, want 2", got)
	}
	if err := e.loc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.loc.Sweep(t.Context())
	if got := e.store.len(); got != 2 {
		t.Errorf("store has %d after sweep, want 2", got)
	}

	// Expires 0 removes one contact.
	res = p.register(t, e, "Contact: <sip:b@192.0.2.2>;expires=0")
	if got := testContacts(res); res.StatusCode != 200 || !slices.Equal(got, []string{"<sip:c@192.0.2.3>;expires=3479"}) {
		t.Fatalf("remove b: %d %q", res.StatusCode, got)
	}

	// Contact: * with Expires: 0 removes all.
	res = p.register(t, e, "Contact: *", "Expires: 0")
	if err := e.loc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || len(testContacts(res)) != 0 || e.store.len() != 0 || len(e.loc.Lookup("1001")) != 0 {
		t.Fatalf("star: %d %q store %d", res.StatusCode, testContacts(res), e.store.len())
	}
}

func TestRegisterCSeqOrdering(t *testing.T) {
	e := newTestEnv(t)
	p := newTestPhone("1001", "secret-1001")
	if res := p.register(t, e, "Contact: <sip:a@192.0.2.1>"); res.StatusCode != 200 {
		t.Fatalf("got %d", res.StatusCode)
	}
	stored := e.loc.Lookup("1001")[0].CSeq

	send := func(callID string, cseq int) *sip.Response {
		p.nc++
		h := registerHeaders("1001", callID, cseq, "Contact: <sip:a@192.0.2.1>", "Contact: <sip:b@192.0.2.2>")
		h = append(h, "Authorization: "+testAnswer(t, p.chal, "MD5", "1001", "secret-1001", "REGISTER", "sip:"+testRealm, p.nc))
		return e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, h))
	}
	// Same Call-ID, CSeq equal or lower: the whole update fails (§10.3 step 7).
	for _, cseq := range []int{int(stored), int(stored) - 1} {
		if res := send(p.callID, cseq); res.StatusCode != 500 || res.Reason != "Out of Order CSeq" {
			t.Errorf("cseq %d: got %d %s, want 500", cseq, res.StatusCode, res.Reason)
		}
	}
	if n := len(e.loc.Lookup("1001")); n != 1 {
		t.Errorf("aborted update left %d bindings", n)
	}
	// Another Call-ID (the phone rebooted): any CSeq replaces the binding.
	if res := send("other-call", 1); res.StatusCode != 200 || len(testContacts(res)) != 2 {
		t.Errorf("new Call-ID: got %d %q", res.StatusCode, testContacts(res))
	}
	// Both bindings now carry other-call with CSeq 1: a higher CSeq updates them.
	if res := send("other-call", 2); res.StatusCode != 200 {
		t.Errorf("higher CSeq: got %d", res.StatusCode)
	}
}

func TestRegisterPersistAndReload(t *testing.T) {
	e := newTestEnv(t)
	p := newTestPhone("1001", "secret-1001")
	p.register(t, e, "Contact: <sip:a@192.0.2.1>;expires=60", "Contact: <sip:b@192.0.2.2>;expires=600")
	q := newTestPhone("1002", "secret-1002")
	q.register(t, e, "Contact: <sip:c@192.0.2.3>")
	if err := e.loc.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := e.store.len(); n != 3 {
		t.Fatalf("store has %d bindings, want 3", n)
	}

	// Restart 2 min later: a has expired and is dropped from memory and store.
	e.clock.Advance(2 * time.Minute)
	loc := NewLocation(e.store, nil)
	loc.now = e.clock.Now
	if err := loc.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := loc.Bindings()
	if len(got) != 2 || got[0].Contact != "sip:b@192.0.2.2" || got[1].AOR != "1002" {
		t.Fatalf("reloaded %+v", got)
	}
	if !slices.Equal(got, slices.Concat(e.loc.Lookup("1001"), e.loc.Lookup("1002"))) {
		t.Errorf("reloaded bindings differ from the originals")
	}
	if n := e.store.len(); n != 2 {
		t.Errorf("store has %d after load, want 2", n)
	}
}

// TestRegisterStoreFailure: the store failing does not stop registrations (memory is
// the truth); the binding reaches the store once it works again.
func TestRegisterStoreFailure(t *testing.T) {
	e := newTestEnv(t)
	e.store.fail = errors.New("disk full")
	p := newTestPhone("1001", "secret-1001")
	if res := p.register(t, e, "Contact: <sip:a@192.0.2.1>"); res.StatusCode != 200 {
		t.Errorf("got %d, want 200", res.StatusCode)
	}
	if n := len(e.loc.Lookup("1001")); n != 1 {
		t.Errorf("%d bindings in memory; want 1", n)
	}
	if err := e.loc.Flush(t.Context()); err == nil {
		t.Error("Flush hid the store error")
	}
	e.store.mu.Lock()
	e.store.fail = nil
	e.store.mu.Unlock()
	if err := e.loc.Flush(t.Context()); err != nil || e.store.len() != 1 {
		t.Errorf("flush after the store recovered: %v, %d bindings; want 1", err, e.store.len())
	}
}

func TestRegisterTooManyContacts(t *testing.T) {
	e := newTestEnv(t)
	p := newTestPhone("1001", "secret-1001")
	var contacts []string
	for i := range 11 {
		contacts = append(contacts, fmt.Sprintf("Contact: <sip:x%d@192.0.2.1>", i))
	}
	if res := p.register(t, e, contacts...); res.StatusCode != 403 || res.Reason != "Too Many Contacts" {
		t.Errorf("got %d %s", res.StatusCode, res.Reason)
	}
	if res := p.register(t, e, contacts[:10]...); res.StatusCode != 200 {
		t.Errorf("10 contacts: got %d", res.StatusCode)
	}
}

func TestRegisterParseExpires(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"3600", time.Hour},
		{" 60 ", time.Minute},
		{"abc", time.Hour},
		{"-1", time.Hour},
		{"Thu, 01 Dec 1994 16:00:00 GMT", time.Hour},
		{"99999999999999999999999", 4294967295 * time.Second},
		{"4294967296", 4294967295 * time.Second},
	}
	for _, tt := range tests {
		if got := regParseExpires(tt.in); got != tt.want {
			t.Errorf("regParseExpires(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// BenchmarkRegisterDigest is one digest-authenticated REGISTER refresh (nonce reused,
// nc increasing) through ServeRegister with a no-op store.
func BenchmarkRegisterDigest(b *testing.B) {
	clock := newTestClock()
	loc := NewLocation(nopStore{}, nil)
	loc.now = clock.Now
	auth := NewAuthenticator(AuthConfig{Realm: testRealm, Now: clock.Now, MaxNonces: 1 << 20})
	reg := NewRegistrar(RegistrarConfig{}, auth, testDir{"1001": {Number: "1001", Password: "secret-1001"}}, loc, nil, nil)
	src := netip.MustParseAddrPort("192.0.2.10:5062")
	chal := auth.Challenge(testRequest(b, "REGISTER", "sip:"+testRealm, registerHeaders("1001", "bench", 1)), false, false)

	// Requests are prepared in batches outside the timer: each needs its own nc and
	// CSeq, and b.N of them at once would not fit in memory.
	const batch = 1024
	reqs := make([]*sip.Request, 0, batch)
	prepare := func(from int) {
		reqs = reqs[:0]
		for i := from; i < from+batch; i++ {
			h := registerHeaders("1001", "bench", i+2, "Contact: <sip:1001@192.0.2.10:5062>", "Expires: 600")
			h = append(h, "Authorization: "+testAnswer(b, chal, "MD5", "1001", "secret-1001", "REGISTER", "sip:"+testRealm, i+1))
			reqs = append(reqs, testRequest(b, "REGISTER", "sip:"+testRealm, h))
		}
	}
	tx := newTestTx()
	benchInBatches(b, batch, prepare, func(i int) {
		tx.res = tx.res[:0]
		reg.ServeRegister(reqs[i%batch], tx, src, "udp")
		if tx.res[0].StatusCode != 200 {
			b.Fatalf("request %d: %d %s", i, tx.res[0].StatusCode, tx.res[0].Reason)
		}
	})
}

// TestRegisterRetransmission: a byte-identical repeat of the REGISTER that set the
// bindings (its 200 was lost) gets the same 200 again and changes nothing; the same
// Call-ID and CSeq with other credentials is still out of order, and a repeat of an
// older request is not recognised.
func TestRegisterRetransmission(t *testing.T) {
	e := newTestEnv(t)
	p := newTestPhone("1001", "secret-1001")
	if res := p.register(t, e, "Contact: <sip:a@192.0.2.1>"); res.StatusCode != 200 {
		t.Fatalf("got %d", res.StatusCode)
	}
	text := func(cseq, nc int, contact string) []string {
		h := registerHeaders("1001", p.callID, cseq, "Contact: <"+contact+">", "Expires: 600")
		return append(h, "Authorization: "+testAnswer(t, p.chal, "MD5", "1001", "secret-1001", "REGISTER", "sip:"+testRealm, nc))
	}
	first := text(p.cseq+1, p.nc+1, "sip:a@192.0.2.1")
	if res := e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, first)); res.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", res.StatusCode, res.Reason)
	}
	before := e.loc.Lookup("1001")
	e.clock.Advance(time.Second)
	res := e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, first))
	if res.StatusCode != 200 || !slices.Equal(testContacts(res), []string{"<sip:a@192.0.2.1>;expires=599"}) {
		t.Fatalf("retransmission: %d %s %q; want 200 with the binding", res.StatusCode, res.Reason, testContacts(res))
	}
	if after := e.loc.Lookup("1001"); !slices.Equal(after, before) {
		t.Errorf("retransmission changed the binding: %+v -> %+v", before, after)
	}
	// Same Call-ID and CSeq, other credentials (nc+1): not a retransmission.
	if res := e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, text(p.cseq+1, p.nc+2, "sip:a@192.0.2.1"))); res.StatusCode != 500 {
		t.Errorf("same CSeq, new credentials: %d %s; want 500 Out of Order", res.StatusCode, res.Reason)
	}
	// A newer request moves the binding on; the older one repeated is now stale.
	if res := e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, text(p.cseq+2, p.nc+3, "sip:a@192.0.2.1"))); res.StatusCode != 200 {
		t.Fatalf("next refresh: %d", res.StatusCode)
	}
	if res := e.serve(testRequest(t, "REGISTER", "sip:"+testRealm, first)); res.StatusCode == 200 {
		t.Error("an older request repeated was answered 200")
	}
}

// benchInBatches runs body(i) for i in [0, b.N), calling prepare(i) with the timer
// stopped before every batch-th iteration: each request needs its own nonce count
// and CSeq, and b.N of them at once would not fit in memory.
func benchInBatches(b *testing.B, batch int, prepare func(from int), body func(i int)) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%batch == 0 {
			b.StopTimer()
			prepare(i)
			b.StartTimer()
		}
		body(i)
	}
}
