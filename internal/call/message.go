package call

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"
)

// HandleMessage delivers an out-of-dialog MESSAGE (RFC 3428, chat) from an extension
// to every registered contact of the addressed extension; the first 2xx is the answer.
func (m *Manager) HandleMessage(req *sip.Request, tx sip.ServerTransaction, caller Caller) error {
	base := m.context()
	if base == nil {
		return &Reject{Code: 503, Reason: "Service Unavailable"}
	}
	callee := req.Recipient.User
	if _, ok := m.deps.Routes.Load().Extension(callee); !ok {
		return &Reject{Code: 404, Reason: "Not Found"}
	}
	contacts := m.deps.Locator.Lookup(callee)
	if len(contacts) == 0 {
		return &Reject{Code: 480, Reason: "Temporarily Unavailable"}
	}
	ctx, cancel := context.WithTimeout(base, 32*time.Second)
	defer cancel()
	best := 0
	reason := ""
	for _, b := range contacts {
		var target sip.Uri
		if err := sip.ParseUri(b.Contact, &target); err != nil {
			continue
		}
		host := m.deps.Contact.Address.Host
		out := newRequest(sip.MESSAGE, target, sip.Uri{Scheme: "sip", User: caller.Extension, Host: host},
			req.From().DisplayName, sip.Uri{Scheme: "sip", User: callee, Host: host})
		copyHeaders(out, req, "Content-Type")
		out.SetBody(req.Body())
		if b.Transport != "" {
			out.SetTransport(b.Transport)
		}
		if dst := natDestination(target, b.Source); dst != "" {
			out.SetDestination(dst)
		}
		res, err := m.dialogUA(b.Transport).Client.Do(ctx, out)
		if err != nil {
			continue
		}
		if res.IsSuccess() {
			return tx.Respond(sip.NewResponseFromRequest(req, res.StatusCode, res.Reason, nil))
		}
		if better(res.StatusCode, best) {
			best, reason = res.StatusCode, res.Reason
		}
	}
	if best == 0 {
		return &Reject{Code: 480, Reason: "Temporarily Unavailable"}
	}
	return tx.Respond(sip.NewResponseFromRequest(req, best, reason, nil))
}
