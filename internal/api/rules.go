package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

// Routing configuration: inbound and outbound rules, ring groups and the dial
// plan (docs/routing.md). Inputs mirror the model without ID and timestamps;
// "enabled" is optional and defaults to true.

type inboundInput struct {
	Name        string             `json:"name"`
	Priority    int                `json:"priority"`
	Trunk       string             `json:"trunk"`
	DID         string             `json:"did"`
	CallerMask  string             `json:"caller_mask"`
	Destination model.Destination  `json:"destination"`
	Schedule    *model.Schedule    `json:"schedule"`
	AfterHours  *model.Destination `json:"after_hours"`
	Enabled     *bool              `json:"enabled"`
}

func (in inboundInput) rule() model.InboundRule {
	return model.InboundRule{Name: in.Name, Priority: in.Priority, Trunk: in.Trunk, DID: in.DID,
		CallerMask: in.CallerMask, Destination: in.Destination, Schedule: in.Schedule,
		AfterHours: in.AfterHours, Enabled: in.Enabled == nil || *in.Enabled}
}

type outboundInput struct {
	Name       string                `json:"name"`
	Priority   int                   `json:"priority"`
	Enabled    *bool                 `json:"enabled"`
	Match      model.OutboundMatch   `json:"match"`
	Emergency  bool                  `json:"emergency"`
	Routes     []model.OutboundRoute `json:"routes"`
	Strategy   string                `json:"strategy"`
	Permission string                `json:"permission"`
}

func (in outboundInput) rule() model.OutboundRule {
	return model.OutboundRule{Name: in.Name, Priority: in.Priority, Enabled: in.Enabled == nil || *in.Enabled,
		Match: in.Match, Emergency: in.Emergency, Routes: in.Routes, Strategy: in.Strategy, Permission: in.Permission}
}

type ringGroupInput struct {
	Name          string   `json:"name"`
	Strategy      string   `json:"strategy"`
	Members       []string `json:"members"`
	MemberTimeout int      `json:"member_timeout"`
	Enabled       *bool    `json:"enabled"`
}

type dialPlanInput struct {
	CountryCode         string   `json:"country_code"`
	NationalPrefix      string   `json:"national_prefix"`
	InternationalPrefix string   `json:"international_prefix"`
	EmergencyNumbers    []string `json:"emergency_numbers"`
	MobilePrefixes      []string `json:"mobile_prefixes"`
	PremiumPrefixes     []string `json:"premium_prefixes"`
}

func notFound(field, what string) *Error {
	return &Error{Status: http.StatusNotFound, Message: what + " not found", Field: field, Reason: "not found"}
}

func nameTaken(what, name string) *Error {
	return &Error{Status: http.StatusConflict, Message: what + " " + name + " already exists", Field: "name", Reason: "already exists"}
}

// pathID reads the {id} path value.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, notFound("id", "rule "+r.PathValue("id"))
	}
	return id, nil
}

// trunkNames is the set of configured trunks, for rule validation.
func (a *API) trunkNames(ctx context.Context) (map[string]bool, error) {
	list, err := a.opts.Store.ListTrunks(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(list))
	for _, t := range list {
		m[t.Name] = true
	}
	return m, nil
}

// --- inbound rules ---

func (a *API) listInboundRules(w http.ResponseWriter, r *http.Request) error {
	list, err := a.opts.Store.ListInboundRules(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"inbound_rules": list})
	return nil
}

func (a *API) getInboundRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rule, err := a.opts.Store.GetInboundRule(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("id", "inbound rule "+strconv.FormatInt(id, 10))
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rule)
	return nil
}

// inboundBody decodes and validates an inbound rule body.
func (a *API) inboundBody(w http.ResponseWriter, r *http.Request) (model.InboundRule, error) {
	var in inboundInput
	if err := decodeJSON(w, r, &in); err != nil {
		return model.InboundRule{}, err
	}
	rule := in.rule()
	trunks, err := a.trunkNames(r.Context())
	if err != nil {
		return rule, err
	}
	return rule, model.ValidateInboundRule(&rule, trunks)
}

