package call

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/trunkline/trunkline/internal/media"
	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/routing"
)

// Reject is an error answered with a SIP status. sipedge reads it through SIPStatus.
type Reject struct {
	Code    int
	Reason  string
	Headers []sip.Header
}

func (r *Reject) Error() string { return fmt.Sprintf("call: %d %s", r.Code, r.Reason) }

// SIPStatus returns the response to send.
func (r *Reject) SIPStatus() (int, string, []sip.Header) { return r.Code, r.Reason, r.Headers }

// dialog is what both kinds of sipgo dialog session offer for requests inside the
// dialog; it lets the bridging code treat leg A and leg B alike.
type dialog interface {
	Do(ctx context.Context, req *sip.Request) (*sip.Response, error)
	WriteRequest(req *sip.Request) error
	Bye(ctx context.Context) error
}

var (
	_ dialog = (*sipgo.DialogServerSession)(nil)
	_ dialog = (*sipgo.DialogClientSession)(nil)
)

// leg is one dialog of a call.
type leg struct {
	call   *Call
	side   media.Leg
	d      dialog
	key    string        // dialogKey in Manager.dialogs
	origin *media.Origin // our o= line towards this leg
	// target is the remote Contact: the Request-URI of requests we send in the dialog.
	target sip.Uri
	// offer is what the peer last said in SDP.
	offer media.Offer

	srv *sipgo.DialogServerSession // leg A only
	cli *sipgo.DialogClientSession // leg B only
}

func (l *leg) other() *leg {
	if l.side == media.LegA {
		return l.call.b
	}
	return l.call.a
}

// Call is one B2BUA call.
type Call struct {
	id     string
	m      *Manager
	log    *slog.Logger
	caller Caller
	callee string
	callID string // leg A's Call-ID
	media  *media.Session
	// direction is "internal", "inbound" or "outbound"; snap the routing snapshot the
	// call started with (calls keep theirs when the config changes).
	direction string
	snap      *routing.Snapshot

	a, b *leg

	mu         sync.Mutex // guards everything below
	state      string     // "ringing", "answered", "ending"
	start      time.Time
	answered   time.Time
	ended      bool
	finalCode  int
	ringCancel context.CancelFunc
	trunk      string   // the trunk the call is on (for the CDR and the calls view)
	trunks     []string // call slots taken (Acquire), released when the call ends
	exts       []string // extension call counts taken, released when the call ends
	stopTimers []func() // run when the call ends
	callerBye  bool     // the caller sent BYE before the answer

	// hold is set while either leg's last SDP puts the media on hold (sendonly,
	// inactive, or a 0.0.0.0 address): the RTP timeout does not apply then.
	hold atomic.Bool

	endOnce sync.Once
}

func (c *Call) view() model.ActiveCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := model.ActiveCall{ID: c.id, CallID: c.callID, Caller: c.caller.name(), Callee: c.callee,
		State: c.state, StartTime: c.start, Trunk: c.trunk}
	if !c.answered.IsZero() {
		t := c.answered
		v.AnswerTime = &t
	}
	return v
}

// outcome is how a call ended, for its CDR.
type outcome struct {
	disp  model.Disposition
	by    model.Party
	cause string
	code  int // final status sent to the caller, 0 after an answer
}

