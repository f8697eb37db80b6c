package call

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/routing"
)

// branch is one INVITE towards leg B: a registered contact or a trunk.
type branch struct {
	req  *sip.Request
	ua   *sipgo.DialogUA
	auth sipgo.AnswerOptions // credentials for a provider's 401/407
}

// attempt is how a target failed.
type attempt struct {
	code       int
	reason     string
	cause      string
	ringing    bool // a 180/183 arrived: never fail over after that
	timeout    bool // no response at all within the INVITE timeout
	transport  bool // the request could not be sent
	fromUs     bool // we gave up (timeout), the peer did not answer
	retryAfter time.Duration
}

type forkOutcome struct {
	winner *sipgo.DialogClientSession
	attempt
}

type forkResult struct {
	cli *sipgo.DialogClientSession
	err error
}

// defaultFailoverCodes are the final responses after which the next trunk is tried
// (sip-facts.md "Failover").
var defaultFailoverCodes = []int{408, 480, 500, 502, 503, 504}

// failoverAllowed applies the rule users expect: fail over on transport errors,
// timeouts and the trunk's failover codes, never after the callee rang and never on
// a credentials problem or a final answer about the number or the callee.
func failoverAllowed(t model.Trunk, a attempt) bool {
	if a.ringing {
		return false
	}
	if a.timeout || a.transport {
		return true
	}
	codes := t.FailoverCodes
	if len(codes) == 0 {
		codes = defaultFailoverCodes
	}
	return slices.Contains(codes, a.code)
}

