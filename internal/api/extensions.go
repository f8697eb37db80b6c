package api

import (
	"errors"
	"net/http"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

// extensionInput is the writable part of an extension: the request body of POST
// and PUT. Timestamps are the server's, so sending them is an unknown field.
type extensionInput struct {
	Number   string `json:"number"`
	Name     string `json:"name"`
	Password string `json:"password"`
	CallerID string `json:"caller_id"`
	MaxCalls int    `json:"max_calls"`
	Disabled bool   `json:"disabled"`
	// Permissions absent: model.DefaultPermissions on create, the stored ones on
	// update.
	Permissions *[]string `json:"permissions"`
}

func (in extensionInput) extension() model.Extension {
	e := model.Extension{Number: in.Number, Name: in.Name, Password: in.Password,
		CallerID: in.CallerID, MaxCalls: in.MaxCalls, Disabled: in.Disabled}
	if in.Permissions != nil {
		e.Permissions = *in.Permissions
		if e.Permissions == nil { // "permissions": null
			e.Permissions = []string{}
		}
	}
	return e
}

// public strips the write-only password.
func public(e model.Extension) model.Extension {
	e.Password = ""
	return e
}

func extensionNotFound(number string) *Error {
	return &Error{Status: http.StatusNotFound, Message: "extension " + number + " not found",
		Field: "number", Reason: "not found"}
}

func (a *API) listExtensions(w http.ResponseWriter, r *http.Request) error {
	list, err := a.opts.Store.ListExtensions(r.Context())
	if err != nil {
		return err
	}
	out := make([]model.Extension, len(list))
	for i, e := range list {
		out[i] = public(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"extensions": out})
	return nil
}

func (a *API) createExtension(w http.ResponseWriter, r *http.Request) error {
	var in extensionInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	e := in.extension()
	if in.Permissions == nil {
		e.Permissions = model.DefaultPermissions()
	}
	if err := model.ValidateExtension(&e, true); err != nil {
		return err
	}
	trunks, err := a.opts.Store.ListTrunks(r.Context())
	if err != nil {
		return err
	}
	for _, t := range trunks {
		if t.Kind == model.TrunkAcceptRegister && t.Username == e.Number {
			return &Error{Status: http.StatusConflict, Message: "trunk " + t.Name + " issues this user name",
				Field: "number", Reason: "used by accept_register trunk " + t.Name}
		}
	}
	if err := a.opts.Store.CreateExtension(r.Context(), &e); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return &Error{Status: http.StatusConflict, Message: "extension " + e.Number + " already exists",
				Field: "number", Reason: "already exists"}
		}
		return err
	}
	a.changedExtension(r, e.Number)
	w.Header().Set("Location", "/api/v1/extensions/"+e.Number)
	writeJSON(w, http.StatusCreated, public(e))
	return nil
}

func (a *API) getExtension(w http.ResponseWriter, r *http.Request) error {
	number := r.PathValue("number")
	e, err := a.opts.Store.GetExtension(r.Context(), number)
	if errors.Is(err, store.ErrNotFound) {
		return extensionNotFound(number)
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, public(e))
	return nil
}

// updateExtension replaces an extension. The body's number may be omitted but must
// otherwise equal the path's; an empty password keeps the stored one.
func (a *API) updateExtension(w http.ResponseWriter, r *http.Request) error {
	number := r.PathValue("number")
	var in extensionInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if in.Number == "" {
		in.Number = number
	}
	if in.Number != number {
		return badRequest("number", "does not match the path")
	}
	e := in.extension()
	if err := model.ValidateExtension(&e, false); err != nil {
		return err
	}
	old, err := a.opts.Store.GetExtension(r.Context(), number)
	if errors.Is(err, store.ErrNotFound) {
		return extensionNotFound(number)
	} else if err != nil {
		return err
	}
	if e.Password == "" {
		e.Password = old.Password
	}
	if in.Permissions == nil {
		e.Permissions = old.Permissions
	}
	if err := a.opts.Store.UpdateExtension(r.Context(), &e); errors.Is(err, store.ErrNotFound) {
		return extensionNotFound(number) // deleted meanwhile
	} else if err != nil {
		return err
	}
	a.changedExtension(r, e.Number)
	writeJSON(w, http.StatusOK, public(e))
	return nil
}

func (a *API) deleteExtension(w http.ResponseWriter, r *http.Request) error {
	number := r.PathValue("number")
	err := a.opts.Store.DeleteExtension(r.Context(), number)
	if errors.Is(err, store.ErrNotFound) {
		return extensionNotFound(number)
	} else if err != nil {
		return err
	}
	a.changedExtension(r, number)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
