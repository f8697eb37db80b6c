package app

import (
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newMetrics exposes the runtime's counters at /metrics. Values are read from the
// components when scraped, so the hot paths only bump their own atomics.
func newMetrics(a *App) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	gauge("trunkline_calls_active", "Calls in progress.", func() float64 { return float64(a.calls.Count()) })
	gauge("trunkline_registrations", "Registered contacts.", func() float64 { return float64(len(a.loc.Bindings())) })
	gauge("trunkline_bindings_unsaved", "AORs whose binding changes are not yet in the database (written every 500 ms; stays high if writes fail).",
		func() float64 { return float64(a.loc.Unsaved()) })
	gauge("trunkline_media_sessions", "Media relay sessions open.", func() float64 { return float64(a.media.Stats().ActiveSessions) })
	counter("trunkline_rtp_packets_relayed_total", "RTP packets forwarded by the relay.", func() float64 { return float64(a.media.Stats().Packets) })
	counter("trunkline_rtp_dropped_total", "RTP/RTCP packets dropped by latching (wrong source).", func() float64 { return float64(a.media.Stats().Dropped) })
	reg.MustRegister(trunkCollector{a.trunk}, a.trunkEvents.changes, a.cdrCount.calls)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// pprofHandler serves net/http/pprof's profiles (the API puts it behind the token).
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
