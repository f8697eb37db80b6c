package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// Limits of an extension import (POST /api/v1/extensions/import).
const (
	// maxImportExtensions caps the entries of one import: enough for an MSP to
	// provision 100,000 phones in one request.
	maxImportExtensions = 100_000
	// maxImportBodyBytes is the import's own body limit, instead of the 1 MiB of
	// every other request (maxBodyBytes), which holds only ~6,000 entries. A
	// typical entry (number, name, password, caller ID, default permissions) is
	// 150-200 bytes of JSON, so 100,000 of them are 15-20 MB; 32 MiB leaves
	// ~330 bytes per entry at the entry cap.
	maxImportBodyBytes = 32 << 20
)

// importInput is the body of POST /api/v1/extensions/import. Its entries are
// decoded one at a time (decodeEntry), so that an error names the entry.
type importInput struct {
	Extensions []json.RawMessage `json:"extensions"`
}

// importExtensions creates many extensions at once: every entry is decoded and
// validated, then checked for duplicates and accept_register user names, before
// anything is written; the store writes them in one transaction, all or nothing;
// the runtime then reloads once (OnChange) instead of once per extension.
// Errors name the entry: "extensions[17].password".
func (a *API) importExtensions(w http.ResponseWriter, r *http.Request) error {
	var in importInput
	if err := decodeJSONMax(w, r, &in, maxImportBodyBytes); err != nil {
		return err
	}
	switch {
	case len(in.Extensions) == 0:
		return badRequest("extensions", "must not be empty")
	case len(in.Extensions) > maxImportExtensions:
		return badRequest("extensions", fmt.Sprintf("more than %d entries", maxImportExtensions))
	}
	es := make([]*model.Extension, len(in.Extensions))
	for i, raw := range in.Extensions {
		var ei extensionInput
		if err := decodeEntry(raw, &ei); err != nil {
			return entryError(i, err)
		}
		e := ei.extension()
		if ei.Permissions == nil {
			e.Permissions = model.DefaultPermissions()
		}
		if err := model.ValidateExtension(&e, true); err != nil {
			return entryError(i, err)
		}
		es[i] = &e
	}
	index := make(map[string]int, len(es)) // number -> entry
	for i, e := range es {
		if j, dup := index[e.Number]; dup {
			return &Error{Status: http.StatusConflict,
				Message: fmt.Sprintf("extension %s is listed twice: extensions[%d] and extensions[%d]", e.Number, j, i),
				Field:   entryField(i, "number"), Reason: "listed twice"}
		}
		index[e.Number] = i
	}
	trunks, err := a.opts.Store.ListTrunks(r.Context())
	if err != nil {
		return err
	}
	for _, t := range trunks {
		if i, ok := index[t.Username]; ok && t.Kind == model.TrunkAcceptRegister {
			return &Error{Status: http.StatusConflict,
				Message: fmt.Sprintf("extensions[%d]: trunk %s issues the user name %s", i, t.Name, t.Username),
				Field:   entryField(i, "number"), Reason: "used by accept_register trunk " + t.Name}
		}
	}
	if err := a.opts.Store.CreateExtensions(r.Context(), es); err != nil {
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			field := "extensions"
			if i, ok := index[ce.Key]; ok {
				field = entryField(i, "number")
			}
			return &Error{Status: http.StatusConflict, Message: "extension " + ce.Key + " already exists",
				Field: field, Reason: "already exists"}
		}
		if errors.Is(err, store.ErrConflict) { // a backend that does not say which
			return &Error{Status: http.StatusConflict, Message: "an extension already exists",
				Field: "extensions", Reason: "already exists"}
		}
		return err
	}
	a.changed(r)
	writeJSON(w, http.StatusCreated, map[string]int{"created": len(es)})
	return nil
}

// decodeEntry decodes one import entry as decodeJSON decodes a body: unknown
// fields and wrong types are errors naming the field.
func decodeEntry(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// entryField is the field name of import entry i: "extensions[17].password";
// field "" names the entry itself.
func entryField(i int, field string) string {
	if field == "" {
		return fmt.Sprintf("extensions[%d]", i)
	}
	return fmt.Sprintf("extensions[%d].%s", i, field)
}

// entryError moves a decoding or validation error of import entry i under the
// entry's name: field "password" becomes "extensions[i].password", and an error
// about the whole value ("body") "extensions[i]".
func entryError(i int, err error) error {
	var fe *model.FieldError
	if errors.As(err, &fe) {
		return badRequest(entryField(i, fe.Field), fe.Reason)
	}
	var ae *Error
	if errors.As(err, &ae) {
		field := ae.Field
		if field == "body" {
			field = ""
		}
		return &Error{Status: ae.Status, Message: "invalid " + entryField(i, field) + ": " + ae.Reason,
			Field: entryField(i, field), Reason: ae.Reason}
	}
	return err
}
