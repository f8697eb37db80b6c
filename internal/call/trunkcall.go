package call

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/media"
	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/routing"
)

// trunkBranch builds the INVITE of an outbound call over a trunk: Request-URI
// sip:NUMBER@HOST, sent to the address the trunk runtime resolved, caller ID in the
// headers the trunk names, and the trunk's credentials for a 401/407 challenge.
func (c *Call) trunkBranch(reqA *sip.Request, t routing.Target, tr model.Trunk, body []byte) (branch, error) {
	var addr, transport, proxy, host string
	var ruri sip.Uri
	if tr.Kind == model.TrunkAcceptRegister {
		// The gateway registered to us: call its registered contact.
		bs := c.m.deps.Locator.Lookup(tr.Username)
		if len(bs) == 0 {
			return branch{}, fmt.Errorf("gateway %s is not registered", tr.Username)
		}
		if err := sip.ParseUri(bs[0].Contact, &ruri); err != nil {
			return branch{}, err
		}
		ruri.User = t.Number
		host, transport = ruri.Host, bs[0].Transport
		addr = natDestination(ruri, bs[0].Source)
		if addr == "" {
			port := ruri.Port
			if port == 0 {
				port = 5060
			}
			addr = net.JoinHostPort(ruri.Host, strconv.Itoa(port))
		}
	} else {
		var ok bool
		addr, transport, proxy, ok = c.m.deps.Trunks.Target(tr.Name)
		if !ok {
			return branch{}, fmt.Errorf("no resolved target")
		}
		host = tr.Host
		if host == "" {
			host, _, _ = net.SplitHostPort(addr)
		}
		ruri = sip.Uri{Scheme: "sip", User: t.Number, Host: host}
		if tr.Port != 0 {
			ruri.Port = tr.Port
		}
	}
	cid := t.CallerID
	headers := tr.CallerIDHeaders
	if len(headers) == 0 {
		headers = []string{"from"}
	}
	// The From user: the caller ID when the trunk takes it there, else the account
	// (providers that authenticate by From want their user name in it).
	fromUser := tr.Username
	if slices.Contains(headers, "from") || fromUser == "" {
		fromUser = cid
	}
	if fromUser == "" {
		fromUser = "anonymous"
	}
	fromURI, display := sip.Uri{Scheme: "sip", User: fromUser, Host: host}, ""
	if t.Anonymous {
		// RFC 3323/3325: withhold the caller ID from the callee; the provider still
		// gets the real number in P-Asserted-Identity (sip-facts.md "Caller ID").
		fromURI, display = sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}, "Anonymous"
		if !slices.Contains(headers, "pai") {
			headers = append(slices.Clone(headers), "pai")
		}
	}
	if len(tr.Codecs) > 0 {
		// The trunk's codec list limits the offer (telephone-event always stays).
		filtered, _, err := media.RewriteSDP(reqA.Body(), c.media.LocalAddr(media.LegB), media.CodecFilter(tr.Codecs), c.b.origin)
		if err != nil {
			return branch{}, fmt.Errorf("offer has none of the trunk's codecs %v: %w", tr.Codecs, err)
		}
		body = filtered
	}
	req := c.newInvite(reqA, ruri, fromURI, display, sip.Uri{Scheme: "sip", User: t.Number, Host: host}, body)
	if t.Anonymous {
		req.AppendHeader(sip.NewHeader("Privacy", "id"))
	}
	if cid != "" {
		id := "<sip:" + cid + "@" + host + ">"
		for _, h := range headers {
			switch h {
			case "pai":
				req.AppendHeader(sip.NewHeader("P-Asserted-Identity", id))
			case "ppi":
				req.AppendHeader(sip.NewHeader("P-Preferred-Identity", id))
			case "rpid":
				req.AppendHeader(sip.NewHeader("Remote-Party-ID", id+";party=calling;screen=yes;privacy=off"))
			}
		}
	}
	if proxy != "" {
		// RFC 3261 §8.1.2: a pre-existing route set of one loose router.
		req.AppendHeader(sip.NewHeader("Route", "<sip:"+proxy+";lr>"))
	}
	for k, v := range tr.Headers {
		req.AppendHeader(sip.NewHeader(k, v))
	}
	if transport != "" {
		req.SetTransport(strings.ToUpper(transport))
	}
	req.SetDestination(addr)
	ua := c.m.dialogUA(strings.ToLower(transport))
	b := branch{req: req, ua: ua}
	if tr.Password != "" {
		b.auth = sipgo.AnswerOptions{Username: tr.DigestUser(), Password: tr.Password}
	}
	return b, nil
}

// didOf reads the dialed number of a call that arrived on a trunk, from the header
// the trunk's did_source names (sip-facts.md "Where the DID is"). "auto": the
// Request-URI user, unless it is our registration Contact user (the provider sent
// the call to our binding), then the To user.
func didOf(req *sip.Request, t model.Trunk, contactUser string) string {
	switch t.DIDSource {
	case model.DIDFromRequestURI:
		return req.Recipient.User
	case model.DIDFromTo:
		return req.To().Address.User
	case model.DIDFromPCalled:
		if u, ok := headerUser(req, "P-Called-Party-ID"); ok {
			return u
		}
		return req.To().Address.User
	case model.DIDFromDiversion:
		if u, ok := headerUser(req, "Diversion"); ok {
			return u
		}
		return req.To().Address.User
	}
	ru := req.Recipient.User
	if ru == "" || (contactUser != "" && ru == contactUser) {
		return req.To().Address.User
	}
	return ru
}

// headerUser returns the user part of the URI in a name-addr header.
func headerUser(req *sip.Request, name string) (string, bool) {
	h := req.GetHeader(name)
	if h == nil {
		return "", false
	}
	var u sip.Uri
	v := h.Value()
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	} else if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	if err := sip.ParseUri(strings.TrimSpace(v), &u); err != nil || u.User == "" {
		return "", false
	}
	return u.User, true
}
