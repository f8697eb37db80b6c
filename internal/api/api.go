// Package api is Trunkline's REST API: JSON over net/http's ServeMux (Go 1.22
// method and wildcard patterns), bearer-token auth, uniform JSON errors and a
// served OpenAPI 3 document. The route table in routes() is the single source of
// truth for the mux, the auth policy and the OpenAPI consistency test.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/store"
)

// Options configures an API. Store and Token are required; every other field may
// be nil.
type Options struct {
	Store store.Store
	// Token is the bearer token required for everything under /api/v1 except
	// GET /api/v1/health. An empty token locks the API: every such request gets 401.
	Token string
	// Registrations is the live location service (GET /api/v1/registrations);
	// nil = no registrations.
	Registrations interface{ Bindings() []model.Binding }
	// Calls is the live call table (GET /api/v1/calls); nil = no calls.
	Calls interface{ Active() []model.ActiveCall }
	// Trunks is the live trunk runtime: State returns one trunk's state (false if
	// the runtime does not know it), States every known trunk's. It feeds
	// GET /api/v1/trunks/{name}/status and the "status" of trunk responses; nil =
	// no runtime (status answers 503).
	Trunks interface {
		State(name string) (model.TrunkState, bool)
		States() []model.TrunkState
	}
	// TrunkStatus is the trunk runtime as the routing dry run (POST
	// /api/v1/route/test) shows it: Usable says whether call control would try the
	// trunk now (not down, not at its limit), State its live state. nil = the dry
	// run shows no runtime state.
	TrunkStatus interface {
		Usable(name string) bool
		State(name string) (model.TrunkState, bool)
	}
	// Now is the clock of the routing dry run when the request gives no "at";
	// nil = time.Now.
	Now func() time.Time
	// OnChange is called after every successful configuration write (extensions,
	// trunks, rules; once for a whole extension import), before the response is
	// sent, so the runtime reloads its snapshot. Its context carries the request's values but is not
	// cancelled when the client goes away.
	OnChange func(ctx context.Context)
	// OnExtension, when set, is called instead of OnChange after a write to one
	// extension, with its number, so the runtime can update just that entry: a full
	// reload per write made creating n extensions O(n²) (docs/benchmarks.md).
	OnExtension func(ctx context.Context, number string)
	// Metrics is served at /metrics without auth when non-nil.
	Metrics http.Handler
	// Debug is served at /debug/pprof/ behind the admin token if non-nil.
	Debug http.Handler
	// Console is served at / (everything outside /api/ and /metrics) without auth
	// when non-nil.
	Console http.Handler
	// Log receives request and error logs; nil = discard.
	Log *slog.Logger
}

// API serves the REST API. Build it with New; it holds no goroutine.
type API struct {
	opts      Options
	log       *slog.Logger
	tokenHash [sha256.Size]byte
	mux       *http.ServeMux
	public    map[string]bool // patterns served without a token
}

// handlerFunc is an API handler: it writes a success response or returns an error
// that serveAPI turns into the JSON error format.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// route is one entry of the route table.
type route struct {
	method, path string
	public       bool // no bearer token required
	handle       handlerFunc
}

func (rt route) pattern() string { return rt.method + " " + rt.path }

// routes is the route table: the mux, the auth policy and the OpenAPI test all
// read it.
func (a *API) routes() []route {
	return []route{
		{"GET", "/api/v1/health", true, a.health},
		{"GET", "/api/v1/openapi.json", false, a.openAPI},
		{"GET", "/api/v1/extensions", false, a.listExtensions},
		{"POST", "/api/v1/extensions", false, a.createExtension},
		{"POST", "/api/v1/extensions/import", false, a.importExtensions},
		{"GET", "/api/v1/extensions/{number}", false, a.getExtension},
		{"PUT", "/api/v1/extensions/{number}", false, a.updateExtension},
		{"DELETE", "/api/v1/extensions/{number}", false, a.deleteExtension},
		{"GET", "/api/v1/trunks", false, a.listTrunks},
		{"POST", "/api/v1/trunks", false, a.createTrunk},
		{"GET", "/api/v1/trunks/{name}", false, a.getTrunk},
		{"PUT", "/api/v1/trunks/{name}", false, a.updateTrunk},
		{"DELETE", "/api/v1/trunks/{name}", false, a.deleteTrunk},
		{"GET", "/api/v1/trunks/{name}/status", false, a.trunkStatus},
		{"GET", "/api/v1/inbound-rules", false, a.listInboundRules},
		{"POST", "/api/v1/inbound-rules", false, a.createInboundRule},
		{"GET", "/api/v1/inbound-rules/{id}", false, a.getInboundRule},
		{"PUT", "/api/v1/inbound-rules/{id}", false, a.updateInboundRule},
		{"DELETE", "/api/v1/inbound-rules/{id}", false, a.deleteInboundRule},
		{"GET", "/api/v1/outbound-rules", false, a.listOutboundRules},
		{"POST", "/api/v1/outbound-rules", false, a.createOutboundRule},
		{"GET", "/api/v1/outbound-rules/{id}", false, a.getOutboundRule},
		{"PUT", "/api/v1/outbound-rules/{id}", false, a.updateOutboundRule},
		{"DELETE", "/api/v1/outbound-rules/{id}", false, a.deleteOutboundRule},
		{"GET", "/api/v1/ring-groups", false, a.listRingGroups},
		{"POST", "/api/v1/ring-groups", false, a.createRingGroup},
		{"GET", "/api/v1/ring-groups/{name}", false, a.getRingGroup},
		{"PUT", "/api/v1/ring-groups/{name}", false, a.updateRingGroup},
		{"DELETE", "/api/v1/ring-groups/{name}", false, a.deleteRingGroup},
		{"GET", "/api/v1/dialplan", false, a.getDialPlan},
		{"PUT", "/api/v1/dialplan", false, a.putDialPlan},
		{"POST", "/api/v1/route/test", false, a.routeTest},
		{"GET", "/api/v1/registrations", false, a.listRegistrations},
		{"GET", "/api/v1/calls", false, a.listCalls},
		{"GET", "/api/v1/cdrs", false, a.listCDRs},
	}
}

