package sipedge

import (
	"errors"
	"hash/maphash"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/model"
)

// Directory finds extensions by number. It is a live, in-memory snapshot (no store
// read per request); disabled extensions count as unknown.
type Directory interface {
	Extension(user string) (model.Extension, bool)
}

// RegistrarConfig configures a Registrar. Zero values mean the defaults.
type RegistrarConfig struct {
	// MinExpires: shorter requested lifetimes (except 0) get 423 with Min-Expires
	// (RFC 3261 §10.3 step 7); 0 = 60 s.
	MinExpires time.Duration
	// MaxExpires caps granted lifetimes; 0 = 3600 s.
	MaxExpires time.Duration
	// DefaultExpires applies when a contact asks for none; 0 = 3600 s.
	DefaultExpires time.Duration
	// MaxContacts bounds the bindings of one AOR; 0 = 10. More get 403.
	MaxContacts int
}

// Registrar is the REGISTER handler (RFC 3261 §10.3): it authenticates with digest,
// lets a user register only its own AOR, and keeps bindings in a Location.
type Registrar struct {
	minExpires, maxExpires, defExpires time.Duration
	maxContacts                        int

	auth     *Authenticator
	loc      *Location
	bans     *Banlist
	log      *slog.Logger
	password func(user string) (string, bool)
	seed     maphash.Seed // keys fingerprint
}

// NewRegistrar returns a Registrar. bans and log may be nil.
func NewRegistrar(cfg RegistrarConfig, auth *Authenticator, dir Directory, loc *Location, bans *Banlist, log *slog.Logger) *Registrar {
	r := &Registrar{
		minExpires: cfg.MinExpires, maxExpires: cfg.MaxExpires, defExpires: cfg.DefaultExpires,
		maxContacts: cfg.MaxContacts, auth: auth, loc: loc, bans: bans, log: log,
		seed: maphash.MakeSeed(),
	}
	if r.minExpires <= 0 {
		r.minExpires = 60 * time.Second
	}
	if r.maxExpires <= 0 {
		r.maxExpires = time.Hour
	}
	if r.defExpires <= 0 {
		r.defExpires = time.Hour
	}
	r.defExpires = min(max(r.defExpires, r.minExpires), r.maxExpires)
	if r.maxContacts <= 0 {
		r.maxContacts = 10
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.password = func(user string) (string, bool) {
		ext, ok := dir.Extension(user)
		if !ok || ext.Disabled {
			return "", false
		}
		return ext.Password, true
	}
	return r
}

// ServeRegister handles one REGISTER (RFC 3261 §10.3) and always responds through
// tx. source is the packet's source address (stored as Binding.Source: requests to
// the binding go there, whatever private address the Contact names), transport is
// "udp", "tcp" or "tls". Banned and rate-limited sources are the middleware's
// business; authentication failures are counted in the Banlist here.
func (r *Registrar) ServeRegister(req *sip.Request, tx sip.ServerTransaction, source netip.AddrPort, transport string) {
	res := r.handle(req, tx, source, transport)
	if err := tx.Respond(res); err != nil {
		r.log.Debug("register: respond", "status", res.StatusCode, "source", source.String(), "error", err)
	}
}

func (r *Registrar) handle(req *sip.Request, tx sip.ServerTransaction, source netip.AddrPort, transport string) *sip.Response {
	switch {
	case req.To() == nil:
		return sip.NewResponseFromRequest(req, 400, "Missing To", nil)
	case req.From() == nil:
		return sip.NewResponseFromRequest(req, 400, "Missing From", nil)
	case req.CallID() == nil:
		return sip.NewResponseFromRequest(req, 400, "Missing Call-ID", nil)
	case req.CSeq() == nil:
		return sip.NewResponseFromRequest(req, 400, "Missing CSeq", nil)
	}

	// A retransmission of the request that set the current bindings (its response
	// was lost): the same answer again, nothing applied twice (stateless.go).
	fingerprint := r.fingerprint(req)
	if b, ok := r.loc.Repeat(req.To().Address.User, req.CallID().Value(), req.CSeq().SeqNo, fingerprint); ok {
		return r.ok(req, b)
	}

	// §10.3 step 3: authenticate.
	user, res, failed := r.auth.Authenticate(req, false, r.password)
	if res != nil {
		if failed && r.bans != nil && r.bans.Failure(source.Addr()) {
			r.log.Warn("register: source banned after failed authentication", "source", source.Addr().String())
		}
		return res
	}
	// §10.3 steps 4–5: the AOR is the To user, and a user may register only its own
	// (research §2: auth as 101 with To 102 must never bind 102).
	aor := req.To().Address.User
	if aor != user {
		r.log.Warn("register: AOR is not the authenticated user", "user", user, "aor", aor, "source", source.String())
		return sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
	}

	reg, res := r.parseContacts(req)
	if res != nil {
		return res
	}
	if reg == nil {
		return r.ok(req, r.loc.Lookup(aor)) // no Contact: a query (§10.3 step 6)
	}
	reg.AOR = aor
	reg.CallID = req.CallID().Value()
	reg.CSeq = req.CSeq().SeqNo
	reg.Source = source.String()
	reg.Transport = strings.ToLower(transport)
	if ua := header(req, "User-Agent"); ua != nil {
		reg.UserAgent = ua.Value()
		if len(reg.UserAgent) > 256 {
			reg.UserAgent = reg.UserAgent[:256]
		}
	}
	reg.MaxContacts = r.maxContacts
	reg.Fingerprint = fingerprint

	bindings, err := r.loc.Register(*reg)
	switch {
	case errors.Is(err, ErrOutOfOrder):
		// §10.3 step 7: "the update MUST be aborted and the request fails"; 500 as for
		// any out-of-order CSeq (§12.2.2), with a reason saying which.
		return sip.NewResponseFromRequest(req, 500, "Out of Order CSeq", nil)
	case errors.Is(err, ErrTooManyContacts):
		return sip.NewResponseFromRequest(req, 403, "Too Many Contacts", nil)
	case err != nil:
		r.log.Error("register: location update", "aor", aor, "error", err)
		return sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil)
	}
	r.log.Debug("registered", "aor", aor, "contacts", len(reg.Contacts), "bindings", len(bindings), "source", reg.Source, "transport", reg.Transport)
	return r.ok(req, bindings)
}

