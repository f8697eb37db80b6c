package call

import (
	"context"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/media"
)

// progressOnce makes sure the caller sees each provisional status once and that
// early media is set up from one branch only.
type progressOnce struct {
	mu    sync.Mutex
	media bool
	codes map[int]bool
}

func (p *progressOnce) takeMedia() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.media {
		return false
	}
	p.media = true
	return true
}

func (p *progressOnce) takeRing(code int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.codes == nil {
		p.codes = map[int]bool{}
	}
	if p.codes[code] {
		return false
	}
	p.codes[code] = true
	return true
}

// HandleInDialog handles a request inside an existing dialog: ACK, BYE, re-INVITE,
// UPDATE, INFO, MESSAGE, NOTIFY, PRACK. Requests that match no dialog get 481
// (RFC 3261 §12.2.2); a stray ACK is dropped.
func (m *Manager) HandleInDialog(req *sip.Request, tx sip.ServerTransaction) error {
	l := m.lookupDialog(req)
	if l == nil {
		if req.IsAck() {
			return nil
		}
		return &Reject{Code: 481, Reason: "Call/Transaction Does Not Exist"}
	}
	c := l.call
	switch req.Method {
	case sip.ACK:
		if l.srv != nil && req.CSeq().SeqNo == l.srv.InviteRequest.CSeq().SeqNo {
			return l.srv.ReadAck(req, tx)
		}
		return nil // ACK of a re-INVITE 2xx we answered ourselves
	case sip.BYE:
		c.mu.Lock()
		answered, final := !c.answered.IsZero(), c.finalCode
		c.mu.Unlock()
		switch {
		case answered && l.d != nil && l.other() != nil && l.other().d != nil:
			if err := tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
				c.log.Debug("respond to bye failed", "error", err)
			}
			c.hangup(l)
			return nil
		case !answered && final == 0 && l.side == media.LegA:
			// The caller may end an early dialog with BYE (RFC 3261 §15): like a
			// CANCEL, stop ringing; the INVITE gets 487.
			if err := tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
				c.log.Debug("respond to bye failed", "error", err)
			}
			c.byeBeforeAnswer()
			return nil
		}
		// The INVITE failed (final non-2xx sent): there is no dialog to end.
		return &Reject{Code: 481, Reason: "Call/Transaction Does Not Exist"}
	case sip.INVITE, sip.UPDATE:
		return c.reoffer(l, req, tx)
	case sip.REFER:
		// Transfers are not bridged yet; refuse rather than pass a REFER we cannot
		// honour (RFC 3515 §2.4.2 allows any final failure).
		return &Reject{Code: 501, Reason: "Not Implemented"}
	default:
		return c.relay(l, req, tx)
	}
}

// reoffer bridges a re-INVITE or UPDATE (hold, resume, codec change): the other leg
// gets an offer with our relay address, and this leg an answer with its own.
func (c *Call) reoffer(from *leg, req *sip.Request, tx sip.ServerTransaction) error {
	to := from.other()
	if to == nil || to.d == nil {
		return &Reject{Code: 491, Reason: "Request Pending"}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.m.context()), 32*time.Second)
	defer cancel()
	out := sip.NewRequest(req.Method, to.target)
	if len(req.Body()) > 0 {
		offer, err := media.ParseSDP(req.Body())
		if err != nil {
			return &Reject{Code: 488, Reason: "Not Acceptable Here"}
		}
		body, _, err := media.RewriteSDP(req.Body(), c.media.LocalAddr(to.side), nil, to.origin)
		if err != nil {
			return &Reject{Code: 488, Reason: "Not Acceptable Here"}
		}
		c.setOffer(from, offer)
		c.media.SetPeer(from.side, offer)
		out.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		out.SetBody(body)
	}
	copyHeaders(out, req, "Session-Expires", "Min-SE", "Supported", "Allow")
	res, err := to.d.Do(ctx, out)
	if err != nil {
		c.log.Warn("re-offer to the other leg failed", "method", req.Method, "error", err)
		return &Reject{Code: 500, Reason: "Server Internal Error"}
	}
	if req.Method == sip.INVITE && res.IsSuccess() {
		ack := sip.NewRequest(sip.ACK, to.target)
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: out.CSeq().SeqNo, MethodName: sip.ACK})
		if err := to.d.WriteRequest(ack); err != nil {
			c.log.Warn("ack of re-INVITE failed", "error", err)
		}
	}
	var body []byte
	if res.IsSuccess() && len(res.Body()) > 0 {
		body, err = c.answerFor(from, to, res.Body())
		if err != nil {
			return &Reject{Code: 488, Reason: "Not Acceptable Here"}
		}
	}
	answer := sip.NewResponseFromRequest(req, res.StatusCode, res.Reason, body)
	if body != nil {
		answer.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	if res.IsSuccess() {
		answer.AppendHeader(sip.HeaderClone(&c.m.deps.Contact))
	}
	copyHeaders(answer, res, "Session-Expires", "Require")
	return tx.Respond(answer)
}

// relay passes INFO (DTMF), MESSAGE, NOTIFY and other in-dialog requests to the other
// leg unchanged in body and type, and the final status back.
func (c *Call) relay(from *leg, req *sip.Request, tx sip.ServerTransaction) error {
	to := from.other()
	if to == nil || to.d == nil {
		return &Reject{Code: 481, Reason: "Call/Transaction Does Not Exist"}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.m.context()), 32*time.Second)
	defer cancel()
	out := sip.NewRequest(req.Method, to.target)
	copyHeaders(out, req, "Content-Type", "Event", "Subscription-State", "Info-Package")
	if len(req.Body()) > 0 {
		out.SetBody(req.Body())
	}
	res, err := to.d.Do(ctx, out)
	if err != nil {
		return &Reject{Code: 408, Reason: "Request Timeout"}
	}
	return tx.Respond(sip.NewResponseFromRequest(req, res.StatusCode, res.Reason, nil))
}

// headerCarrier is what requests and responses share for copying headers.
type headerCarrier interface {
	GetHeaders(name string) []sip.Header
	AppendHeader(h sip.Header)
}

// copyHeaders copies the named headers of src into dst (either may be a request or
// a response).
func copyHeaders(dst, src headerCarrier, names ...string) {
	for _, n := range names {
		for _, h := range src.GetHeaders(n) {
			dst.AppendHeader(sip.NewHeader(h.Name(), h.Value()))
		}
	}
}
