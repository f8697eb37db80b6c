package trunk

import (
	"context"
	"fmt"
	"time"

	"github.com/emiago/sipgo/sip"
)

// probeResult is what an OPTIONS probe goroutine reports to the runner.
type probeResult struct {
	target   Target
	started  time.Time
	answered bool
	code     int
	reason   string
	rtt      time.Duration
}

// probeTimeout is the wait for one probe's answer: ProbeTimeout, else
// RequestTimeout, never longer than the interval (so at most one probe is in
// flight and they still come at the configured rate).
func (r *runner) probeTimeout() time.Duration {
	d := r.cfg.ProbeTimeout
	if d <= 0 {
		d = r.cfg.RequestTimeout
	}
	return min(d, r.set.probeInterval)
}

// startProbe sends one OPTIONS to the current target from a helper goroutine
// that reports on probeRes. At most one is in flight (style: CoreDNS
// plugin/pkg/up). A trunk with nothing resolved counts a miss.
func (r *runner) startProbe(ctx context.Context) {
	if r.probeBusy || r.set.probeInterval <= 0 {
		return
	}
	if len(r.targets) == 0 {
		r.resolve(ctx)
	}
	now := r.cfg.Now()
	if len(r.targets) == 0 {
		r.probeDone(probeResult{started: now, reason: "no address for " + r.host})
		return
	}
	tg := r.targets[r.cur]
	req := r.buildOptions(tg)
	timeout := r.probeTimeout()
	r.probeBusy = true
	r.probeWG.Add(1)
	go func() {
		defer r.probeWG.Done()
		res, err := r.do(ctx, tg, req, timeout)
		pr := probeResult{target: tg, started: now, rtt: r.cfg.Now().Sub(now)}
		if err != nil {
			pr.reason = fmt.Sprintf("OPTIONS to %s: %v", tg.Addr, err)
		} else {
			pr.answered, pr.code, pr.reason = true, res.StatusCode, res.Reason
		}
		r.probeRes <- pr // capacity 1 and one probe in flight: never blocks
	}()
}

// probeDone applies a probe result: any response, even 404, 405 or 501,
// means the provider is reachable; only silence is a miss. A trunk that
// does not register moves to its next target after a miss (RFC 3263 §4.3);
// a registered trunk keeps probing the target that holds its registration,
// and when that goes down it re-REGISTERs at once, which fails over.
func (r *runner) probeDone(pr probeResult) {
	r.probeBusy = false
	if r.set.probeInterval <= 0 {
		return // probing was switched off while this one was out
	}
	changed := r.probe.observe(pr.answered, pr.rtt)
	r.probeCode, r.probeErr = pr.code, ""
	if !pr.answered {
		r.probeErr = pr.reason
		if !r.t.Registers() && len(r.targets) > 1 && r.targets[r.cur].AddrPort == pr.target.AddrPort {
			r.next()
		}
	}
	if changed {
		r.log.Debug("trunk: probe", "reachability", r.probe.reach, "code", pr.code, "rtt", pr.rtt)
		if r.probe.reach == ReachDown && r.t.Registers() && r.reg.state == RegRegistered {
			r.regTimer.Reset(0)
		}
	}
	r.publish()
	elapsed := r.cfg.Now().Sub(pr.started)
	r.probeTimer.Reset(max(r.set.probeInterval-elapsed, 0))
}

// buildOptions builds an out-of-dialog OPTIONS (RFC 3261 §11) to the
// provider's domain, from our Contact address.
func (r *runner) buildOptions(tg Target) *sip.Request {
	ruri := sip.Uri{Scheme: "sip", Host: r.host, Port: r.t.Port}
	if r.set.transport != "udp" {
		ruri.UriParams = sip.NewParams()
		ruri.UriParams.Add("transport", r.set.transport)
	}
	req := sip.NewRequest(sip.OPTIONS, ruri)
	r.addCommon(req, tg)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: r.contactUser, Host: r.cfg.ContactHost}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: r.host}})
	callID := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.OPTIONS})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(r.contact())
	req.SetBody(nil)
	return req
}