// fork sends every branch at once and returns the first answer, or how they all
// failed. For a trunk target (tr non-nil) a branch without any response within the
// trunk's INVITE timeout counts as failed at once; its goroutine is left to finish
// (CANCEL needs a provisional first) and any late answer is hung up.
func (c *Call) fork(ringCtx context.Context, branches []branch, tr *model.Trunk) forkOutcome {
	m := c.m
	results := make(chan forkResult, len(branches))
	cancels := make([]context.CancelFunc, 0, len(branches))
	var ringing, responded atomic.Bool
	var progressed progressOnce
	var lastRetry atomic.Int64
	for _, b := range branches {
		fctx, fcancel := context.WithCancel(ringCtx)
		cancels = append(cancels, fcancel)
		go func() {
			cli, err := b.ua.WriteInvite(fctx, b.req)
			if err == nil {
				opts := b.auth
				opts.OnResponse = func(res *sip.Response) error {
					responded.Store(true)
					if res.IsProvisional() && res.StatusCode > 100 {
						ringing.Store(true)
						c.relayProvisional(res, &progressed)
					}
					if h := res.GetHeader("Retry-After"); h != nil && res.StatusCode == 503 {
						lastRetry.Store(int64(retryAfter(h.Value())))
					}
					return nil
				}
				err = cli.WaitAnswer(fctx, opts)
			}
			results <- forkResult{cli: cli, err: err}
		}()
	}
	stopAll := func() {
		for _, f := range cancels {
			f()
		}
	}
	var timeout <-chan time.Time
	if tr != nil {
		d := time.Duration(tr.InviteTimeoutMS) * time.Millisecond
		if d <= 0 {
			d = 2 * time.Second
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}

	out := forkOutcome{}
	best := 0
	pending := len(branches)
	for pending > 0 {
		select {
		case <-timeout:
			timeout = nil
			if responded.Load() {
				continue // the trunk answered (100 Trying or more): wait for its final answer
			}
			stopAll()
			go drainLate(m.context(), results, pending)
			out.attempt = attempt{code: 408, reason: "Request Timeout", cause: "no response from trunk within invite timeout", timeout: true, fromUs: true}
			return out
		case r := <-results:
			pending--
			if r.err == nil {
				if out.winner != nil {
					go hangupExtra(m.context(), r.cli) // a second answer of a forked INVITE (RFC 3261 §13.2.2.4)
					continue
				}
				out.winner = r.cli
				stopAll() // CANCEL the other branches
				continue
			}
			var de *sipgo.ErrDialogResponse
			switch {
			case errors.As(r.err, &de):
				if better(de.Res.StatusCode, best) {
					best = de.Res.StatusCode
					out.code, out.reason = de.Res.StatusCode, de.Res.Reason
				}
			case out.code == 0 && ringCtx.Err() == nil:
				// No final response: transport error or transaction timeout (Timer B).
				out.transport = !errors.Is(r.err, sip.ErrTransactionTimeout)
				out.timeout = !out.transport
				out.cause = r.err.Error()
				out.fromUs = true
			}
			if r.cli != nil {
				r.cli.Close()
			}
		}
	}
	stopAll()
	if out.winner != nil {
		return forkOutcome{winner: out.winner}
	}
	out.ringing = ringing.Load()
	out.retryAfter = time.Duration(lastRetry.Load())
	if out.timeout && out.code == 0 {
		out.code, out.reason = 408, "Request Timeout"
	}
	return out
}

// drainLate collects branches abandoned after the INVITE timeout and hangs up any
// that answered after all.
func drainLate(ctx context.Context, results <-chan forkResult, n int) {
	for ; n > 0; n-- {
		r := <-results
		if r.err == nil {
			hangupExtra(ctx, r.cli)
		} else if r.cli != nil {
			r.cli.Close()
		}
	}
}

// bridge completes the call with the branch that answered: ACK it, answer the
// caller with our SDP and wait for the caller's ACK.
func (c *Call) bridge(cli *sipgo.DialogClientSession) {
	m := c.m
	res := cli.InviteResponse
	c.b.cli, c.b.d = cli, cli
	if ct := res.Contact(); ct != nil {
		c.b.target = ct.Address
	}
	from := cli.InviteRequest.From()
	tag, _ := from.Params.Get("tag")
	c.b.key = dialogKey(cli.InviteRequest.CallID().Value(), tag)
	m.addDialog(c.b.key, c.b)

	ctx, cancel := context.WithTimeout(context.WithoutCancel(m.context()), 32*time.Second)
	defer cancel()
	if err := cli.Ack(ctx); err != nil {
		c.log.Warn("ack to callee failed", "error", err)
	}
	answerA, err := c.answerFor(c.a, c.b, res.Body())
	if err != nil {
		c.log.Warn("callee answer unusable", "error", err)
		_ = cli.Bye(ctx)
		c.respondA(488, "Not Acceptable Here", nil)
		c.finish(outcome{disp: model.DispFailed, by: model.PartySystem, cause: "sdp: " + err.Error(), code: 488})
		return
	}
	// The extension that answered (a ring group has several) now has a call. Counted
	// outside c.mu: Manager.Active locks m.mu, then c.mu.
	answeredBy := cli.InviteRequest.To().Address.User
	_, isExt := c.snap.Extension(answeredBy) // a trunk's callee is a phone number
	if isExt {
		m.takeExtension(c.snap, answeredBy, true)
	}
	c.mu.Lock()
	c.answered = m.cfg.Now()
	c.state = "answered"
	c.finalCode = 200
	if isExt {
		c.exts = append(c.exts, answeredBy)
		c.callee = answeredBy
	}
	c.mu.Unlock()
	c.log.Info("call answered")
	c.limitDuration()
	// WriteResponse retransmits the 2xx until the caller's ACK (RFC 3261 §13.3.1.4).
	if err := c.a.srv.WriteResponse(sdpResponse(c.a.srv.InviteRequest, 200, "OK", answerA)); err != nil {
		c.log.Warn("caller did not take the answer", "error", err)
		_ = cli.Bye(ctx)
		c.finish(outcome{disp: model.DispFailed, by: model.PartyCaller, cause: "no ACK: " + err.Error()})
	}
}

// limitDuration hangs the call up after the shortest max_call_seconds of the trunks
// it uses (toll-fraud and runaway-call protection).
func (c *Call) limitDuration() {
	c.mu.Lock()
	names := append([]string{c.trunk}, c.trunks...)
	c.mu.Unlock()
	limit := 0
	for _, n := range names {
		if t, ok := c.snap.Trunk(n); ok && t.MaxCallSecs > 0 && (limit == 0 || t.MaxCallSecs < limit) {
			limit = t.MaxCallSecs
		}
	}
	if limit == 0 {
		return
	}
	timer := time.AfterFunc(time.Duration(limit)*time.Second, func() {
		c.log.Info("call reached max_call_seconds", "seconds", limit)
		c.abort(model.PartySystem, "max_call_seconds reached")
	})
	c.mu.Lock()
	c.stopTimers = append(c.stopTimers, func() { timer.Stop() })
	c.mu.Unlock()
}

// relayProvisional passes 180/183 to the caller; the first one with SDP sets up
// early media through the relay.
func (c *Call) relayProvisional(res *sip.Response, once *progressOnce) {
	if len(res.Body()) > 0 && once.takeMedia() {
		if body, err := c.answerFor(c.a, c.b, res.Body()); err == nil {
			c.respondA(res.StatusCode, res.Reason, body)
			return
		}
	}
	if once.takeRing(res.StatusCode) {
		c.respondA(res.StatusCode, res.Reason, nil)
	}
}

// buildInviteB makes the INVITE towards one registered contact of an extension.
func (c *Call) buildInviteB(reqA *sip.Request, t routing.Target, b model.Binding, body []byte) (*sip.Request, error) {
	var target sip.Uri
	if err := sip.ParseUri(b.Contact, &target); err != nil {
		return nil, err
	}
	host := c.m.deps.Contact.Address.Host
	callerID := t.CallerID
	if callerID == "" {
		callerID = reqA.From().Address.User
	}
	req := c.newInvite(reqA, target, sip.Uri{Scheme: "sip", User: callerID, Host: host},
		reqA.From().DisplayName, sip.Uri{Scheme: "sip", User: t.Number, Host: host}, body)
	if b.Transport != "" {
		req.SetTransport(strings.ToUpper(b.Transport))
	}
	if dst := natDestination(target, b.Source); dst != "" {
		req.SetDestination(dst)
	}
	return req, nil
}

// newInvite builds an initial INVITE of leg B with the headers both kinds of target
// share.
func (c *Call) newInvite(reqA *sip.Request, ruri, from sip.Uri, display string, to sip.Uri, body []byte) *sip.Request {
	req := newRequest(sip.INVITE, ruri, from, display, to)
	mf := sip.MaxForwardsHeader(70)
	if h := reqA.MaxForwards(); h != nil {
		mf = sip.MaxForwardsHeader(h.Val() - 1) // RFC 3261 §16.6 step 3; 0 was refused at the edge
	}
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, MESSAGE, NOTIFY"))
	req.SetBody(body)
	return req
}

// newRequest starts an out-of-dialog request that Trunkline originates: From with a
// fresh tag, To without one.
func newRequest(method sip.RequestMethod, ruri, from sip.Uri, display string, to sip.Uri) *sip.Request {
	req := sip.NewRequest(method, ruri)
	fh := &sip.FromHeader{DisplayName: display, Address: from, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(fh)
	req.AppendHeader(&sip.ToHeader{Address: to, Params: sip.NewParams()})
	return req
}

// hangupExtra ends a second 2xx of a forked INVITE: ACK, then BYE.
func hangupExtra(ctx context.Context, cli *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = cli.Ack(ctx)
	_ = cli.Bye(ctx)
}

// better orders final responses of forked branches (RFC 3261 §16.7 step 6, as
// proxies apply it): 6xx beats everything, then 486 Busy, then the lowest code.
func better(code, than int) bool {
	rank := func(c int) int {
		switch {
		case c == 0:
			return 1 << 20
		case c >= 600:
			return 0
		case c == 486:
			return 1
		default:
			return c
		}
	}
	return rank(code) < rank(than)
}
