package sipedge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// handler is a SIP request handler that reports failure as an error; adapt answers
// and logs it in one place. A handler that has answered returns nil.
type handler func(req *sip.Request, tx sip.ServerTransaction) error

// StatusError is an error that is answered with a SIP status.
type StatusError struct {
	Code   int
	Reason string
	// Headers added to the response (e.g. Allow on 405).
	Headers []sip.Header
}

func (e *StatusError) Error() string { return fmt.Sprintf("sip %d %s", e.Code, e.Reason) }

// SIPStatus is how adapt reads any error that carries a status; call control's
// errors implement it too, without importing this package.
func (e *StatusError) SIPStatus() (int, string, []sip.Header) { return e.Code, e.Reason, e.Headers }

type statusCarrier interface {
	SIPStatus() (code int, reason string, headers []sip.Header)
}

// errDrop: answer nothing (banned or rate-limited sources, ACKs that match nothing).
var errDrop = errors.New("sipedge: dropped")

// adapt turns a handler into a sipgo handler: errors become responses and log lines.
// ACK is never answered (RFC 3261 §17.2.1).
func adapt(log *slog.Logger, h handler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		err := h(req, tx)
		if err == nil || errors.Is(err, errDrop) {
			return
		}
		code, reason, headers := 500, "Server Internal Error", []sip.Header(nil)
		var sc statusCarrier
		if errors.As(err, &sc) {
			code, reason, headers = sc.SIPStatus()
		}
		log.Debug("sip request refused", "method", req.Method, "source", req.Source(), "code", code, "error", err)
		if req.IsAck() || tx == nil {
			return
		}
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		for _, hd := range headers {
			res.AppendHeader(hd)
		}
		if err := tx.Respond(res); err != nil {
			log.Debug("sip respond failed", "error", err)
		}
	}
}

// recoverer keeps one bad request from taking the process down: it logs the panic
// with its stack and answers 500.
func recoverer(log *slog.Logger, next handler) handler {
	return func(req *sip.Request, tx sip.ServerTransaction) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in sip handler", "method", req.Method, "panic", r, "stack", string(debug.Stack()))
				err = &StatusError{Code: 500, Reason: "Server Internal Error"}
			}
		}()
		return next(req, tx)
	}
}

// admit drops requests from banned sources and sources over their rate. Dropping (no
// answer) is deliberate: a scanner learns nothing and a flood costs us nothing more.
//
// Requests for which trusted says yes pass untouched: those from a trunk's addresses
// (a provider's POP sends every call from one address: hundreds of requests a second
// are normal, and banning it is an outage) and those inside a dialog we have (an ACK
// or BYE of a live call: dropping it leaves the call hanging; its Call-ID and tags
// cannot be guessed).
func admit(bans *Banlist, limit *RateLimiter, trusted func(*sip.Request, netip.Addr) bool, next handler) handler {
	return func(req *sip.Request, tx sip.ServerTransaction) error {
		src := sourceOf(req).Addr()
		if trusted != nil && trusted(req, src) {
			return next(req, tx)
		}
		if bans != nil && bans.Banned(src) {
			return errDrop
		}
		if limit != nil && !limit.Allow(src) {
			return errDrop
		}
		return next(req, tx)
	}
}

// sane checks what every request must carry (RFC 3261 §8.1.1, §8.2.2) before any
// handler reads it: To, From, Call-ID, CSeq with the request's method, and
// Max-Forwards not exhausted for requests we would forward.
func sane(next handler) handler {
	return func(req *sip.Request, tx sip.ServerTransaction) error {
		switch {
		case req.To() == nil:
			return &StatusError{Code: 400, Reason: "Missing To"}
		case req.From() == nil:
			return &StatusError{Code: 400, Reason: "Missing From"}
		case req.CallID() == nil:
			return &StatusError{Code: 400, Reason: "Missing Call-ID"}
		case req.CSeq() == nil:
			return &StatusError{Code: 400, Reason: "Missing CSeq"}
		case req.CSeq().MethodName != req.Method:
			return &StatusError{Code: 400, Reason: "CSeq Method Mismatch"}
		}
		if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && forwards(req) {
			// RFC 3261 §16.3 step 3; OPTIONS with 0 is answered by us (§11).
			return &StatusError{Code: 483, Reason: "Too Many Hops"}
		}
		return next(req, tx)
	}
}

// forwards reports whether Trunkline would relay req to another hop.
func forwards(req *sip.Request) bool {
	switch req.Method {
	case sip.OPTIONS, sip.REGISTER, sip.ACK, sip.CANCEL:
		return false
	}
	return true
}