// New builds an API from opts.
func New(opts Options) *API {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &API{opts: opts, log: log, mux: http.NewServeMux(), public: map[string]bool{}}
	if opts.Token == "" {
		log.Warn("api: no admin token configured; the API refuses every authenticated request")
	}
	a.tokenHash = sha256.Sum256([]byte(opts.Token))
	for _, rt := range a.routes() {
		a.mux.Handle(rt.pattern(), a.adapt(rt.handle))
		if rt.public {
			a.public[rt.pattern()] = true
		}
	}
	return a
}

// Handler returns the whole HTTP surface: /api/ (JSON, token auth), /metrics and
// the console, wrapped in recovery and request logging.
func (a *API) Handler() http.Handler {
	root := http.NewServeMux()
	root.Handle("/api/", http.HandlerFunc(a.serveAPI))
	if a.opts.Metrics != nil {
		root.Handle("/metrics", a.opts.Metrics)
	}
	if a.opts.Debug != nil {
		// Profiles reveal internals: behind the admin token like the API.
		root.Handle("/debug/pprof/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := a.authenticate(w, r); err != nil {
				a.writeError(w, r, err)
				return
			}
			a.opts.Debug.ServeHTTP(w, r)
		}))
	}
	if a.opts.Console != nil {
		root.Handle("/", a.opts.Console)
	}
	return chain(root, a.recoverPanics, a.logRequests)
}

// serveAPI authenticates, then dispatches to the API mux; requests matching no
// route get JSON 404 or 405 (with Allow) instead of the mux's plain-text answers.
func (a *API) serveAPI(w http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	if !a.public[pattern] {
		if err := a.authenticate(w, r); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	if pattern != "" {
		a.mux.ServeHTTP(w, r)
		return
	}
	// No pattern: h is the mux's NotFound or MethodNotAllowed handler. Run it
	// against a recorder to learn which, and the Allow header it computed.
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		a.writeError(w, r, &Error{Status: http.StatusMethodNotAllowed,
			Message: "method " + r.Method + " not allowed on " + r.URL.Path,
			Field:   "method", Reason: "not allowed"})
		return
	}
	a.writeError(w, r, &Error{Status: http.StatusNotFound,
		Message: "no such endpoint: " + r.URL.Path, Field: "path", Reason: "not found"})
}

// authenticate checks the bearer token (RFC 6750) in constant time.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request) error {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="trunkline"`)
		return &Error{Status: http.StatusUnauthorized, Message: "missing bearer token",
			Field: "authorization", Reason: "missing bearer token"}
	}
	// Comparing fixed-size hashes hides the token's length as well as its bytes.
	got := sha256.Sum256([]byte(token))
	if a.opts.Token == "" || subtle.ConstantTimeCompare(got[:], a.tokenHash[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="trunkline", error="invalid_token"`)
		return &Error{Status: http.StatusUnauthorized, Message: "invalid bearer token",
			Field: "authorization", Reason: "invalid token"}
	}
	return nil
}

// changed tells the runtime that configuration was written.
func (a *API) changed(r *http.Request) {
	if a.opts.OnChange != nil {
		a.opts.OnChange(context.WithoutCancel(r.Context()))
	}
}

// changedExtension tells the runtime that one extension was written.
func (a *API) changedExtension(r *http.Request, number string) {
	if a.opts.OnExtension != nil {
		a.opts.OnExtension(context.WithoutCancel(r.Context()), number)
		return
	}
	a.changed(r)
}

// headerRecorder captures the status and headers of the mux's fallback handlers.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(status int)      { h.status = status }