// fingerprint is a keyed hash of req's Authorization header fields (they carry the
// nonce, nonce count, cnonce and digest response: no two authenticated requests
// share them), or 0 if it has none.
func (r *Registrar) fingerprint(req *sip.Request) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	n := 0
	for _, hd := range req.Headers() {
		if strings.EqualFold(hd.Name(), "Authorization") {
			h.WriteString(hd.Value())
			h.WriteByte(0)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return h.Sum64() | 1
}

// regMalformedExpires is what RFC 3261 §10.2.1.1 says a malformed expires value means.
const regMalformedExpires = 3600 * time.Second

// parseContacts reads the Contact and Expires header fields (§10.3 steps 6–7). It
// returns nil, nil for a query (no Contact), or a response for an invalid request.
func (r *Registrar) parseContacts(req *sip.Request) (*Registration, *sip.Response) {
	hdrs := headers(req, "Contact")
	if len(hdrs) == 0 {
		return nil, nil
	}
	headerExpires, hasExpires := time.Duration(0), false
	if h := header(req, "Expires"); h != nil {
		headerExpires, hasExpires = regParseExpires(h.Value()), true
	}
	reg := &Registration{Contacts: make([]ContactUpdate, 0, len(hdrs))}
	for _, h := range hdrs {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, sip.NewResponseFromRequest(req, 400, "Bad Contact", nil)
		}
		if c.Address.Wildcard {
			// §10.3 step 6: "*" only alone and with Expires: 0, else 400.
			if len(hdrs) != 1 || !hasExpires || headerExpires != 0 {
				return nil, sip.NewResponseFromRequest(req, 400, "Invalid Request", nil)
			}
			reg.Wildcard = true
			return reg, nil
		}
		exp := r.defExpires
		if v, ok := regParam(c.Params, "expires"); ok {
			exp = regParseExpires(v)
		} else if hasExpires {
			exp = headerExpires
		}
		// §10.3 step 7: 423 only for a lifetime above zero, below one hour and below
		// our minimum; the registrar may shorten a long one.
		if exp > 0 && exp < r.minExpires && exp < time.Hour {
			res := sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(r.minExpires/time.Second))))
			return nil, res
		}
		exp = min(exp, r.maxExpires)
		q := 1.0
		if v, ok := regParam(c.Params, "q"); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
				q = f
			}
		}
		reg.Contacts = append(reg.Contacts, ContactUpdate{Contact: c.Address.String(), Expires: exp, Q: q})
	}
	return reg, nil
}

// regParseExpires reads a delta-seconds value; values above 2³²−1 count as 2³²−1
// and malformed ones as 3600 (RFC 3261 §10.2.1.1).
func regParseExpires(v string) time.Duration {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return math.MaxUint32 * time.Second
		}
		return regMalformedExpires
	}
	return time.Duration(min(n, math.MaxUint32)) * time.Second
}

// regParam finds a header parameter by case-insensitive name (RFC 3261 §7.3.1).
func regParam(p sip.HeaderParams, name string) (string, bool) {
	for _, kv := range p {
		if strings.EqualFold(kv.K, name) {
			return kv.V, true
		}
	}
	return "", false
}

// ok is the 200 of §10.3 step 8: every current binding with its remaining lifetime,
// and a Date header field.
func (r *Registrar) ok(req *sip.Request, bindings []model.Binding) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	now := r.loc.now()
	var sb strings.Builder
	for _, b := range bindings {
		left := b.Expires.Sub(now)
		secs := int64((left + time.Second - 1) / time.Second)
		if secs <= 0 {
			continue
		}
		sb.Reset()
		sb.WriteByte('<')
		sb.WriteString(b.Contact)
		sb.WriteString(">;expires=")
		sb.WriteString(strconv.FormatInt(secs, 10))
		if b.Q != 1 {
			sb.WriteString(";q=")
			sb.WriteString(strconv.FormatFloat(b.Q, 'f', -1, 64))
		}
		res.AppendHeader(sip.NewHeader("Contact", sb.String()))
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")))
	return res
}
