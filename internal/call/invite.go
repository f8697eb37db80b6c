package call

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/media"
	"github.com/trunkline/trunkline/internal/model"
)

// HandleInvite runs an extension-to-extension call from the initial INVITE until it
// is answered or has failed. It blocks for the whole setup, as sipgo expects of a
// handler that owns the INVITE server transaction.
func (m *Manager) HandleInvite(req *sip.Request, tx sip.ServerTransaction, caller Caller) error {
	base := m.context()
	if base == nil || base.Err() != nil {
		return &Reject{Code: 503, Reason: "Service Unavailable"}
	}
	callee := req.Recipient.User
	if _, ok := m.deps.Directory.Extension(callee); !ok {
		return &Reject{Code: 404, Reason: "Not Found"}
	}
	contacts := m.deps.Locator.Lookup(callee)
	if len(contacts) == 0 {
		return &Reject{Code: 480, Reason: "Temporarily Unavailable"}
	}
	if len(req.Body()) == 0 {
		// Late offer (INVITE without SDP) is not bridged yet.
		return &Reject{Code: 488, Reason: "Not Acceptable Here (offer required)"}
	}
	offerA, err := media.ParseSDP(req.Body())
	if err != nil {
		return &Reject{Code: 488, Reason: "Not Acceptable Here"}
	}
	sess, err := m.deps.Media.NewSession(base)
	if err != nil {
		m.log.Warn("no media ports for a call", "error", err)
		return &Reject{Code: 503, Reason: "Service Unavailable"}
	}
	ds, err := m.dialogUA(caller.Transport).ReadInvite(req, tx)
	if err != nil {
		sess.Close()
		return err
	}
	c := &Call{
		id: strconv.FormatUint(m.seq.Add(1), 10), m: m, caller: caller, callee: callee,
		callID: req.CallID().Value(), media: sess, state: "ringing", start: m.cfg.Now(),
	}
	c.log = m.log.With("call", c.id, "call_id", c.callID, "caller", caller.Extension, "callee", callee)
	tag, _ := ds.InviteRequest.To().Params.Get("tag")
	c.a = &leg{call: c, side: media.LegA, d: ds, srv: ds, offer: offerA, origin: media.NewOrigin(),
		key: dialogKey(c.callID, tag)}
	if ct := req.Contact(); ct != nil {
		c.a.target = ct.Address
	}
	sess.SetPeer(media.LegA, offerA)
	sess.Start()

	m.active.Add(1)
	m.mu.Lock()
	m.calls[c.id] = c
	m.dialogs[c.a.key] = c.a
	m.mu.Unlock()
	c.log.Info("call started", "contacts", len(contacts))

	if err := ds.Respond(100, "Trying", nil); err != nil {
		c.finish(outcome{disp: model.DispFailed, by: model.PartySystem, cause: "respond failed: " + err.Error()})
		return nil
	}
	c.ring(req, contacts)
	return nil
}

// forkResult is how one branch of the fork ended.
type forkResult struct {
	cli *sipgo.DialogClientSession
	err error
}

