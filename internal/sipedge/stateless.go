package sipedge

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Stateless REGISTER over UDP.
//
// A REGISTER that arrives over UDP is answered on the UDP read goroutine, without a
// sipgo server transaction: the read filter below parses it, runs it through the
// same middleware and registrar as every other request, and writes the response to
// the socket itself. RFC 3261 §8.2.7 allows a UAS to answer statelessly, and
// registrars commonly do (Kamailio's save() replies with its stateless sl module).
//
// Why: in a registration storm the transaction layer was a third of Trunkline's
// CPU (a goroutine per request, a 10 s context timer per request, the transaction's
// state machine) and most of its memory: each REGISTER left a transaction alive for
// Timer J, 32 s, about 8 KB per registration (docs/benchmarks.md, P1 and P4).
//
// What a transaction gave and what replaces it: retransmissions. A retransmitted
// REGISTER is processed again. An unauthenticated one gets a fresh 401, as before.
// An authenticated one would fail the nonce-count replay check, so the registrar
// recognises a byte-identical repeat of the request that set an AOR's current
// bindings (Location.Repeat) and answers it with those bindings, changing nothing.
//
// Everything else (TCP and TLS REGISTERs, every other method, anything this path
// cannot parse) takes sipgo's usual path.

// fastPath is the handler the read filter runs; nil until Mount.
type fastPath struct {
	handle sipgo.RequestHandler
	parser *sip.Parser
	conn   net.PacketConn // the UDP listener: responses leave from the port requests reach
}

var registerPrefix = []byte("REGISTER ")

// readFilter is sipgo's transport read filter (it sees every datagram before the
// parser). It takes UDP REGISTERs and returns every other datagram unchanged. It
// must never return an error: that would stop the UDP read loop.
func (e *Edge) readFilter(p sip.TransportReadProps, data []byte) (out []byte, _ error) {
	fp := e.fast.Load()
	if fp == nil || !strings.EqualFold(p.Transport, "udp") || !bytes.HasPrefix(data, registerPrefix) {
		return data, nil
	}
	defer func() {
		// The middleware recovers from its handlers' panics; this covers the parser
		// and what precedes the middleware. The datagram is dropped.
		if r := recover(); r != nil {
			e.log.Error("panic in stateless register", "panic", r)
			out = nil
		}
	}()
	msg, err := fp.parser.ParseSIP(data)
	if err != nil {
		return data, nil // sipgo's path answers or drops it as it always has
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Via() == nil {
		return data, nil
	}
	src := p.RemoteAddr.String()
	req.SetTransport("UDP")
	req.SetSource(src)
	req.SetDestination(p.LocalAddr.String())
	fp.handle(req, &statelessTx{conn: fp.conn, req: req})
	return nil, nil
}

// statelessTx is the sip.ServerTransaction the middleware and registrar see on the
// stateless path: Respond writes the response to the socket; there is nothing to
// terminate, cancel or acknowledge.
type statelessTx struct {
	conn net.PacketConn
	req  *sip.Request
}

var _ sip.ServerTransaction = (*statelessTx)(nil)

var errRespondTwice = errors.New("sipedge: stateless: second final response")

// responseBufs are the serialisation buffers of Respond.
var responseBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// closedDone is the Done channel of every statelessTx: answered means finished.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (t *statelessTx) Respond(res *sip.Response) error {
	if t.req == nil {
		return errRespondTwice
	}
	dst, err := responseAddr(t.req)
	t.req = nil
	if err != nil {
		return err
	}
	buf := responseBufs.Get().(*bytes.Buffer)
	buf.Reset()
	res.StringWrite(buf)
	_, err = t.conn.WriteTo(buf.Bytes(), net.UDPAddrFromAddrPort(dst))
	responseBufs.Put(buf)
	return err
}

func (t *statelessTx) Acks() <-chan *sip.Request          { return nil }
func (t *statelessTx) OnCancel(sip.FnTxCancel) bool       { return false }
func (t *statelessTx) Terminate()                         {}
func (t *statelessTx) OnTerminate(sip.FnTxTerminate) bool { return false }
func (t *statelessTx) Done() <-chan struct{}              { return closedDone }
func (t *statelessTx) Err() error                         { return nil }

// responseAddr is where a response to req goes over UDP (RFC 3261 §18.2.2 with
// RFC 3581): the packet's source address, at the source port if the top Via asks
// for rport, else at the Via's sent-by port (5060 when it names none).
func responseAddr(req *sip.Request) (netip.AddrPort, error) {
	src := sourceOf(req)
	if !src.IsValid() {
		return netip.AddrPort{}, errors.New("sipedge: stateless: no source address")
	}
	via := req.Via()
	if via == nil {
		return netip.AddrPort{}, errors.New("sipedge: stateless: no Via")
	}
	if v, ok := via.Params.Get("rport"); ok && v == "" {
		return src, nil
	}
	port := via.Port
	if port <= 0 || port > 65535 {
		port = 5060
	}
	return netip.AddrPortFrom(src.Addr(), uint16(port)), nil
}

// mountFast enables the stateless REGISTER path with h (Mount's REGISTER chain).
func (e *Edge) mountFast(h sipgo.RequestHandler) {
	e.fast.Store(&fastPath{handle: h, parser: sip.NewParser(), conn: e.udp})
}
