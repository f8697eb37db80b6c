package trunk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

var (
	errNoClient    = errors.New("trunk: no SIP client for transport")
	errNoUsername  = errors.New("trunk: no username to register")
	errRealm       = errors.New("trunk: challenge realm differs from the configured realm")
	errNoChallenge = errors.New("trunk: no usable digest challenge")
)

// regSession is one registration session (RFC 3261 §10.2.4): a Call-ID and
// From tag kept for every REGISTER the trunk's runner sends, and a CSeq that
// increases by one with each of them (refreshes, challenge answers,
// un-REGISTER). A restart of the runner starts a new session.
type regSession struct {
	callID  string
	fromTag string
	cseq    uint32
	// expires is the lifetime we ask for: RegisterExpiry, raised by a 423's
	// Min-Expires (§10.2.8) for the rest of the session.
	expires int

	// chal is the digest challenge being answered, and nc its nonce count.
	chal  *digest.Challenge
	proxy bool // chal came in Proxy-Authenticate (407)
	nc    int
}

func newRegSession(expires int) regSession {
	return regSession{
		callID:  sip.GenerateTagN(24),
		fromTag: sip.GenerateTagN(16),
		expires: expires,
	}
}

// register runs one registration attempt and returns the wait before the next
// one: the refresh delay after success, else the back-off.
func (r *runner) register(ctx context.Context) time.Duration {
	r.reg.start()
	r.publish()
	o := r.attempt(ctx)
	if ctx.Err() != nil {
		r.registered = true // a REGISTER may have landed; un-REGISTER to be sure
		return 0
	}
	w := r.reg.apply(r.cfg.Now(), o)
	lvl := "registered"
	if o.kind != outcomeOK {
		lvl = "register failed"
	}
	r.log.Debug("trunk: "+lvl, "code", o.code, "reason", o.reason, "next_in", w)
	r.publish()
	return w
}

// attempt sends REGISTER to the current target; on a timeout or transport
// error it fails over to the next target (RFC 3263 §4.3), each tried once.
// A target that answers, whatever the answer, is kept.
func (r *runner) attempt(ctx context.Context) outcome {
	if r.t.Username == "" {
		return outcome{kind: outcomeAuth, reason: errNoUsername.Error()}
	}
	if len(r.targets) == 0 || r.cfg.Now().Sub(r.resolvedAt) >= r.cfg.ResolveInterval {
		r.resolve(ctx)
	}
	if len(r.targets) == 0 {
		return outcome{kind: outcomeTransient, reason: "no address for " + r.host}
	}
	var last outcome
	for range len(r.targets) {
		tg := r.targets[r.cur]
		o, failover := r.registerAt(ctx, tg, r.sess.expires)
		if !failover || ctx.Err() != nil {
			if o.code == 503 || o.code == 408 {
				r.next() // RFC 3263 §4.3: next server on 503; 408 likewise
			}
			return o
		}
		r.log.Debug("trunk: REGISTER failed, failing over", "target", tg.Addr, "error", o.reason)
		last = o
		r.next()
	}
	r.resolvedAt = time.Time{} // every target failed: look them up again next time
	return last
}

// next moves to the next target.
func (r *runner) next() {
	if len(r.targets) > 1 {
		r.cur = (r.cur + 1) % len(r.targets)
		r.publish()
	}
}

// unregister removes our binding (RFC 3261 §10.2.2: Expires 0) at the
// target that holds it.
func (r *runner) unregister(ctx context.Context) {
	tg := r.targets[r.cur]
	o, _ := r.registerAt(ctx, tg, 0)
	if o.kind == outcomeOK {
		r.registered = false
		r.log.Debug("trunk: unregistered", "target", tg.Addr)
		return
	}
	r.log.Warn("trunk: un-REGISTER failed", "target", tg.Addr, "code", o.code, "reason", o.reason)
}