// ring forks the INVITE to every contact and bridges the first answer.
func (c *Call) ring(reqA *sip.Request, contacts []model.Binding) {
	m := c.m
	ringCtx, cancel := context.WithTimeout(m.context(), m.cfg.RingTimeout)
	defer cancel()
	c.mu.Lock()
	c.ringCancel = cancel
	c.mu.Unlock()
	// The caller's CANCEL ends its dialog before answer; stop ringing then.
	callerGone := c.a.srv.Context()
	go func() {
		select {
		case <-callerGone.Done():
			cancel()
		case <-ringCtx.Done():
		}
	}()

	bodyB, _, err := media.RewriteSDP(reqA.Body(), c.media.LocalAddr(media.LegB), nil, nil)
	if err != nil {
		c.respondA(488, "Not Acceptable Here", nil)
		c.finish(outcome{disp: model.DispFailed, by: model.PartySystem, cause: "sdp: " + err.Error(), code: 488})
		return
	}
	c.b = &leg{call: c, side: media.LegB, origin: media.NewOrigin()}
	results := make(chan forkResult, len(contacts))
	forks := make([]context.CancelFunc, 0, len(contacts))
	started := 0
	var progressed progressOnce
	for _, b := range contacts {
		fctx, fcancel := context.WithCancel(ringCtx)
		forks = append(forks, fcancel)
		req, err := c.buildInviteB(reqA, b, bodyB)
		if err != nil {
			c.log.Warn("bad contact", "contact", b.Contact, "error", err)
			fcancel()
			continue
		}
		started++
		go func() {
			cli, err := m.dialogUA(b.Transport).WriteInvite(fctx, req)
			if err == nil {
				err = cli.WaitAnswer(fctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
					if res.IsProvisional() && res.StatusCode > 100 {
						c.relayProvisional(res, &progressed)
					}
					return nil
				}})
			}
			results <- forkResult{cli: cli, err: err}
		}()
	}
	defer func() {
		for _, f := range forks {
			f()
		}
	}()

	var winner *sipgo.DialogClientSession
	best := 0
	bestReason := ""
	for i := 0; i < started; i++ {
		r := <-results
		if r.err == nil {
			if winner != nil {
				// A second contact answered too: take it down (RFC 3261 §13.2.2.4).
				go hangupExtra(m.context(), r.cli)
				continue
			}
			winner = r.cli
			for _, f := range forks {
				f() // CANCEL the other branches
			}
			continue
		}
		var de *sipgo.ErrDialogResponse
		if errors.As(r.err, &de) {
			if better(de.Res.StatusCode, best) {
				best, bestReason = de.Res.StatusCode, de.Res.Reason
			}
		}
		if r.cli != nil {
			r.cli.Close()
		}
	}
	if winner != nil {
		c.bridge(winner)
		return
	}
	c.fail(ringCtx, best, bestReason, started)
}

