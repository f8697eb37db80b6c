package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trunkline/trunkline/internal/routing"
	"github.com/trunkline/trunkline/internal/store/sqlite"
)

// BenchmarkImportExtensions provisions n extensions into an empty PBX through
// the API handler and a SQLite store in a temporary directory (WAL, as in
// production), with the runtime's snapshot work as internal/app does it:
//
//   - import: one POST /api/v1/extensions/import of all n, then one full
//     snapshot rebuild (OnChange; app.Reload);
//   - create: n POST /api/v1/extensions, each followed by the per-extension
//     snapshot update (OnExtension; app.reloadExtension), which copies the
//     extension map.
//
// ns/op is the time for all n; ext/s the rate. Store set-up and the request
// bodies are not timed.
//
//	go test -run '^$' -bench BenchmarkImportExtensions -benchtime 1x ./internal/api/
func BenchmarkImportExtensions(b *testing.B) {
	for _, bc := range []struct {
		mode string
		n    int
	}{{"import", 1000}, {"import", maxImportExtensions}, {"create", 1000}, {"create", 5000}} {
		b.Run(fmt.Sprintf("%s-%d", bc.mode, bc.n), func(b *testing.B) {
			var bodies []string
			if bc.mode == "import" {
				bodies = []string{importBody(bc.n, 100000)}
			} else {
				for i := range bc.n {
					bodies = append(bodies, fmt.Sprintf(`{"number":"%d","name":"Customer Phone","password":"pw-%08x",`+
						`"caller_id":"+493012345678","max_calls":2}`, 100000+i, i))
				}
			}
			path := map[string]string{"import": "/api/v1/extensions/import", "create": "/api/v1/extensions"}[bc.mode]
			for b.Loop() {
				b.StopTimer()
				h := benchAPI(b)
				b.StartTimer()
				for _, body := range bodies {
					r := httptest.NewRequest("POST", path, strings.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					r.Header.Set("Authorization", "Bearer "+testToken)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusCreated {
						b.Fatalf("POST %s = %d\n%.500s", path, w.Code, w.Body)
					}
				}
			}
			b.ReportMetric(float64(bc.n)*float64(b.N)/b.Elapsed().Seconds(), "ext/s")
		})
	}
}

// benchAPI is the API over a new SQLite store, with OnChange and OnExtension
// doing what the app's do to its routing snapshot.
func benchAPI(b *testing.B) http.Handler {
	b.Helper()
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatalf("sqlite.Open: %v", err)
	}
	b.Cleanup(func() { st.Close() })
	var snap atomic.Pointer[routing.Snapshot]
	snap.Store(routing.NewSnapshot(routing.Config{}))
	return New(Options{Store: st, Token: testToken,
		OnChange: func(ctx context.Context) {
			exts, err := st.ListExtensions(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			trunks, err := st.ListTrunks(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			snap.Store(routing.NewSnapshot(routing.Config{Extensions: exts, Trunks: trunks}))
		},
		OnExtension: func(ctx context.Context, number string) {
			e, err := st.GetExtension(ctx, number)
			if err != nil {
				b.Error(err)
				return
			}
			snap.Store(snap.Load().WithExtension(number, &e))
		},
	}).Handler()
}
