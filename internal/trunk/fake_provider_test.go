package trunk

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// regRecord is one distinct REGISTER the fake provider saw.
type regRecord struct {
	at      time.Time
	callID  string
	cseq    uint32
	expires int
	authed  bool // carried credentials
	user    string
	contact string // Contact user
}

// fakeProvider is a small registrar and OPTIONS responder on 127.0.0.1 built
// with sipgo. It challenges with digest (checked with icholy/digest), answers
// 423 once on cue and goes silent on cue.
type fakeProvider struct {
	t    *testing.T
	addr string
	port int
	ua   *sipgo.UserAgent

	mu          sync.Mutex
	user, pass  string
	realm, alg  string
	wrongCode   int // response to bad credentials: 401 (default) or 403
	minExpires  int // > 0: answer 423 once to a shorter expiry
	sent423     bool
	silent      bool // drop everything
	silentOpts  bool // drop OPTIONS only
	grant       int  // > 0: grant at most this lifetime
	seen        map[string]bool
	regs        []regRecord
	options     int
	nonceSerial int
}

func newFakeProvider(t *testing.T, user, pass string) *fakeProvider {
	t.Helper()
	p := &fakeProvider{t: t, user: user, pass: pass, realm: "fake.test", alg: "MD5", wrongCode: 401, seen: map[string]bool{}}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("fake-provider"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnRegister(p.onRegister)
	srv.OnOptions(p.onOptions)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.ua, p.addr = ua, conn.LocalAddr().String()
	p.port = conn.LocalAddr().(*net.UDPAddr).Port
	go srv.ServeUDP(conn)
	t.Cleanup(func() { ua.Close(); conn.Close() })
	return p
}

func (p *fakeProvider) set(f func(p *fakeProvider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *fakeProvider) records() []regRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]regRecord(nil), p.regs...)
}

func (p *fakeProvider) optionsCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.options
}

// attempts returns the REGISTERs without credentials (one per attempt) with
// expires > 0, optionally only those of a user.
func (p *fakeProvider) attempts(user string) []regRecord {
	var out []regRecord
	for _, r := range p.records() {
		if !r.authed && r.expires > 0 && (user == "" || r.user == user) {
			out = append(out, r)
		}
	}
	return out
}

func (p *fakeProvider) unregisters(user string) int {
	n := 0
	for _, r := range p.records() {
		if r.authed && r.expires == 0 && (user == "" || r.user == user) {
			n++
		}
	}
	return n
}

func (p *fakeProvider) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	silent := p.silent || p.silentOpts
	key := req.CallID().Value()
	if !p.seen[key] {
		p.seen[key] = true
		p.options++
	}
	p.mu.Unlock()
	if silent {
		return
	}
	tx.Respond(sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)) // any answer means reachable
}

func (p *fakeProvider) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	p.mu.Lock()
	defer p.mu.Unlock()
	expires := 3600
	if h := req.GetHeader("Expires"); h != nil {
		expires, _ = strconv.Atoi(h.Value())
	}
	auth := req.GetHeader("Authorization")
	key := fmt.Sprintf("%s/%d", req.CallID().Value(), req.CSeq().SeqNo)
	if !p.seen[key] {
		p.seen[key] = true
		p.regs = append(p.regs, regRecord{at: time.Now(), callID: req.CallID().Value(), cseq: req.CSeq().SeqNo,
			expires: expires, authed: auth != nil, user: req.From().Address.User, contact: req.Contact().Address.User})
	}
	if p.silent {
		return
	}
	if auth == nil {
		p.challenge(req, tx, 401)
		return
	}
	cred, err := digest.ParseCredentials(auth.Value())
	if err != nil || !p.verify(cred) {
		if p.wrongCode == 401 {
			p.challenge(req, tx, 401)
		} else {
			tx.Respond(sip.NewResponseFromRequest(req, p.wrongCode, "Forbidden", nil))
		}
		return
	}
	if p.minExpires > 0 && expires > 0 && expires < p.minExpires && !p.sent423 {
		p.sent423 = true
		res := sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
		res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(p.minExpires)))
		tx.Respond(res)
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if expires > 0 {
		g := expires
		if p.grant > 0 {
			g = min(g, p.grant)
		}
		c := req.Contact().Clone()
		c.Params = sip.NewParams()
		c.Params.Add("expires", strconv.Itoa(g))
		res.AppendHeader(sip.NewHeader("Contact", "<sip:other@192.0.2.1>;expires=999"))
		res.AppendHeader(c)
	}
	tx.Respond(res)
}

func (p *fakeProvider) challenge(req *sip.Request, tx sip.ServerTransaction, code int) {
	p.nonceSerial++
	chal := digest.Challenge{Realm: p.realm, Nonce: fmt.Sprintf("n%08d", p.nonceSerial), Algorithm: p.alg, QOP: []string{"auth"}}
	res := sip.NewResponseFromRequest(req, code, "Unauthorized", nil)
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal.String()))
	tx.Respond(res)
}

// verify checks digest credentials against our user and password.
func (p *fakeProvider) verify(cred *digest.Credentials) bool {
	if cred.Username != p.user || cred.Realm != p.realm {
		return false
	}
	chal := &digest.Challenge{Realm: p.realm, Nonce: cred.Nonce, Algorithm: p.alg, QOP: []string{"auth"}}
	want, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: cred.URI, Username: p.user,
		Password: p.pass, Cnonce: cred.Cnonce, Count: cred.Nc})
	return err == nil && want.Response == cred.Response
}

// ourSide is Trunkline's SIP side for tests: a sipgo UA listening on
// 127.0.0.1 with a client that sends from the listening socket.
type ourSide struct {
	client *sipgo.Client
	port   int
}

func newOurSide(t *testing.T) ourSide {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("trunkline-test"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeUDP(conn)
	// The client sends from the listener only once sipgo has pooled it;
	// before that it would try to bind the same port again.
	laddr := conn.LocalAddr().String()
	eventually(t, 2*time.Second, "listener pooled", func() bool {
		c, err := ua.TransportLayer().GetConnection("udp", laddr)
		if err == nil {
			c.TryClose() // drop the reference GetConnection took
		}
		return err == nil
	})
	client, err := sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(laddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close(); conn.Close() })
	return ourSide{client: client, port: conn.LocalAddr().(*net.UDPAddr).Port}
}

// testConfig returns a Config with fast timers for in-process tests.
func testConfig(t *testing.T, s ourSide) Config {
	lvl := slog.LevelWarn
	if os.Getenv("TRUNK_TEST_LOG") != "" {
		lvl = slog.LevelDebug
	}
	return Config{
		Client:             s.client,
		ContactHost:        "127.0.0.1",
		ContactPort:        s.port,
		Log:                slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})),
		BackoffMin:         200 * time.Millisecond,
		BackoffMax:         time.Second,
		AuthFailBackoff:    400 * time.Millisecond,
		AuthFailBackoffMax: 1600 * time.Millisecond,
		RequestTimeout:     600 * time.Millisecond,
		ShutdownTimeout:    time.Second,
	}
}

// startManager runs m until the test ends; the returned stop cancels Run and
// waits for it.
func startManager(t *testing.T, m *Manager) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