// finish ends the call once: closes media, forgets the dialogs and writes the CDR.
// It sends nothing; callers hang up the legs first.
func (c *Call) finish(o outcome) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.ended = true
		c.state = "ending"
		start, answered, trunk, slots, callee, exts := c.start, c.answered, c.trunk, c.trunks, c.callee, c.exts
		c.trunks, c.exts = nil, nil
		for _, stop := range c.stopTimers {
			stop()
		}
		if o.code == 0 {
			o.code = c.finalCode
		}
		if c.ringCancel != nil {
			c.ringCancel()
		}
		c.mu.Unlock()
		end := c.m.cfg.Now()
		var st media.Stats
		if c.media != nil {
			st = c.media.Stats()
			c.media.Close()
		}
		c.m.forget(c)
		for _, t := range slots {
			c.m.deps.Trunks.Release(t)
		}
		for _, e := range exts {
			c.m.releaseExtension(e)
		}
		caller := c.caller.Extension
		if caller == "" {
			caller = c.a.srv.InviteRequest.From().Address.User
		}
		cdr := &model.CDR{
			CallID: c.callID, Caller: caller, Callee: callee, Direction: c.direction, Trunk: trunk,
			StartTime: start, EndTime: end, Duration: int(end.Sub(start) / time.Second),
			Disposition: o.disp, HangupBy: o.by, HangupCause: o.cause, SIPCode: o.code,
			RTPCallerToCallee: int64(st.AtoB.Packets), RTPCalleeToCaller: int64(st.BtoA.Packets),
		}
		if !answered.IsZero() {
			cdr.AnswerTime = &answered
			cdr.BillSec = int(end.Sub(answered) / time.Second)
		}
		c.log.Info("call ended", "disposition", o.disp, "hangup_by", o.by, "cause", o.cause,
			"code", o.code, "duration", cdr.Duration, "rtp_a_to_b", cdr.RTPCallerToCallee, "rtp_b_to_a", cdr.RTPCalleeToCaller)
		if c.m.deps.CDRs != nil {
			// The CDR is written even during shutdown: detach from cancellation.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.m.context()), 5*time.Second)
			if err := c.m.deps.CDRs.InsertCDR(ctx, cdr); err != nil {
				c.log.Error("cdr write failed", "error", err)
			}
			cancel()
		}
		c.m.active.Done()
	})
}

// abort ends the call from outside (shutdown, admin): BYE both legs if answered,
// otherwise stop ringing; the INVITE handler answers the caller.
func (c *Call) abort(by model.Party, cause string) {
	c.mu.Lock()
	answered := !c.answered.IsZero()
	cancelRing := c.ringCancel
	c.mu.Unlock()
	if !answered {
		c.mu.Lock()
		c.finalCode = 503
		c.mu.Unlock()
		if cancelRing != nil {
			cancelRing()
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.m.context()), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range []*leg{c.a, c.b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.d.Bye(ctx); err != nil {
				c.log.Debug("bye failed", "leg", l.side, "error", err)
			}
		}()
	}
	wg.Wait()
	c.finish(outcome{disp: model.DispAnswered, by: by, cause: cause})
}

// hangup handles a BYE that arrived on from: the other leg gets a BYE.
func (c *Call) hangup(from *leg) {
	party := model.PartyCaller
	if from.side == media.LegB {
		party = model.PartyCallee
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.m.context()), 5*time.Second)
	defer cancel()
	if o := from.other(); o == nil || o.d == nil {
		c.log.Warn("bye with no other leg to end")
	} else if err := o.d.Bye(ctx); err != nil {
		c.log.Debug("bye to the other leg failed", "error", err)
	}
	c.finish(outcome{disp: model.DispAnswered, by: party, cause: "BYE"})
}

// writeRefusedCDR records a call refused before it rang anyone.
func (m *Manager) writeRefusedCDR(req *sip.Request, caller Caller, dialed, direction string, code int, cause string) {
	if m.deps.CDRs == nil {
		return
	}
	now := m.cfg.Now()
	name := caller.Extension
	if name == "" {
		name = req.From().Address.User
	}
	cdr := &model.CDR{CallID: req.CallID().Value(), Caller: name, Callee: dialed, Direction: direction,
		Trunk: caller.Trunk, StartTime: now, EndTime: now, Disposition: disposition(code),
		HangupBy: model.PartySystem, HangupCause: cause, SIPCode: code}
	if code == 486 || code == 600 || code == 603 {
		cdr.HangupBy = model.PartyCallee
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(m.context()), 5*time.Second)
	defer cancel()
	if err := m.deps.CDRs.InsertCDR(ctx, cdr); err != nil {
		m.log.Error("cdr write failed", "error", err)
	}
}

// byeBeforeAnswer stops ringing after the caller's BYE in an early dialog.
func (c *Call) byeBeforeAnswer() {
	c.mu.Lock()
	c.callerBye = true
	stop := c.ringCancel
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// setOffer records the SDP leg l last sent and recomputes the hold flag.
func (c *Call) setOffer(l *leg, o media.Offer) {
	c.mu.Lock()
	l.offer = o
	h := c.a != nil && c.a.offer.OnHold() || c.b != nil && c.b.offer.OnHold()
	c.mu.Unlock()
	c.hold.Store(h)
}

// offerOf returns the SDP leg l last sent.
func (c *Call) offerOf(l *leg) media.Offer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return l.offer
}
