package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

// trunkInput is the writable part of a trunk: the request body of POST and PUT.
// It mirrors model.Trunk without the server's timestamps (sending them is an
// unknown field); TestTrunkInputMatchesModel keeps the two in step.
type trunkInput struct {
	Name    string          `json:"name"`
	Kind    model.TrunkKind `json:"kind"`
	Enabled *bool           `json:"enabled"` // absent = true

	Host          string `json:"host"`
	Port          int    `json:"port"`
	Transport     string `json:"transport"`
	OutboundProxy string `json:"outbound_proxy"`

	Username       string `json:"username"`
	AuthID         string `json:"auth_id"`
	Password       string `json:"password"`
	Realm          string `json:"realm"`
	Register       *bool  `json:"register"`
	RegisterExpiry int    `json:"register_expiry"`

	AssociatedIPs []string          `json:"associated_ips"`
	TechPrefix    string            `json:"tech_prefix"`
	Headers       map[string]string `json:"headers"`

	DIDs              []model.TrunkDID `json:"dids"`
	MaxCalls          int              `json:"max_calls"`
	MaxCPS            float64          `json:"max_cps"`
	MaxCallSecs       int              `json:"max_call_seconds"`
	Codecs            []string         `json:"codecs"`
	DTMFMode          string           `json:"dtmf_mode"`
	MediaRelay        *bool            `json:"media_relay"`
	NumberFormat      string           `json:"number_format"`
	DIDSource         string           `json:"did_source"`
	CallerIDHeaders   []string         `json:"caller_id_headers"`
	DefaultCallerID   string           `json:"default_caller_id"`
	CallerIDPolicy    string           `json:"caller_id_policy"`
	FailoverCodes     []int            `json:"failover_codes"`
	InviteTimeoutMS   int              `json:"invite_timeout_ms"`
	ProgressTimeoutMS int              `json:"progress_timeout_ms"`
	OptionsInterval   int              `json:"options_interval"`
	ProbeDownAfter    int              `json:"probe_down_after"`
	ProbeUpAfter      int              `json:"probe_up_after"`
	DefaultOutbound   bool             `json:"default_outbound"`
}

func (in trunkInput) trunk() model.Trunk {
	return model.Trunk{
		Name: in.Name, Kind: in.Kind, Enabled: in.Enabled == nil || *in.Enabled,
		Host: in.Host, Port: in.Port, Transport: in.Transport, OutboundProxy: in.OutboundProxy,
		Username: in.Username, AuthID: in.AuthID, Password: in.Password, Realm: in.Realm,
		Register: in.Register, RegisterExpiry: in.RegisterExpiry,
		AssociatedIPs: in.AssociatedIPs, TechPrefix: in.TechPrefix, Headers: in.Headers,
		DIDs: in.DIDs, MaxCalls: in.MaxCalls, MaxCPS: in.MaxCPS, MaxCallSecs: in.MaxCallSecs,
		Codecs: in.Codecs, DTMFMode: in.DTMFMode, MediaRelay: in.MediaRelay,
		NumberFormat: in.NumberFormat, DIDSource: in.DIDSource,
		CallerIDHeaders: in.CallerIDHeaders, DefaultCallerID: in.DefaultCallerID, CallerIDPolicy: in.CallerIDPolicy,
		FailoverCodes: in.FailoverCodes, InviteTimeoutMS: in.InviteTimeoutMS,
		ProgressTimeoutMS: in.ProgressTimeoutMS, OptionsInterval: in.OptionsInterval,
		ProbeDownAfter: in.ProbeDownAfter, ProbeUpAfter: in.ProbeUpAfter,
		DefaultOutbound: in.DefaultOutbound,
	}
}

// trunkView is a trunk as the API returns it: its configuration without the
// write-only password, plus its live state when the runtime knows it.
type trunkView struct {
	model.Trunk
	Status *model.TrunkState `json:"status,omitempty"`
}

func (a *API) trunkView(t model.Trunk, states map[string]model.TrunkState) trunkView {
	t.Password = ""
	v := trunkView{Trunk: t}
	if s, ok := states[t.Name]; ok {
		v.Status = &s
	}
	return v
}

// trunkStates snapshots the runtime's states by name; nil without a runtime.
func (a *API) trunkStates() map[string]model.TrunkState {
	if a.opts.Trunks == nil {
		return nil
	}
	list := a.opts.Trunks.States()
	m := make(map[string]model.TrunkState, len(list))
	for _, s := range list {
		m[s.Name] = s
	}
	return m
}

// trunkState is the state of one trunk as a map for trunkView.
func (a *API) trunkState(name string) map[string]model.TrunkState {
	if a.opts.Trunks == nil {
		return nil
	}
	if s, ok := a.opts.Trunks.State(name); ok {
		return map[string]model.TrunkState{name: s}
	}
	return nil
}

func trunkNotFound(name string) *Error {
	return &Error{Status: http.StatusNotFound, Message: "trunk " + name + " not found",
		Field: "name", Reason: "not found"}
}

func (a *API) listTrunks(w http.ResponseWriter, r *http.Request) error {
	list, err := a.opts.Store.ListTrunks(r.Context())
	if err != nil {
		return err
	}
	states := a.trunkStates()
	out := make([]trunkView, len(list))
	for i, t := range list {
		out[i] = a.trunkView(t, states)
	}
	writeJSON(w, http.StatusOK, map[string]any{"trunks": out})
	return nil
}