// Attempt limits within one registerAt: at most two Min-Expires bumps and one
// stale-nonce retry; the loop bound covers them all.
const (
	maxMinExpiresBumps = 2
	maxRegisterSteps   = 6
)

// registerAt sends one REGISTER to tg and follows it through digest
// challenges (401 WWW-Authenticate and 407 Proxy-Authenticate, MD5 or
// SHA-256, RFC 3261 §22.2 and RFC 8760) and 423 Interval Too Brief (§10.2.8:
// retry at once with Min-Expires). expires 0 is an un-REGISTER. failover is
// true when tg did not answer at all.
func (r *runner) registerAt(ctx context.Context, tg Target, expires int) (o outcome, failover bool) {
	r.sess.chal = nil
	afterCreds, staleRetried, bumps := false, false, 0
	for range maxRegisterSteps {
		req, err := r.buildRegister(tg, expires)
		if err != nil {
			return outcome{kind: outcomeAuth, code: 0, reason: err.Error()}, false
		}
		res, err := r.do(ctx, tg, req, r.cfg.RequestTimeout)
		if err != nil {
			return outcome{kind: outcomeTransient, reason: fmt.Sprintf("REGISTER to %s: %v", tg.Addr, err)}, true
		}
		code := res.StatusCode
		switch {
		case code >= 200 && code < 300:
			if expires == 0 {
				return outcome{kind: outcomeOK, code: code, reason: res.Reason}, false
			}
			r.registered = true
			g := grantedExpiry(res, r.contactUser, expires)
			if g <= 0 {
				return outcome{kind: outcomeTransient, code: code, reason: "registrar granted no lifetime"}, false
			}
			return outcome{kind: outcomeOK, code: code, reason: res.Reason, granted: time.Duration(g) * time.Second}, false
		case code == 401 || code == 407:
			chal, err := pickChallenge(res, r.t.Realm)
			if err != nil {
				return outcome{kind: outcomeAuth, code: code, reason: res.Reason + ": " + err.Error()}, false
			}
			if afterCreds && !(chal.Stale && !staleRetried) {
				r.registered = false
				return outcome{kind: outcomeAuth, code: code, reason: res.Reason}, false
			}
			staleRetried = staleRetried || afterCreds
			r.sess.chal, r.sess.proxy, r.sess.nc = chal, code == 407, 0
			afterCreds = true
		case code == 423 && expires > 0:
			me, ok := minExpires(res)
			if !ok || me <= expires || bumps >= maxMinExpiresBumps {
				return outcome{kind: outcomeTransient, code: code, reason: res.Reason}, false
			}
			bumps++
			expires = me
			r.sess.expires = me
			r.log.Info("trunk: registrar asks a longer expiry", "min_expires", me)
		default:
			o := outcome{kind: classifyStatus(code, afterCreds), code: code, reason: res.Reason}
			o.hold, _ = retryAfter(res)
			if o.kind == outcomeAuth {
				r.registered = false
			}
			return o, false
		}
	}
	return outcome{kind: outcomeTransient, reason: "REGISTER: too many challenges"}, false
}

