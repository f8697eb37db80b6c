package call

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/media"
	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/routing"
)

// HandleInvite runs a call from the initial INVITE until it is answered or has
// failed. It blocks for the whole setup, as sipgo expects of a handler that owns the
// INVITE server transaction.
func (m *Manager) HandleInvite(req *sip.Request, tx sip.ServerTransaction, caller Caller) error {
	base := m.context()
	if base == nil || base.Err() != nil {
		return &Reject{Code: 503, Reason: "Service Unavailable"}
	}
	snap := m.deps.Routes.Load()
	rr := routing.Request{FromExtension: caller.Extension, FromTrunk: caller.Trunk,
		Dialed: req.Recipient.User, CallerNumber: req.From().Address.User, Now: m.cfg.Now()}
	var inTrunk model.Trunk
	if caller.Trunk != "" {
		var ok bool
		if inTrunk, ok = snap.Trunk(caller.Trunk); !ok || m.deps.Trunks == nil {
			return &Reject{Code: 403, Reason: "Forbidden"}
		}
		rr.Dialed = didOf(req, inTrunk, m.deps.Trunks.ContactUser(caller.Trunk))
	}
	dec := snap.Route(rr)
	// refuse answers a call that never started ringing, and records it: a refused
	// call is a failed call to the administrator (one CDR per call).
	refuse := func(code int, cause string) error {
		m.log.Info("call refused", "caller", caller.name(), "dialed", rr.Dialed, "code", code, "reason", cause)
		m.writeRefusedCDR(req, caller, rr.Dialed, dec.Direction, code, cause)
		return &Reject{Code: code, Reason: reasonPhrase(code)}
	}
	if dec.RejectCode != 0 {
		return refuse(dec.RejectCode, dec.Reason)
	}
	emergency := len(dec.Targets) > 0 && dec.Targets[0].Emergency
	if caller.Trunk != "" && !m.deps.Trunks.Acquire(caller.Trunk) {
		return refuse(503, "trunk "+caller.Trunk+" at its call limit")
	}
	if caller.Extension != "" && !m.takeExtension(snap, caller.Extension, emergency) {
		if caller.Trunk != "" {
			m.deps.Trunks.Release(caller.Trunk)
		}
		return refuse(403, "extension "+caller.Extension+" at its call limit")
	}
	release := func() {
		if caller.Trunk != "" {
			m.deps.Trunks.Release(caller.Trunk)
		}
		if caller.Extension != "" {
			m.releaseExtension(caller.Extension)
		}
	}
	if len(req.Body()) == 0 {
		release()
		// Late offer (INVITE without SDP) is not bridged yet.
		return refuse(488, "INVITE without SDP offer (late offer) is not supported")
	}
	offerA, err := media.ParseSDP(req.Body())
	if err != nil {
		release()
		return refuse(488, "offer unusable: "+err.Error())
	}
	sess, err := m.deps.Media.NewSession(base)
	if err != nil {
		release()
		return refuse(503, "no media ports: "+err.Error())
	}
	ds, err := m.dialogUA(caller.Transport).ReadInvite(req, tx)
	if err != nil {
		release()
		sess.Close()
		return err
	}
	c := &Call{
		id: strconv.FormatUint(m.seq.Add(1), 10), m: m, caller: caller, callee: rr.Dialed,
		callID: req.CallID().Value(), media: sess, state: "ringing", start: m.cfg.Now(),
		direction: dec.Direction, snap: snap,
	}
	if caller.Trunk != "" {
		c.trunks = append(c.trunks, caller.Trunk)
		c.trunk = caller.Trunk
	}
	if caller.Extension != "" {
		c.exts = append(c.exts, caller.Extension)
	}
	c.log = m.log.With("call", c.id, "call_id", c.callID, "caller", caller.name(), "dialed", rr.Dialed)
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
	c.log.Info("call started", "direction", dec.Direction, "targets", len(dec.Targets))

	if err := ds.Respond(100, "Trying", nil); err != nil {
		c.finish(outcome{disp: model.DispFailed, by: model.PartySystem, cause: "respond failed: " + err.Error()})
		return nil
	}
	c.run(req, dec)
	return nil
}

