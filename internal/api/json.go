package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/trunkline/trunkline/internal/model"
)

// maxBodyBytes caps request bodies (decodeJSON); an endpoint that needs more
// passes its own limit to decodeJSONMax.
const maxBodyBytes = 1 << 20

// Error is an API error. It is written as {"error": Message, "field": Field,
// "reason": Reason} with status Status. Field names the offending input: a JSON
// field, a query parameter, "body", "path", "method", "authorization" or
// "content-type".
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Field   string `json:"field"`
	Reason  string `json:"reason"`
}

func (e *Error) Error() string { return fmt.Sprintf("api: %d %s", e.Status, e.Message) }

func badRequest(field, reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Message: "invalid " + field + ": " + reason,
		Field: field, Reason: reason}
}

// adapt turns a handlerFunc into an http.Handler.
func (a *API) adapt(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// writeError answers with err in the JSON error format. Validation errors become
// 400; anything not an *Error is logged and answered as an opaque 500.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *Error
	var fe *model.FieldError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = badRequest(fe.Field, fe.Reason)
	default:
		a.log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		ae = &Error{Status: http.StatusInternalServerError, Message: "internal error",
			Field: "", Reason: "internal error"}
	}
	writeJSON(w, ae.Status, ae)
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) // the status is sent; a write error means the client left
}

// decodeJSON reads one JSON object from the body into v: Content-Type must be
// JSON (415), the body at most maxBodyBytes (413), and unknown fields, bad types,
// malformed or trailing data are 400 errors naming the field.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSONMax(w, r, v, maxBodyBytes)
}

// decodeJSONMax is decodeJSON with a body limit of limit bytes.
func decodeJSONMax(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return badRequest("body", "required")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return &Error{Status: http.StatusUnsupportedMediaType,
			Message: "request body must be application/json",
			Field:   "content-type", Reason: "must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return badRequest("body", "must contain a single JSON object")
	}
	return nil
}

// decodeError classifies an encoding/json error.
func decodeError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		size := byteSize(mbe.Limit)
		return &Error{Status: http.StatusRequestEntityTooLarge,
			Message: "request body larger than " + size, Field: "body", Reason: "larger than " + size}
	case errors.Is(err, io.EOF):
		return badRequest("body", "required")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body", "malformed JSON")
	case errors.As(err, &te):
		if te.Field == "" {
			return badRequest("body", "must be "+jsonKind(te.Type))
		}
		return badRequest(te.Field, "must be "+jsonKind(te.Type))
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	if rest, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field, uerr := strconv.Unquote(rest)
		if uerr != nil {
			field = rest
		}
		return &Error{Status: http.StatusBadRequest, Message: "unknown field " + rest,
			Field: field, Reason: "unknown field"}
	}
	return badRequest("body", "malformed JSON")
}

// byteSize writes a body limit as the errors and docs do: "1 MiB", "32 MiB".
func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// jsonKind names a Go type as the JSON value it expects.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a valid value"
}
