package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/routing"
	"github.com/trunkline/trunkline/internal/store"
)

// routeTestInput is the body of POST /api/v1/route/test: a call from an
// extension (from, to) or from a trunk (trunk, did, caller), at a time (RFC 3339,
// default now).
type routeTestInput struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Trunk  string `json:"trunk"`
	DID    string `json:"did"`
	Caller string `json:"caller"`
	At     string `json:"at"`
}

// routeTestTarget is a routing.Target as the dry run shows it, with the trunk's
// live state when the runtime is known (Options.TrunkStatus).
type routeTestTarget struct {
	Kind        routing.TargetKind `json:"kind"`
	Extension   string             `json:"extension,omitempty"`
	Extensions  []string           `json:"extensions,omitempty"`
	Trunk       string             `json:"trunk,omitempty"`
	Number      string             `json:"number"`
	CallerID    string             `json:"caller_id"`
	RingTimeout float64            `json:"ring_timeout,omitempty"` // seconds
	Anonymous   bool               `json:"anonymous,omitempty"`
	Emergency   bool               `json:"emergency,omitempty"`
	Route       string             `json:"route"`
	Usable      *bool              `json:"usable,omitempty"`
	State       *model.TrunkState  `json:"state,omitempty"`
}

// routeTestResult is the whole decision.
type routeTestResult struct {
	Direction  string            `json:"direction"`
	At         time.Time         `json:"at"`
	Number     routing.Number    `json:"number"`
	Rule       string            `json:"rule"`
	RejectCode int               `json:"reject_code,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Targets    []routeTestTarget `json:"targets"`
	Explain    []routing.Step    `json:"explain"`
	Warnings   []string          `json:"warnings,omitempty"`
}

// routeTest is the dry run: it builds a routing snapshot from the stored
// configuration (what the runtime uses after its next reload) and routes the
// described call without placing it.
func (a *API) routeTest(w http.ResponseWriter, r *http.Request) error {
	var in routeTestInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	at := a.now()
	if in.At != "" {
		t, err := time.Parse(time.RFC3339, in.At)
		if err != nil {
			return badRequest("at", "must be an RFC 3339 time")
		}
		at = t
	}
	req := routing.Request{Now: at}
	ctx := r.Context()
	switch {
	case in.Trunk != "" || in.DID != "":
		switch {
		case in.From != "" || in.To != "":
			return badRequest("from", "not allowed with trunk and did")
		case in.Trunk == "":
			return badRequest("trunk", "required with did")
		case in.DID == "":
			return badRequest("did", "required with trunk")
		}
		if _, err := a.opts.Store.GetTrunk(ctx, in.Trunk); errors.Is(err, store.ErrNotFound) {
			return badRequest("trunk", "no such trunk")
		} else if err != nil {
			return err
		}
		req.FromTrunk, req.Dialed, req.CallerNumber = in.Trunk, in.DID, in.Caller
	default:
		switch {
		case in.From == "":
			return badRequest("from", "required (or trunk and did)")
		case in.To == "":
			return badRequest("to", "required")
		case in.Caller != "":
			return badRequest("caller", "only allowed with trunk and did")
		}
		if _, err := a.opts.Store.GetExtension(ctx, in.From); errors.Is(err, store.ErrNotFound) {
			return badRequest("from", "no such extension")
		} else if err != nil {
			return err
		}
		req.FromExtension, req.Dialed = in.From, in.To
	}
	snap, err := a.routingSnapshot(ctx)
	if err != nil {
		return err
	}
	d := snap.Route(req)
	out := routeTestResult{Direction: d.Direction, At: at, Number: d.Number, Rule: d.Rule,
		RejectCode: d.RejectCode, Reason: d.Reason, Targets: []routeTestTarget{}, Explain: d.Explain,
		Warnings: snap.Warnings()}
	for _, t := range d.Targets {
		v := routeTestTarget{Kind: t.Kind, Extension: t.Extension, Extensions: t.Extensions, Trunk: t.Trunk,
			Number: t.Number, CallerID: t.CallerID, RingTimeout: t.RingTimeout.Seconds(),
			Anonymous: t.Anonymous, Emergency: t.Emergency, Route: t.Route}
		if t.Kind == routing.TargetTrunk && a.opts.TrunkStatus != nil {
			usable := a.opts.TrunkStatus.Usable(t.Trunk)
			v.Usable = &usable
			if st, ok := a.opts.TrunkStatus.State(t.Trunk); ok {
				v.State = &st
			}
		}
		out.Targets = append(out.Targets, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// routingSnapshot builds a routing snapshot from the store, as app.Reload does.
func (a *API) routingSnapshot(ctx context.Context) (*routing.Snapshot, error) {
	var c routing.Config
	var err error
	if c.Extensions, err = a.opts.Store.ListExtensions(ctx); err != nil {
		return nil, err
	}
	if c.Trunks, err = a.opts.Store.ListTrunks(ctx); err != nil {
		return nil, err
	}
	if c.InboundRules, err = a.opts.Store.ListInboundRules(ctx); err != nil {
		return nil, err
	}
	if c.OutboundRules, err = a.opts.Store.ListOutboundRules(ctx); err != nil {
		return nil, err
	}
	if c.RingGroups, err = a.opts.Store.ListRingGroups(ctx); err != nil {
		return nil, err
	}
	if c.DialPlan, err = a.opts.Store.GetDialPlan(ctx); err != nil {
		return nil, err
	}
	return routing.NewSnapshot(c), nil
}

// now is Options.Now or the wall clock.
func (a *API) now() time.Time {
	if a.opts.Now != nil {
		return a.opts.Now()
	}
	return time.Now()
}