func inboundWriteError(err error, rule *model.InboundRule) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return nameTaken("inbound rule", rule.Name)
	case errors.Is(err, store.ErrReference):
		return badRequest("trunk", "no such trunk")
	case errors.Is(err, store.ErrNotFound):
		return notFound("id", "inbound rule "+strconv.FormatInt(rule.ID, 10))
	}
	return err
}

func (a *API) createInboundRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.inboundBody(w, r)
	if err != nil {
		return err
	}
	if err := a.opts.Store.CreateInboundRule(r.Context(), &rule); err != nil {
		return inboundWriteError(err, &rule)
	}
	a.changed(r)
	w.Header().Set("Location", "/api/v1/inbound-rules/"+strconv.FormatInt(rule.ID, 10))
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

func (a *API) updateInboundRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rule, err := a.inboundBody(w, r)
	if err != nil {
		return err
	}
	rule.ID = id
	if err := a.opts.Store.UpdateInboundRule(r.Context(), &rule); err != nil {
		return inboundWriteError(err, &rule)
	}
	a.changed(r)
	writeJSON(w, http.StatusOK, rule)
	return nil
}

func (a *API) deleteInboundRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := a.opts.Store.DeleteInboundRule(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("id", "inbound rule "+strconv.FormatInt(id, 10))
	} else if err != nil {
		return err
	}
	a.changed(r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- outbound rules ---

func (a *API) listOutboundRules(w http.ResponseWriter, r *http.Request) error {
	list, err := a.opts.Store.ListOutboundRules(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"outbound_rules": list})
	return nil
}

func (a *API) getOutboundRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rule, err := a.opts.Store.GetOutboundRule(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("id", "outbound rule "+strconv.FormatInt(id, 10))
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rule)
	return nil
}

func (a *API) outboundBody(w http.ResponseWriter, r *http.Request) (model.OutboundRule, error) {
	var in outboundInput
	if err := decodeJSON(w, r, &in); err != nil {
		return model.OutboundRule{}, err
	}
	rule := in.rule()
	rule.Defaults()
	trunks, err := a.trunkNames(r.Context())
	if err != nil {
		return rule, err
	}
	return rule, model.ValidateOutboundRule(&rule, trunks)
}

func outboundWriteError(err error, rule *model.OutboundRule) error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return nameTaken("outbound rule", rule.Name)
	case errors.Is(err, store.ErrNotFound):
		return notFound("id", "outbound rule "+strconv.FormatInt(rule.ID, 10))
	}
	return err
}

func (a *API) createOutboundRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := a.outboundBody(w, r)
	if err != nil {
		return err
	}
	if err := a.opts.Store.CreateOutboundRule(r.Context(), &rule); err != nil {
		return outboundWriteError(err, &rule)
	}
	a.changed(r)
	w.Header().Set("Location", "/api/v1/outbound-rules/"+strconv.FormatInt(rule.ID, 10))
	writeJSON(w, http.StatusCreated, rule)
	return nil
}

func (a *API) updateOutboundRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	rule, err := a.outboundBody(w, r)
	if err != nil {
		return err
	}
	rule.ID = id
	if err := a.opts.Store.UpdateOutboundRule(r.Context(), &rule); err != nil {
		return outboundWriteError(err, &rule)
	}
	a.changed(r)
	writeJSON(w, http.StatusOK, rule)
	return nil
}

func (a *API) deleteOutboundRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := a.opts.Store.DeleteOutboundRule(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return notFound("id", "outbound rule "+strconv.FormatInt(id, 10))
	} else if err != nil {
		return err
	}
	a.changed(r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- ring groups ---

func (a *API) listRingGroups(w http.ResponseWriter, r *http.Request) error {
	list, err := a.opts.Store.ListRingGroups(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"ring_groups": list})
	return nil
}

