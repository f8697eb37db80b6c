// Package sipedge owns Trunkline's SIP transport: listeners, the request middleware
// chain (recover, log, ban list, rate limit, sanity checks), digest authentication, the
// registrar and its location service. It identifies who sent a request and hands
// dialog-forming and in-dialog requests to call control.
package sipedge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/call"
)

// Allowed is the Allow header value of every response that carries one (405, OPTIONS).
const Allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, MESSAGE, NOTIFY, REFER, PRACK"

// Config of the SIP edge.
type Config struct {
	// Listen is HOST:PORT for UDP and TCP.
	Listen string
	// TLSListen is HOST:PORT for TLS; used when TLS is non-nil.
	TLSListen string
	TLS       *tls.Config
	// ExternalIP is the address written into Via and Contact (NAT). Zero = the listen
	// host, or 127.0.0.1 when that is a wildcard.
	ExternalIP netip.Addr
	// UserAgent is the User-Agent/Server header value.
	UserAgent string
	Log       *slog.Logger
}

// Edge is the SIP front: one sipgo UserAgent with its server and clients.
type Edge struct {
	log     *slog.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	dgram   *sipgo.Client // sends from the UDP listener socket (NAT keeps working)
	stream  *sipgo.Client // TCP/TLS: reuses the peer's connection or dials a new one
	contact sip.ContactHeader
	host    string
	port    int

	udp     net.PacketConn   // the primary UDP socket: requests we originate leave from it
	udpMore []net.PacketConn // more sockets on the same port, served alike (listen_linux.go)
	tcp     net.Listener
	tls     net.Listener

	// fast is the stateless UDP REGISTER path (stateless.go), set by Mount; the
	// read filter that uses it is installed with the user agent, before Mount.
	fast atomic.Pointer[fastPath]

	closeOnce sync.Once
}

// New builds the edge and binds its listeners, so that a port in use fails start-up
// at once. It starts no goroutine; Run serves.
func New(cfg Config) (*Edge, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("sipedge: listen %q: %w", cfg.Listen, err)
	}
	e := &Edge{log: cfg.Log}
	udps, err := listenUDP(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("sipedge: udp: %w", err)
	}
	e.udp, e.udpMore = udps[0], udps[1:]
	// Bind TCP on the port UDP got (the listen port may be 0 in tests).
	_, udpPort, _ := net.SplitHostPort(e.udp.LocalAddr().String())
	if portStr == "0" {
		portStr = udpPort
	}
	e.tcp, err = net.Listen("tcp", net.JoinHostPort(host, portStr))
	if err != nil {
		e.closeListeners()
		return nil, fmt.Errorf("sipedge: tcp: %w", err)
	}
	if cfg.TLS != nil {
		e.tls, err = tls.Listen("tcp", cfg.TLSListen, cfg.TLS)
		if err != nil {
			e.closeListeners()
			return nil, fmt.Errorf("sipedge: tls: %w", err)
		}
	}
	e.port, _ = strconv.Atoi(portStr)
	e.host = host
	if cfg.ExternalIP.IsValid() {
		e.host = cfg.ExternalIP.String()
	} else if ip, err := netip.ParseAddr(host); err != nil || ip.IsUnspecified() {
		e.host = "127.0.0.1"
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "Trunkline"
	}
	e.ua, err = sipgo.NewUA(sipgo.WithUserAgent(ua), sipgo.WithUserAgentHostname(e.host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(e.readFilter)))
	if err != nil {
		e.closeListeners()
		return nil, fmt.Errorf("sipedge: ua: %w", err)
	}
	e.srv, err = sipgo.NewServer(e.ua, sipgo.WithServerLogger(e.log))
	if err != nil {
		e.closeListeners()
		return nil, fmt.Errorf("sipedge: server: %w", err)
	}
	e.dgram, err = sipgo.NewClient(e.ua, sipgo.WithClientLogger(e.log),
		sipgo.WithClientHostname(e.host), sipgo.WithClientPort(e.port),
		sipgo.WithClientConnectionAddr(e.udp.LocalAddr().String()))
	if err != nil {
		e.closeListeners()
		return nil, fmt.Errorf("sipedge: client: %w", err)
	}
	e.stream, err = sipgo.NewClient(e.ua, sipgo.WithClientLogger(e.log),
		sipgo.WithClientHostname(e.host), sipgo.WithClientPort(e.port))
	if err != nil {
		e.closeListeners()
		return nil, fmt.Errorf("sipedge: client: %w", err)
	}
	e.contact = sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "trunkline", Host: e.host, Port: e.port}}
	return e, nil
}

// Addr is the bound UDP (and TCP) address.
func (e *Edge) Addr() netip.AddrPort {
	ap, _ := netip.ParseAddrPort(e.udp.LocalAddr().String())
	return ap
}