func (a *API) createTrunk(w http.ResponseWriter, r *http.Request) error {
	var in trunkInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	t := in.trunk()
	t.Defaults()
	if err := model.ValidateTrunk(&t); err != nil {
		return err
	}
	if err := a.accountFree(r.Context(), t); err != nil {
		return err
	}
	if err := a.opts.Store.CreateTrunk(r.Context(), &t); errors.Is(err, store.ErrConflict) {
		return a.trunkConflict(r.Context(), &t, true)
	} else if err != nil {
		return err
	}
	a.changed(r)
	w.Header().Set("Location", "/api/v1/trunks/"+t.Name)
	writeJSON(w, http.StatusCreated, a.trunkView(t, a.trunkState(t.Name)))
	return nil
}

func (a *API) getTrunk(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	t, err := a.opts.Store.GetTrunk(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return trunkNotFound(name)
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, a.trunkView(t, a.trunkState(name)))
	return nil
}

// updateTrunk replaces a trunk. The body's name may be omitted but must otherwise
// equal the path's (no renames); an empty password keeps the stored one; omitted
// fields take their defaults, as on create.
func (a *API) updateTrunk(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var in trunkInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Name == "" {
		in.Name = name
	}
	if in.Name != name {
		return badRequest("name", "does not match the path")
	}
	t := in.trunk()
	old, err := a.opts.Store.GetTrunk(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return trunkNotFound(name)
	} else if err != nil {
		return err
	}
	if t.Password == "" {
		t.Password = old.Password
	}
	t.Defaults()
	if err := model.ValidateTrunk(&t); err != nil {
		return err
	}
	if err := a.accountFree(r.Context(), t); err != nil {
		return err
	}
	switch err := a.opts.Store.UpdateTrunk(r.Context(), &t); {
	case errors.Is(err, store.ErrNotFound):
		return trunkNotFound(name) // deleted meanwhile
	case errors.Is(err, store.ErrConflict):
		return a.trunkConflict(r.Context(), &t, false)
	case err != nil:
		return err
	}
	a.changed(r)
	writeJSON(w, http.StatusOK, a.trunkView(t, a.trunkState(name)))
	return nil
}

func (a *API) deleteTrunk(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.trunkInUse(r.Context(), name); err != nil {
		return err
	}
	err := a.opts.Store.DeleteTrunk(r.Context(), name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return trunkNotFound(name)
	case errors.Is(err, store.ErrReference):
		return &Error{Status: http.StatusConflict, Message: "trunk " + name + " is used by an inbound rule",
			Field: "name", Reason: "in use by a rule"}
	case err != nil:
		return err
	}
	a.changed(r)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// trunkStatus answers the live state of one trunk: 404 if no such trunk is
// configured, 503 if there is no runtime or it has not loaded the trunk yet.
func (a *API) trunkStatus(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if a.opts.Trunks == nil {
		return &Error{Status: http.StatusServiceUnavailable, Message: "the trunk runtime is not running",
			Field: "trunks", Reason: "trunk runtime not running"}
	}
	if _, err := a.opts.Store.GetTrunk(r.Context(), name); errors.Is(err, store.ErrNotFound) {
		return trunkNotFound(name)
	} else if err != nil {
		return err
	}
	s, ok := a.opts.Trunks.State(name)
	if !ok {
		return &Error{Status: http.StatusServiceUnavailable,
			Message: "trunk " + name + " is not loaded by the trunk runtime yet",
			Field:   "trunks", Reason: "trunk not loaded yet"}
	}
	writeJSON(w, http.StatusOK, s)
	return nil
}

// trunkConflict explains a store.ErrConflict from creating or updating t: the
// name is taken (create only) or one of its DIDs belongs to another trunk. The
// store does not say which, so look: the answer can only be off if another
// write raced this one, and then the message still names a real conflict kind.
func (a *API) trunkConflict(ctx context.Context, t *model.Trunk, create bool) error {
	if create {
		if _, err := a.opts.Store.GetTrunk(ctx, t.Name); err == nil {
			return &Error{Status: http.StatusConflict, Message: "trunk " + t.Name + " already exists",
				Field: "name", Reason: "already exists"}
		}
	}
	msg := "a DID of trunk " + t.Name + " belongs to another trunk"
	if list, err := a.opts.Store.ListTrunks(ctx); err == nil {
		for _, other := range list {
			if other.Name == t.Name {
				continue
			}
			for _, d := range t.DIDs {
				if i := slices.IndexFunc(other.DIDs, func(o model.TrunkDID) bool { return sameDID(o.Number, d.Number) }); i >= 0 {
					msg = "DID " + other.DIDs[i].Number + " belongs to trunk " + other.Name
					return &Error{Status: http.StatusConflict, Message: msg,
						Field: "dids", Reason: "already assigned to another trunk"}
				}
			}
		}
	}
	return &Error{Status: http.StatusConflict, Message: msg, Field: "dids", Reason: "already assigned to another trunk"}
}

// sameDID reports whether two DIDs are the same number: they compare without
// their leading "+", as the store and routing do.
func sameDID(a, b string) bool { return strings.TrimPrefix(a, "+") == strings.TrimPrefix(b, "+") }

// accountFree refuses an accept_register trunk whose user name is an extension's
// number: both authenticate as the same digest user, and only one can win.
func (a *API) accountFree(ctx context.Context, t model.Trunk) error {
	if t.Kind != model.TrunkAcceptRegister {
		return nil
	}
	if _, err := a.opts.Store.GetExtension(ctx, t.Username); err == nil {
		return &Error{Status: http.StatusConflict, Message: "extension " + t.Username + " already uses this name",
			Field: "username", Reason: "an extension has this number"}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}