func (a *API) getRingGroup(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	g, err := a.opts.Store.GetRingGroup(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("name", "ring group "+name)
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

func ringGroupBody(w http.ResponseWriter, r *http.Request, path string) (model.RingGroup, error) {
	var in ringGroupInput
	if err := decodeJSON(w, r, &in); err != nil {
		return model.RingGroup{}, err
	}
	if path != "" {
		if in.Name == "" {
			in.Name = path
		}
		if in.Name != path {
			return model.RingGroup{}, badRequest("name", "does not match the path")
		}
	}
	g := model.RingGroup{Name: in.Name, Strategy: in.Strategy, Members: in.Members,
		MemberTimeout: in.MemberTimeout, Enabled: in.Enabled == nil || *in.Enabled}
	g.Defaults()
	return g, model.ValidateRingGroup(&g)
}

func (a *API) createRingGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := ringGroupBody(w, r, "")
	if err != nil {
		return err
	}
	if err := a.opts.Store.CreateRingGroup(r.Context(), &g); errors.Is(err, store.ErrConflict) {
		return nameTaken("ring group", g.Name)
	} else if err != nil {
		return err
	}
	a.changed(r)
	w.Header().Set("Location", "/api/v1/ring-groups/"+g.Name)
	writeJSON(w, http.StatusCreated, g)
	return nil
}

func (a *API) updateRingGroup(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	g, err := ringGroupBody(w, r, name)
	if err != nil {
		return err
	}
	if err := a.opts.Store.UpdateRingGroup(r.Context(), &g); errors.Is(err, store.ErrNotFound) {
		return notFound("name", "ring group "+name)
	} else if err != nil {
		return err
	}
	a.changed(r)
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (a *API) deleteRingGroup(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.opts.Store.DeleteRingGroup(r.Context(), name); errors.Is(err, store.ErrNotFound) {
		return notFound("name", "ring group "+name)
	} else if err != nil {
		return err
	}
	a.changed(r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// --- dial plan ---

// getDialPlan answers the dial plan with its defaults filled in.
func (a *API) getDialPlan(w http.ResponseWriter, r *http.Request) error {
	p, err := a.opts.Store.GetDialPlan(r.Context())
	if err != nil {
		return err
	}
	p.Defaults()
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (a *API) putDialPlan(w http.ResponseWriter, r *http.Request) error {
	var in dialPlanInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	p := model.DialPlan{CountryCode: in.CountryCode, NationalPrefix: in.NationalPrefix,
		InternationalPrefix: in.InternationalPrefix, EmergencyNumbers: in.EmergencyNumbers,
		MobilePrefixes: in.MobilePrefixes, PremiumPrefixes: in.PremiumPrefixes}
	p.Defaults()
	if err := model.ValidateDialPlan(&p); err != nil {
		return err
	}
	if err := a.opts.Store.PutDialPlan(r.Context(), &p); err != nil {
		return err
	}
	a.changed(r)
	writeJSON(w, http.StatusOK, p)
	return nil
}

// trunkInUse refuses to delete a trunk that a rule names (409): an outbound
// route (JSON, unchecked by the store) or an inbound rule.
func (a *API) trunkInUse(ctx context.Context, name string) error {
	outs, err := a.opts.Store.ListOutboundRules(ctx)
	if err != nil {
		return err
	}
	for _, o := range outs {
		for _, rt := range o.Routes {
			if rt.Trunk == name {
				return &Error{Status: http.StatusConflict, Message: "trunk " + name + " is used by outbound rule " + o.Name,
					Field: "name", Reason: "in use by a rule"}
			}
		}
	}
	ins, err := a.opts.Store.ListInboundRules(ctx)
	if err != nil {
		return err
	}
	for _, in := range ins {
		if in.Trunk == name {
			return &Error{Status: http.StatusConflict, Message: "trunk " + name + " is used by inbound rule " + in.Name,
				Field: "name", Reason: "in use by a rule"}
		}
	}
	return nil
}