// buildRegister builds a REGISTER of the session (RFC 3261 §10.2): the
// Request-URI names the registrar's domain, To and From carry the AOR
// sip:Username@Host, Contact our address with the trunk's Contact user, and
// Via our advertised address with rport (RFC 3581) so the reply follows the
// NAT binding. When a challenge is pending its answer is added.
func (r *runner) buildRegister(tg Target, expires int) (*sip.Request, error) {
	ruri := sip.Uri{Scheme: "sip", Host: r.host, Port: r.t.Port}
	if r.set.transport != "udp" {
		ruri.UriParams = sip.NewParams()
		ruri.UriParams.Add("transport", r.set.transport)
	}
	req := sip.NewRequest(sip.REGISTER, ruri)
	r.addCommon(req, tg)
	aor := sip.Uri{Scheme: "sip", User: r.t.Username, Host: r.host}
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", r.sess.fromTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	callID := sip.CallIDHeader(r.sess.callID)
	req.AppendHeader(&callID)
	r.sess.cseq++
	req.AppendHeader(&sip.CSeqHeader{SeqNo: r.sess.cseq, MethodName: sip.REGISTER})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(r.contact())
	exp := sip.ExpiresHeader(uint32(expires))
	req.AppendHeader(&exp)
	if r.sess.chal != nil {
		r.sess.nc++
		cred, err := digest.Digest(r.sess.chal, digest.Options{
			Method:   "REGISTER",
			URI:      ruri.String(),
			Username: r.t.DigestUser(),
			Password: r.t.Password,
			Count:    r.sess.nc,
		})
		if err != nil {
			return nil, fmt.Errorf("trunk: digest: %w", err)
		}
		name := "Authorization"
		if r.sess.proxy {
			name = "Proxy-Authorization"
		}
		req.AppendHeader(sip.NewHeader(name, cred.String()))
	}
	req.SetBody(nil)
	return req, nil
}

// addCommon adds Via (our advertised address, a fresh branch, rport per
// RFC 3581) and, with an outbound proxy, a loose Route to it (RFC 3261
// §8.1.2).
func (r *runner) addCommon(req *sip.Request, tg Target) {
	via := &sip.ViaHeader{
		ProtocolName:    "SIP",
		ProtocolVersion: "2.0",
		Transport:       sip.NetworkToUpper(tg.Transport),
		Host:            r.cfg.ContactHost,
		Port:            r.cfg.ContactPort,
		Params:          sip.NewParams(),
	}
	via.Params.Add("branch", sip.GenerateBranchN(16))
	via.Params.Add("rport", "")
	req.AppendHeader(via)
	if r.t.OutboundProxy != "" {
		if h, p, err := splitHostPort(r.t.OutboundProxy); err == nil {
			u := sip.Uri{Scheme: "sip", Host: h, Port: p, UriParams: sip.NewParams()}
			if tg.Transport != "udp" {
				u.UriParams.Add("transport", tg.Transport)
			}
			u.UriParams.Add("lr", "")
			req.AppendHeader(&sip.RouteHeader{Address: u})
		}
	}
}

// contact is our Contact: sip:<ContactUser>@ContactHost:ContactPort;transport=…
func (r *runner) contact() *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: r.contactUser, Host: r.cfg.ContactHost, Port: r.cfg.ContactPort, UriParams: sip.NewParams()}
	u.UriParams.Add("transport", r.set.transport)
	return &sip.ContactHeader{Address: u}
}

// pickChallenge returns the strongest digest challenge of a 401 or 407 that
// we can answer (SHA-512-256, then SHA-256, then MD5: RFC 8760 §2.4 lets the
// UAC pick), in the configured realm if one is set.
func pickChallenge(res *sip.Response, realm string) (*digest.Challenge, error) {
	name := "WWW-Authenticate"
	if res.StatusCode == 407 {
		name = "Proxy-Authenticate"
	}
	var best *digest.Challenge
	bestRank, realmMiss := -1, false
	for _, h := range res.GetHeaders(name) {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			continue
		}
		c.Algorithm = strings.ToUpper(strings.TrimSpace(c.Algorithm))
		for i := range c.QOP {
			c.QOP[i] = strings.TrimSpace(c.QOP[i])
		}
		if !digest.CanDigest(c) {
			continue
		}
		if realm != "" && c.Realm != realm {
			realmMiss = true
			continue
		}
		if rank := algRank(c.Algorithm); rank > bestRank {
			best, bestRank = c, rank
		}
	}
	switch {
	case best != nil:
		return best, nil
	case realmMiss:
		return nil, errRealm
	default:
		return nil, errNoChallenge
	}
}

func algRank(alg string) int {
	switch alg {
	case "SHA-512-256":
		return 3
	case "SHA-256":
		return 2
	case "", "MD5":
		return 1
	default:
		return 0
	}
}
