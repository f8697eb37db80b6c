// Package app wires Trunkline's components together from the process configuration,
// runs them and shuts them down. It holds no telephony logic.
package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/trunkline/trunkline/internal/api"
	"github.com/trunkline/trunkline/internal/call"
	"github.com/trunkline/trunkline/internal/config"
	"github.com/trunkline/trunkline/internal/media"
	"github.com/trunkline/trunkline/internal/routing"
	"github.com/trunkline/trunkline/internal/sipedge"
	"github.com/trunkline/trunkline/internal/store"
	"github.com/trunkline/trunkline/internal/store/sqlite"
	"github.com/trunkline/trunkline/internal/trunk"
	"github.com/trunkline/trunkline/internal/web"
)

// App is one running Trunkline.
type App struct {
	cfg   config.Config
	log   *slog.Logger
	store store.Store
	table *routing.Table
	edge  *sipedge.Edge
	calls *call.Manager
	media *media.Manager
	loc   *sipedge.Location
	trunk *trunk.Manager
	// metrics fed by callbacks
	reloadMu    sync.Mutex // one snapshot update at a time, so none is lost
	trunkEvents *trunkEvents
	cdrCount    *cdrCounter
	http        *http.Server
	httpL       net.Listener
}

// New builds every component. It binds the listeners (so a busy port fails here) but
// starts no goroutine. stderr receives the one-time admin token notice.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) (*App, error) {
	a := &App{cfg: cfg, log: log, table: routing.NewTable()}
	ok := false
	defer func() {
		if !ok {
			a.closeAll()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("app: data dir: %w", err)
	}
	token, err := adminToken(cfg, stderr)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "trunkline.db"))
	if err != nil {
		return nil, fmt.Errorf("app: store: %w", err)
	}
	a.store = st

	edgeCfg := sipedge.Config{Listen: cfg.SIPListen, TLSListen: cfg.SIPTLSListen, Log: log.With("component", "sip")}
	if cfg.ExternalIP != "" {
		edgeCfg.ExternalIP = netip.MustParseAddr(cfg.ExternalIP)
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, &config.Error{Field: "tls_cert", Reason: err.Error()}
		}
		edgeCfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	a.edge, err = sipedge.New(edgeCfg)
	if err != nil {
		return nil, err
	}

	low, high, _ := cfg.RTPRange()
	bind := a.edge.Addr().Addr()
	mcfg := media.Config{BindIP: bind, PortMin: low, PortMax: high, Log: log.With("component", "media")}
	if cfg.ExternalIP != "" {
		mcfg.AdvertiseIP = netip.MustParseAddr(cfg.ExternalIP)
	} else if bind.IsUnspecified() {
		mcfg.AdvertiseIP = netip.MustParseAddr(strings.Split(a.edge.Contact().Address.Host, ":")[0])
	}
	a.media, err = media.NewManager(mcfg)
	if err != nil {
		return nil, err
	}

	a.loc = sipedge.NewLocation(st, log.With("component", "location"))
	if err := a.loc.Load(ctx); err != nil {
		return nil, err
	}
	authCfg := sipedge.AuthConfig{Realm: cfg.Realm}
	if err := authCfg.Validate(); err != nil {
		return nil, &config.Error{Field: "realm", Reason: err.Error()}
	}
	auth := sipedge.NewAuthenticator(authCfg)
	bans := sipedge.NewBanlist(sipedge.BanConfig{})
	accounts := routing.Accounts{Table: a.table}
	reg := sipedge.NewRegistrar(sipedge.RegistrarConfig{}, auth, accounts, a.loc, bans, log.With("component", "registrar"))
	dgram, stream := a.edge.Clients()
	contact := a.edge.Contact()
	a.trunkEvents = newTrunkEvents()
	a.cdrCount = newCDRCounter(st)
	a.trunk = trunk.NewManager(trunk.Config{Client: dgram, StreamClient: stream,
		ContactHost: contact.Address.Host, ContactPort: contact.Address.Port,
		Log: log.With("component", "trunk"), OnChange: a.trunkEvents.observe})
	rt := trunkRuntime{Manager: a.trunk, table: a.table}
	a.calls = call.New(call.Config{Log: log.With("component", "call"), RTPTimeout: cfg.RTPTimeout}, call.Deps{
		Dgram: dgram, Stream: stream, Contact: contact, Media: a.media,
		Routes: a.table, Trunks: rt, Locator: a.loc, CDRs: a.cdrCount,
	})
	a.edge.Mount(sipedge.Handlers{Registrar: reg, Auth: auth, Directory: accounts, Trunks: rt, Bans: bans,
		Limiter: sipedge.NewRateLimiter(sipedge.RateLimitConfig{}), Calls: a.calls})
	if err := a.Reload(ctx); err != nil {
		return nil, err
	}

	a.httpL, err = net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return nil, fmt.Errorf("app: http: %w", err)
	}
	apiH := api.New(api.Options{
		Store: st, Token: token, Registrations: a.loc, Calls: a.calls, Trunks: a.trunk, TrunkStatus: a.trunk,
		OnChange: func(ctx context.Context) {
			if err := a.Reload(ctx); err != nil {
				log.Error("reload after change failed", "error", err)
			}
		},
		OnExtension: func(ctx context.Context, number string) {
			if err := a.reloadExtension(ctx, number); err != nil {
				log.Error("reload after change failed", "extension", number, "error", err)
			}
		},
		Metrics: newMetrics(a), Console: web.Handler(), Debug: pprofHandler(), Log: log.With("component", "api"),
	})
	a.http = &http.Server{Handler: apiH.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ok = true
	return a, nil
}

