package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trunkline/trunkline/internal/config"
)

// startApp runs an App on loopback with ports chosen by the kernel.
func startApp(t *testing.T, dir string) (*App, func()) {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.SIPListen = "127.0.0.1:0"
	cfg.HTTPListen = "127.0.0.1:0"
	low := 20000 + 2*rand.IntN(15000) // no RTP flows here; a random range still keeps runs apart
	cfg.RTPPorts = fmt.Sprintf("%d-%d", low, low+99)
	cfg.AdminToken = "test-token"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
}

func apiCall(t *testing.T, a *App, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+a.HTTPAddr()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer test-token")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestWiring: the API, /metrics and the reload path are connected to the runtime,
// and configuration survives a restart on the same data directory.
func TestWiring(t *testing.T) {
	dir := t.TempDir()
	a, stop := startApp(t, dir)
	if code, body := apiCall(t, a, "POST", "/api/v1/extensions", `{"number":"1001","password":"secret-1001"}`); code != 201 {
		t.Fatalf("create extension: %d %s", code, body)
	}
	if _, ok := a.table.Extension("1001"); !ok {
		t.Fatal("the routing snapshot was not reloaded after the API write")
	}
	if code, body := apiCall(t, a, "POST", "/api/v1/extensions", `{"number":"1009","password":"secret-1009"}`); code != 201 {
		t.Fatalf("create extension: %d %s", code, body)
	}
	if code, body := apiCall(t, a, "PUT", "/api/v1/extensions/1009", `{"disabled":true}`); code != 200 {
		t.Fatalf("disable extension: %d %s", code, body)
	}
	if _, ok := a.table.Extension("1009"); ok {
		t.Fatal("a disabled extension is still in the snapshot")
	}
	if code, _ := apiCall(t, a, "DELETE", "/api/v1/extensions/1009", ""); code != 204 {
		t.Fatalf("delete extension: %d", code)
	}
	if _, ok := a.table.Load().Extension("1001"); !ok {
		t.Fatal("deleting one extension lost another")
	}
	if code, body := apiCall(t, a, "POST", "/api/v1/trunks", `{"name":"t1","kind":"ip","host":"127.0.0.1","port":9,"options_interval":-1,"max_calls":3}`); code != 201 {
		t.Fatalf("create trunk: %d %s", code, body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, metrics := apiCall(t, a, "GET", "/metrics", "")
		if strings.Contains(metrics, `trunkline_trunk_active_calls{trunk="t1"} 0`) && strings.Contains(metrics, "trunkline_calls_active 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack the trunk or call gauges:\n%s", metrics)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _ := apiCall(t, a, "GET", "/api/v1/trunks/t1/status", ""); code != 200 {
		t.Fatalf("trunk status: %d", code)
	}
	stop()

	a2, stop2 := startApp(t, dir)
	defer stop2()
	if code, body := apiCall(t, a2, "GET", "/api/v1/extensions/1001", ""); code != 200 {
		t.Fatalf("extension lost across restart: %d %s", code, body)
	}
	if _, ok := a2.table.Load().Trunk("t1"); !ok {
		t.Fatal("trunk not in the snapshot after restart")
	}
}