// run walks the decision's targets in order (sip-facts.md "Failover"): a target that
// cannot be used is skipped, a failure of the failover class moves to the next one,
// anything else (busy, declined, the callee already rang) ends the call.
func (c *Call) run(reqA *sip.Request, dec routing.Decision) {
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

	c.b = &leg{call: c, side: media.LegB, origin: media.NewOrigin()}
	bodyB, _, err := media.RewriteSDP(reqA.Body(), c.media.LocalAddr(media.LegB), nil, c.b.origin)
	if err != nil {
		c.respondA(488, "Not Acceptable Here", nil)
		c.finish(outcome{disp: model.DispFailed, by: model.PartySystem, cause: "sdp: " + err.Error(), code: 488})
		return
	}
	last := attempt{}
	skipped := []string{}
	for i, t := range dec.Targets {
		if ringCtx.Err() != nil {
			break
		}
		var branches []branch
		var tr *model.Trunk
		switch t.Kind {
		case routing.TargetExtension:
			var why string
			branches, why = c.extensionBranches(reqA, t, bodyB)
			if len(branches) == 0 {
				last = attempt{code: 480, reason: "Temporarily Unavailable", cause: why, fromUs: true}
				if why == "busy" {
					last = attempt{code: 486, reason: "Busy Here", cause: "extension " + t.Extension + " at its call limit", fromUs: true}
				}
				continue
			}
		case routing.TargetTrunk:
			trunk, ok := c.snap.Trunk(t.Trunk)
			slot, why := c.takeTrunk(trunk, ok, t.Emergency)
			if why != "" {
				c.log.Info("trunk skipped", "trunk", t.Trunk, "route", t.Route, "reason", why)
				skipped = append(skipped, t.Trunk+": "+why)
				continue
			}
			tr = &trunk
			br, err := c.trunkBranch(reqA, t, trunk, bodyB)
			if err != nil {
				if slot {
					m.deps.Trunks.Release(t.Trunk)
				}
				c.log.Warn("trunk unreachable", "trunk", t.Trunk, "error", err)
				skipped = append(skipped, t.Trunk+": "+err.Error())
				continue
			}
			c.setCallee(t.Number)
			c.mu.Lock()
			c.trunk = t.Trunk
			if slot {
				c.trunks = append(c.trunks, t.Trunk)
			}
			c.mu.Unlock()
			branches = []branch{br}
		}
		if len(branches) == 0 {
			continue
		}
		c.log.Info("ringing", "target", i+1, "kind", t.Kind, "number", t.Number, "route", t.Route, "branches", len(branches))
		tctx, tcancel := ringCtx, context.CancelFunc(func() {})
		if t.RingTimeout > 0 && i < len(dec.Targets)-1 {
			tctx, tcancel = context.WithTimeout(ringCtx, t.RingTimeout)
		}
		res := c.fork(tctx, branches, tr)
		targetTimedOut := tctx.Err() != nil && ringCtx.Err() == nil
		tcancel()
		if res.winner != nil {
			c.bridge(res.winner)
			return
		}
		if targetTimedOut {
			res.attempt = attempt{code: 480, reason: "Temporarily Unavailable", cause: "no answer within " + t.RingTimeout.String()}
		}
		last = res.attempt
		if tr != nil {
			c.afterTrunkFailure(*tr, res.attempt)
			if !failoverAllowed(*tr, res.attempt) {
				break
			}
			c.log.Info("failing over", "trunk", tr.Name, "code", res.code, "cause", res.cause)
		}
		// Extension targets (ring group members) move on to the next one whatever
		// the member answered: busy, declined or no answer.
	}
	if last.code == 0 && last.cause == "" && len(skipped) > 0 {
		last = attempt{code: 503, reason: "Service Unavailable", cause: "no usable trunk (" + strings.Join(skipped, "; ") + ")", fromUs: true}
	}
	c.fail(ringCtx, last)
}

// extensionBranches prepares an INVITE to every registered contact of the target's
// extensions (one, or a simultaneous ring group's members). why says why there is
// none: "busy" when every member is at its call limit.
func (c *Call) extensionBranches(reqA *sip.Request, t routing.Target, body []byte) ([]branch, string) {
	members := t.Extensions
	if len(members) == 0 {
		members = []string{t.Extension}
	}
	var out []branch
	busy := 0
	for _, ext := range members {
		if !c.m.extensionFree(c.snap, ext) {
			busy++
			continue
		}
		contacts := c.m.deps.Locator.Lookup(ext)
		for _, b := range contacts {
			tt := t
			tt.Number = ext
			req, err := c.buildInviteB(reqA, tt, b, body)
			if err != nil {
				c.log.Warn("bad contact", "contact", b.Contact, "error", err)
				continue
			}
			out = append(out, branch{req: req, ua: c.m.dialogUA(b.Transport)})
		}
	}
	if len(out) > 0 {
		c.setCallee(t.Extension)
		return out, ""
	}
	if busy == len(members) {
		return nil, "busy"
	}
	return nil, "extension " + strings.Join(members, "; ") + " not registered"
}