// Clients returns the client for datagram transports and the one for streams.
func (e *Edge) Clients() (dgram, stream *sipgo.Client) { return e.dgram, e.stream }

// Contact is the Contact header Trunkline puts in requests and responses it originates.
func (e *Edge) Contact() sip.ContactHeader { return e.contact }

// TrunkIdentifier recognises calls that come from trunks (sip-facts.md
// "Recognising which trunk an inbound INVITE belongs to"), in this order: the
// registration binding the request arrived on, the source address, then digest
// credentials of an accept-register trunk.
type TrunkIdentifier interface {
	IdentifyContactUser(user string) (string, bool)
	IdentifySource(ip netip.Addr) (string, bool)
	TrunkOfUser(user string) (string, bool)
}

// Handlers are what the edge dispatches to after its middleware.
type Handlers struct {
	Registrar *Registrar
	Auth      *Authenticator
	// Directory holds the digest accounts: extensions and accept-register trunks.
	Directory Directory
	Trunks    TrunkIdentifier // nil: no trunks
	Bans      *Banlist
	Limiter   *RateLimiter
	Calls     *call.Manager
}

// Mount installs the request handlers. Call it once, before Run.
func (e *Edge) Mount(h Handlers) {
	d := &dispatcher{h: h, log: e.log}
	trusted := func(req *sip.Request, src netip.Addr) bool {
		if h.Trunks != nil {
			if _, ok := h.Trunks.IdentifySource(src); ok {
				return true
			}
		}
		return h.Calls != nil && hasToTag(req) && req.CallID() != nil && h.Calls.HasDialog(req)
	}
	chain := func(next handler) sipgo.RequestHandler {
		return adapt(e.log, recoverer(e.log, admit(h.Bans, h.Limiter, trusted, sane(next))))
	}
	register := chain(d.register)
	e.srv.OnRegister(register) // TCP and TLS
	e.mountFast(register)      // UDP, stateless (stateless.go)
	e.srv.OnInvite(chain(d.invite))
	e.srv.OnAck(chain(d.inDialog))
	e.srv.OnBye(chain(d.inDialog))
	e.srv.OnCancel(chain(d.cancel))
	for _, m := range []sip.RequestMethod{sip.INFO, sip.UPDATE, sip.NOTIFY, sip.REFER, sip.PRACK} {
		e.srv.OnRequest(m, chain(d.inDialog))
	}
	e.srv.OnMessage(chain(d.message))
	e.srv.OnOptions(chain(d.options))
	e.srv.OnNoRoute(chain(d.notAllowed))
}

// Run serves until ctx is done, then closes the listeners.
func (e *Edge) Run(ctx context.Context) error {
	errc := make(chan error, 3+len(e.udpMore))
	go func() { errc <- e.srv.ServeUDP(e.udp) }()
	for _, c := range e.udpMore {
		go func() { errc <- e.srv.ServeUDP(c) }()
	}
	go func() { errc <- e.srv.ServeTCP(e.tcp) }()
	n := 2 + len(e.udpMore)
	if e.tls != nil {
		n++
		go func() { errc <- e.srv.ServeTLS(e.tls) }()
	}
	e.log.Info("sip listening", "udp", e.udp.LocalAddr().String(), "udp_sockets", 1+len(e.udpMore), "tcp", e.tcp.Addr().String(), "tls", e.tls != nil, "advertise", e.host)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		n--
	}
	e.Close()
	for ; n > 0; n-- {
		<-errc
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("sipedge: serve: %w", err)
	}
	return nil
}

// Close stops the listeners and the user agent. Idempotent.
func (e *Edge) Close() {
	e.closeOnce.Do(func() {
		e.closeListeners()
		e.ua.Close()
	})
}

func (e *Edge) closeListeners() {
	var cs []interface{ Close() error }
	if e.udp != nil {
		cs = append(cs, e.udp)
	}
	for _, c := range e.udpMore {
		cs = append(cs, c)
	}
	if e.tcp != nil {
		cs = append(cs, e.tcp)
	}
	if e.tls != nil {
		cs = append(cs, e.tls)
	}
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// udpBuffer is the receive buffer asked for each SIP UDP socket, as Kamailio's
// maxbuffer: a burst of requests (a registration storm after a network outage, a
// GC pause) must queue in the kernel rather than be dropped, since every dropped
// REGISTER or INVITE comes back as a retransmission 500 ms later. The kernel caps
// it at net.core.rmem_max (212,992 bytes on a stock Debian; docs/configuration.md).
const udpBuffer = 4 << 20

func setUDPBuffers(c net.PacketConn) {
	if u, ok := c.(*net.UDPConn); ok {
		u.SetReadBuffer(udpBuffer) // best effort: the default still works
	}
}

// sourceOf is the packet source of req as an address and port.
func sourceOf(req *sip.Request) netip.AddrPort {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func transportOf(req *sip.Request) string { return strings.ToLower(req.Transport()) }
