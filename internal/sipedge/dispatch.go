package sipedge

import (
	"net/netip"

	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/call"
)

// dispatcher routes requests that passed the middleware to the registrar and to call
// control, authenticating dialog-forming requests on the way.
type dispatcher struct {
	h   Handlers
	log interface {
		Info(string, ...any)
		Warn(string, ...any)
	}
}

func (d *dispatcher) register(req *sip.Request, tx sip.ServerTransaction) error {
	d.h.Registrar.ServeRegister(req, tx, sourceOf(req), transportOf(req))
	return nil
}

// password looks up the digest secret of an enabled extension.
func (d *dispatcher) password(user string) (string, bool) {
	e, ok := d.h.Directory.Extension(user)
	if !ok {
		return "", false
	}
	return e.Password, true
}

func (d *dispatcher) invite(req *sip.Request, tx sip.ServerTransaction) error {
	if hasToTag(req) {
		return d.h.Calls.HandleInDialog(req, tx)
	}
	if d.h.Calls.Draining() {
		return &StatusError{Code: 503, Reason: "Service Unavailable",
			Headers: []sip.Header{sip.NewHeader("Retry-After", "30")}}
	}
	src := sourceOf(req)
	if trunk, how := d.trunkOf(req, src); trunk != "" {
		d.log.Info("invite from trunk", "trunk", trunk, "by", how, "source", src.String(), "ruri_user", req.Recipient.User)
		return d.h.Calls.HandleInvite(req, tx, call.Caller{Trunk: trunk, Source: src, Transport: transportOf(req)})
	}
	if header(req, "Proxy-Authorization") == nil {
		// Not a trunk by binding or address: only digest can identify the caller now.
		d.log.Info("invite from unidentified source challenged", "source", src.String(),
			"reason", "no trunk registration contact, address or credentials matched", "ruri_user", req.Recipient.User)
	}
	user, ok := d.authenticate(req, tx)
	if !ok {
		return nil
	}
	if d.h.Trunks != nil {
		if trunk, ok := d.h.Trunks.TrunkOfUser(user); ok {
			return d.h.Calls.HandleInvite(req, tx, call.Caller{Trunk: trunk, Source: src, Transport: transportOf(req)})
		}
	}
	// An authenticated user may call only as itself (sip-facts.md, digest rules).
	if req.From().Address.User != user {
		d.log.Warn("invite refused: From user differs from the authenticated user",
			"from", req.From().Address.User, "auth_user", user, "source", req.Source())
		return &StatusError{Code: 403, Reason: "Forbidden"}
	}
	return d.h.Calls.HandleInvite(req, tx, call.Caller{Extension: user, Source: src, Transport: transportOf(req)})
}

// trunkOf recognises a trunk by the binding the request arrived on (our registration
// Contact user in the Request-URI) or by its source address.
func (d *dispatcher) trunkOf(req *sip.Request, src netip.AddrPort) (string, string) {
	if d.h.Trunks == nil {
		return "", ""
	}
	if t, ok := d.h.Trunks.IdentifyContactUser(req.Recipient.User); ok {
		return t, "registration contact"
	}
	if t, ok := d.h.Trunks.IdentifySource(src.Addr()); ok {
		return t, "source address"
	}
	return "", ""
}

// authenticate runs digest (Proxy-Authorization, 407) and answers the challenge or
// refusal itself; ok reports an authenticated user.
func (d *dispatcher) authenticate(req *sip.Request, tx sip.ServerTransaction) (string, bool) {
	user, res, failed := d.h.Auth.Authenticate(req, true, d.password)
	if res == nil {
		return user, true
	}
	if failed && d.h.Bans != nil {
		d.h.Bans.Failure(sourceOf(req).Addr())
	}
	if err := tx.Respond(res); err != nil {
		d.log.Warn("respond auth failed", "error", err)
	}
	return "", false
}

func (d *dispatcher) inDialog(req *sip.Request, tx sip.ServerTransaction) error {
	return d.h.Calls.HandleInDialog(req, tx)
}

// cancel is reached only by a CANCEL that matched no pending INVITE: sipgo answers
// matching ones itself (200 to the CANCEL, 487 to the INVITE). RFC 3261 §9.2.
func (d *dispatcher) cancel(req *sip.Request, tx sip.ServerTransaction) error {
	return &StatusError{Code: 481, Reason: "Call/Transaction Does Not Exist"}
}

func (d *dispatcher) message(req *sip.Request, tx sip.ServerTransaction) error {
	if hasToTag(req) {
		return d.h.Calls.HandleInDialog(req, tx)
	}
	user, ok := d.authenticate(req, tx)
	if !ok {
		return nil
	}
	if req.From().Address.User != user {
		return &StatusError{Code: 403, Reason: "Forbidden"}
	}
	return d.h.Calls.HandleMessage(req, tx, call.Caller{Extension: user, Source: sourceOf(req), Transport: transportOf(req)})
}

func (d *dispatcher) options(req *sip.Request, tx sip.ServerTransaction) error {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", Allowed))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Supported", "replaces, timer"))
	return tx.Respond(res)
}

func (d *dispatcher) notAllowed(req *sip.Request, tx sip.ServerTransaction) error {
	return &StatusError{Code: 405, Reason: "Method Not Allowed",
		Headers: []sip.Header{sip.NewHeader("Allow", Allowed)}}
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	_, ok := to.Params.Get("tag")
	return ok
}