// takeTrunk checks that a trunk can take the call now and takes a call slot. An
// emergency call goes out even when the trunk is at its call limit (slot=false: no
// slot was counted). why says why the trunk cannot be used.
func (c *Call) takeTrunk(t model.Trunk, ok, emergency bool) (slot bool, why string) {
	tr := c.m.deps.Trunks
	switch {
	case !ok:
		return false, "no such trunk"
	case !t.Enabled:
		return false, "disabled"
	case tr == nil:
		return false, "trunk runtime not running"
	case !tr.Usable(t.Name):
		return false, "down"
	case tr.Acquire(t.Name):
		return true, ""
	case emergency:
		c.log.Warn("emergency call over a trunk at its call limit", "trunk", t.Name)
		return false, ""
	}
	return false, "at call limit"
}

// afterTrunkFailure applies what a failed attempt says about the trunk: a 503 with
// Retry-After holds it down for that long (sip-facts.md).
func (c *Call) afterTrunkFailure(t model.Trunk, a attempt) {
	if a.code == 503 && a.retryAfter > 0 {
		c.m.deps.Trunks.MarkDown(t.Name, a.retryAfter, "503 with Retry-After")
	}
}

// fail answers the caller after every target failed.
func (c *Call) fail(ringCtx context.Context, last attempt) {
	c.mu.Lock()
	forced, bye := c.finalCode, c.callerBye
	c.mu.Unlock()
	switch {
	case bye:
		c.respondA(487, "Request Terminated", nil)
		c.finish(outcome{disp: model.DispCancelled, by: model.PartyCaller, cause: "BYE before answer", code: 487})
	case c.a.srv.Context().Err() != nil:
		// The caller cancelled; sipgo answered 487 to its INVITE.
		c.finish(outcome{disp: model.DispCancelled, by: model.PartyCaller, cause: "CANCEL", code: 487})
	case forced != 0:
		c.respondA(forced, "Service Unavailable", nil)
		c.finish(outcome{disp: model.DispFailed, by: model.PartySystem, cause: "shutdown", code: forced})
	case ringCtx.Err() == context.DeadlineExceeded:
		c.respondA(480, "Temporarily Unavailable", nil)
		c.finish(outcome{disp: model.DispNoAnswer, by: model.PartySystem, cause: "ring timeout", code: 480})
	case last.code == 0:
		cause := last.cause
		if cause == "" {
			cause = "no target answered"
		}
		c.respondA(480, "Temporarily Unavailable", nil)
		c.finish(outcome{disp: model.DispFailed, by: model.PartySystem, cause: cause, code: 480})
	default:
		cause := last.cause
		if cause == "" {
			cause = strconv.Itoa(last.code) + " " + last.reason
		}
		// A final answer the callee (or its provider) gave, or one we made because
		// nothing answered at all: the latter is a failure of the system.
		by, disp := model.PartyCallee, disposition(last.code)
		if last.fromUs {
			by, disp = model.PartySystem, model.DispFailed
		} else if last.code == 503 {
			by = model.PartySystem
		}
		c.respondA(last.code, last.reason, nil)
		c.finish(outcome{disp: disp, by: by, cause: cause, code: last.code})
	}
}

// answerFor rewrites the SDP that leg src sent, for sending to leg dst, remembering
// src's media address. The codecs are those both sides accept.
func (c *Call) answerFor(dst, src *leg, body []byte) ([]byte, error) {
	offer, err := media.ParseSDP(body)
	if err != nil {
		return nil, err
	}
	c.setOffer(src, offer)
	c.media.SetPeer(src.side, offer)
	out, _, err := media.RewriteSDP(body, c.media.LocalAddr(dst.side), media.Intersect(c.offerOf(dst), offer), dst.origin)
	return out, err
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

func (c *Call) setCallee(n string) {
	c.mu.Lock()
	c.callee = n
	c.mu.Unlock()
}

func sdpResponse(req *sip.Request, code int, reason string, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, body)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	return res
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

func disposition(code int) model.Disposition {
	switch code {
	case 486, 600:
		return model.DispBusy
	case 408, 480, 487:
		return model.DispNoAnswer
	}
	return model.DispFailed
}

// reasonPhrase is the RFC 3261 §21 phrase for the codes routing rejects with.
func reasonPhrase(code int) string {
	switch code {
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 484:
		return "Address Incomplete"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 503:
		return "Service Unavailable"
	case 603:
		return "Decline"
	}
	return "Rejected"
}

// retryAfter parses a Retry-After header value (RFC 3261 §20.33): seconds, maybe
// followed by a comment or parameters.
func retryAfter(v string) time.Duration {
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		if n > 86400 {
			return 86400 * time.Second
		}
	}
	return time.Duration(n) * time.Second
}