// fail answers the caller after every branch failed.
func (c *Call) fail(ringCtx context.Context, best int, reason string, started int) {
	c.mu.Lock()
	forced := c.finalCode
	c.mu.Unlock()
	switch {
	case c.a.srv.Context().Err() != nil:
		// The caller cancelled; sipgo answered 487 to its INVITE.
		c.finish(outcome{disp: model.DispCancelled, by: model.PartyCaller, cause: "CANCEL", code: 487})
	case forced != 0:
		c.respondA(forced, "Service Unavailable", nil)
		c.finish(outcome{disp: model.DispFailed, by: model.PartySystem, cause: "shutdown", code: forced})
	case errors.Is(ringCtx.Err(), context.DeadlineExceeded):
		c.respondA(480, "Temporarily Unavailable", nil)
		c.finish(outcome{disp: model.DispNoAnswer, by: model.PartySystem, cause: "ring timeout", code: 480})
	case best == 0:
		code, cause := 480, "no contact answered"
		if started == 0 {
			cause = "no usable contact"
		}
		c.respondA(code, "Temporarily Unavailable", nil)
		c.finish(outcome{disp: model.DispFailed, by: model.PartySystem, cause: cause, code: code})
	default:
		c.respondA(best, reason, nil)
		c.finish(outcome{disp: disposition(best), by: model.PartyCallee, cause: strconv.Itoa(best) + " " + reason, code: best})
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
	c.mu.Lock()
	c.answered = m.cfg.Now()
	c.state = "answered"
	c.finalCode = 200
	c.mu.Unlock()
	c.log.Info("call answered")
	// RespondSDP retransmits the 2xx until the caller's ACK arrives (RFC 3261 §13.3.1.4).
	if err := c.a.srv.WriteResponse(sdpResponse(c.a.srv.InviteRequest, 200, "OK", answerA)); err != nil {
		c.log.Warn("caller did not take the answer", "error", err)
		_ = cli.Bye(ctx)
		c.finish(outcome{disp: model.DispFailed, by: model.PartyCaller, cause: "no ACK: " + err.Error()})
	}
}

// answerFor rewrites the SDP that leg src sent, for sending to leg dst, remembering
// src's media address. The codecs are those both sides accept.
func (c *Call) answerFor(dst, src *leg, body []byte) ([]byte, error) {
	offer, err := media.ParseSDP(body)
	if err != nil {
		return nil, err
	}
	src.offer = offer
	c.media.SetPeer(src.side, offer)
	out, _, err := media.RewriteSDP(body, c.media.LocalAddr(dst.side), media.Intersect(dst.offer, offer), dst.origin)
	return out, err
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

// respondA answers the caller's INVITE.
func (c *Call) respondA(code int, reason string, body []byte) {
	var err error
	if body != nil {
		err = c.a.srv.WriteResponse(sdpResponse(c.a.srv.InviteRequest, code, reason, body))
	} else {
		err = c.a.srv.Respond(code, reason, nil)
	}
	if err != nil {
		c.log.Debug("respond to caller failed", "code", code, "error", err)
	}
	if code >= 200 {
		c.mu.Lock()
		c.finalCode = code
		c.mu.Unlock()
	}
}

func sdpResponse(req *sip.Request, code int, reason string, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, body)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	return res
}

// buildInviteB makes the INVITE towards one registered contact of the callee.
func (c *Call) buildInviteB(reqA *sip.Request, b model.Binding, body []byte) (*sip.Request, error) {
	var target sip.Uri
	if err := sip.ParseUri(b.Contact, &target); err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.INVITE, target)
	host := c.m.deps.Contact.Address.Host
	from := &sip.FromHeader{DisplayName: reqA.From().DisplayName,
		Address: sip.Uri{Scheme: "sip", User: c.caller.Extension, Host: host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: c.callee, Host: host}, Params: sip.NewParams()})
	mf := sip.MaxForwardsHeader(70)
	if h := reqA.MaxForwards(); h != nil {
		mf = sip.MaxForwardsHeader(h.Val() - 1) // RFC 3261 §16.6 step 3; 0 was refused at the edge
	}
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if h := reqA.GetHeader("Allow"); h != nil {
		req.AppendHeader(sip.NewHeader("Allow", h.Value()))
	}
	req.SetBody(body)
	if b.Transport != "" {
		req.SetTransport(strings.ToUpper(b.Transport))
	}
	if dst := natDestination(target, b.Source); dst != "" {
		req.SetDestination(dst)
	}
	return req, nil
}

// natDestination decides where requests to a registered contact go. When the
// Contact's host is the address the REGISTER came from, the phone is reachable as it
// says (its port may differ from the REGISTER's source port: SIPp, some desk phones).
// Otherwise the phone is behind NAT and only the REGISTER's source address reaches it
// (as Kamailio's fix_nated_register does); "" keeps the Contact.
func natDestination(contact sip.Uri, source string) string {
	src, err := netip.ParseAddrPort(source)
	if err != nil {
		return ""
	}
	if ip, err := netip.ParseAddr(contact.Host); err == nil && ip.Unmap() == src.Addr().Unmap() {
		return ""
	}
	return source
}

// hangupExtra ends a second 2xx of a forked INVITE: ACK, then BYE.
func hangupExtra(ctx context.Context, cli *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = cli.Ack(ctx)
	_ = cli.Bye(ctx)
}

// better orders final responses of forked branches (RFC 3261 §16.7 step 6, as
// proxies apply it): 6xx beats everything, then 486 Busy, then the lowest class.
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

func disposition(code int) model.Disposition {
	switch code {
	case 486, 600:
		return model.DispBusy
	case 408, 480, 487:
		return model.DispNoAnswer
	}
	return model.DispFailed
}
