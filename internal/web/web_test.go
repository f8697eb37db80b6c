package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIndex(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/", "/index.html"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if path == "/index.html" {
			// FileServer redirects /index.html to /.
			if w.Code != http.StatusMovedPermanently {
				t.Errorf("GET %s = %d; want 301 to /", path, w.Code)
			}
			continue
		}
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("GET / = %d %q; want 200 text/html", w.Code, w.Header().Get("Content-Type"))
		}
		body := w.Body.String()
		for _, want := range []string{"<title>Trunkline</title>", "/api/v1/health", "/api/v1/extensions",
			"/api/v1/registrations", "/api/v1/calls", "/api/v1/cdrs", "localStorage", "setInterval(refresh, 2000)"} {
			if !strings.Contains(body, want) {
				t.Errorf("index.html does not contain %q", want)
			}
		}
		if strings.Contains(body, "innerHTML") {
			t.Error("index.html uses innerHTML; render with textContent")
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Error("missing X-Content-Type-Options: nosniff")
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/nope.js", nil))
	if w.Code != 404 {
		t.Errorf("GET /nope.js = %d; want 404", w.Code)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	if w.Code != 405 {
		t.Errorf("POST / = %d; want 405", w.Code)
	}
}