// reloadExtension swaps in a snapshot with one extension re-read from the store.
func (a *App) reloadExtension(ctx context.Context, number string) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	e, err := a.store.GetExtension(ctx, number)
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.table.Store(a.table.Load().WithExtension(number, nil))
	case err != nil:
		return fmt.Errorf("app: reload %s: %w", number, err)
	default:
		a.table.Store(a.table.Load().WithExtension(number, &e))
	}
	return nil
}

// Reload rebuilds the routing snapshot from the store and swaps it in.
func (a *App) Reload(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	exts, err := a.store.ListExtensions(ctx)
	if err != nil {
		return fmt.Errorf("app: reload: %w", err)
	}
	trunks, err := a.store.ListTrunks(ctx)
	if err != nil {
		return fmt.Errorf("app: reload: %w", err)
	}
	in, err := a.store.ListInboundRules(ctx)
	if err != nil {
		return fmt.Errorf("app: reload: %w", err)
	}
	out, err := a.store.ListOutboundRules(ctx)
	if err != nil {
		return fmt.Errorf("app: reload: %w", err)
	}
	groups, err := a.store.ListRingGroups(ctx)
	if err != nil {
		return fmt.Errorf("app: reload: %w", err)
	}
	plan, err := a.store.GetDialPlan(ctx)
	if err != nil {
		return fmt.Errorf("app: reload: %w", err)
	}
	snap := routing.NewSnapshot(routing.Config{Extensions: exts, Trunks: trunks,
		InboundRules: in, OutboundRules: out, RingGroups: groups, DialPlan: plan})
	for _, w := range snap.Warnings() {
		a.log.Warn("routing: rule never matches", "problem", w)
	}
	a.table.Store(snap)
	a.trunk.Reconcile(trunks)
	return nil
}

// HTTPAddr is the bound API address.
func (a *App) HTTPAddr() string { return a.httpL.Addr().String() }

// Run serves until ctx is done, then stops everything and closes the store. The SIP
// edge stops last, so that calls can be hung up and trunks un-REGISTERed through it.
func (a *App) Run(ctx context.Context) error {
	a.log.Info("trunkline running", "http", "http://"+a.HTTPAddr(), "sip", a.edge.Addr().String(), "data", a.cfg.DataDir)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	edgeCtx, edgeCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer edgeCancel()
	errc := make(chan error, 6)
	edgeDone := make(chan struct{})
	go func() {
		defer close(edgeDone)
		if err := a.edge.Run(edgeCtx); err != nil {
			errc <- err
			cancel()
		}
	}()
	var wg sync.WaitGroup
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	run(a.loc.Run)
	run(a.calls.Run)
	run(a.trunk.Run)
	run(func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer c()
			a.http.Shutdown(sctx)
		}()
		if err := a.http.Serve(a.httpL); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	wg.Wait()
	edgeCancel()
	<-edgeDone
	a.closeAll()
	close(errc)
	return <-errc
}

// Drain stops taking calls and waits for the active ones, up to ctx's deadline.
func (a *App) Drain(ctx context.Context) {
	a.log.Info("draining: new calls get 503", "active", a.calls.Count())
	a.calls.Drain(ctx)
}

func (a *App) closeAll() {
	if a.edge != nil {
		a.edge.Close()
	}
	if a.media != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		a.media.Shutdown(ctx)
		cancel()
	}
	if a.loc != nil && a.store != nil {
		// The edge is closed: no REGISTER can change a binding after this flush.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.loc.Flush(ctx); err != nil {
			a.log.Error("bindings not saved at stop", "error", err)
		}
		cancel()
	}
	if a.store != nil {
		a.store.Close()
		a.store = nil
	}
}

// adminToken returns the configured token, or the one stored in the data dir,
// generating and announcing it on first start.
func adminToken(cfg config.Config, stderr io.Writer) (string, error) {
	if cfg.AdminToken != "" {
		return cfg.AdminToken, nil
	}
	path := filepath.Join(cfg.DataDir, "admin.token")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("app: admin token: %w", err)
	}
	fmt.Fprintf(stderr, "\nAdmin API token (saved in %s, shown once):\n\n    %s\n\n", path, tok)
	return tok, nil
}
