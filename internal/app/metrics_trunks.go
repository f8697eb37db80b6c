package app

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trunkline/trunkline/internal/model"
	"github.com/trunkline/trunkline/internal/trunk"
)

// trunkEvents counts trunk state changes (the trunk runtime's OnChange) for
// /metrics: trunkline_trunk_state_changes_total{trunk, aspect, state}.
type trunkEvents struct {
	mu      sync.Mutex
	last    map[string]model.TrunkState
	changes *prometheus.CounterVec
}

func newTrunkEvents() *trunkEvents {
	return &trunkEvents{
		last: make(map[string]model.TrunkState),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trunkline_trunk_state_changes_total",
			Help: "Changes of a trunk's registration or reachability, by the state entered.",
		}, []string{"trunk", "aspect", "state"}),
	}
}

// observe is the trunk runtime's OnChange; it must not block.
func (e *trunkEvents) observe(s model.TrunkState) {
	e.mu.Lock()
	old, seen := e.last[s.Name]
	e.last[s.Name] = s
	e.mu.Unlock()
	if !seen || old.Registration != s.Registration {
		e.changes.WithLabelValues(s.Name, "registration", s.Registration).Inc()
	}
	if !seen || old.Reachability != s.Reachability {
		e.changes.WithLabelValues(s.Name, "reachability", s.Reachability).Inc()
	}
}

// trunkCollector reports every trunk's live state when /metrics is scraped.
type trunkCollector struct{ m *trunk.Manager }

var (
	descTrunkRegistered = prometheus.NewDesc("trunkline_trunk_registered",
		"1 when the trunk's registration is held, 0 otherwise (trunks that do not register are absent).", []string{"trunk"}, nil)
	descTrunkUp = prometheus.NewDesc("trunkline_trunk_up",
		"1 when the OPTIONS probe says up, 0 when down (absent while unknown).", []string{"trunk"}, nil)
	descTrunkCalls = prometheus.NewDesc("trunkline_trunk_active_calls",
		"Calls on the trunk now, inbound and outbound.", []string{"trunk"}, nil)
	descTrunkRTT = prometheus.NewDesc("trunkline_trunk_rtt_seconds",
		"Round-trip time of the last answered OPTIONS probe.", []string{"trunk"}, nil)
)

func (c trunkCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descTrunkRegistered
	ch <- descTrunkUp
	ch <- descTrunkCalls
	ch <- descTrunkRTT
}

func (c trunkCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.m.States() {
		if s.Registration != trunk.RegOff {
			ch <- prometheus.MustNewConstMetric(descTrunkRegistered, prometheus.GaugeValue, b2f(s.Registration == trunk.RegRegistered), s.Name)
		}
		if s.Reachability != trunk.ReachUnknown {
			ch <- prometheus.MustNewConstMetric(descTrunkUp, prometheus.GaugeValue, b2f(s.Reachability == trunk.ReachUp), s.Name)
		}
		ch <- prometheus.MustNewConstMetric(descTrunkCalls, prometheus.GaugeValue, float64(s.ActiveCalls), s.Name)
		if s.RTTMillis > 0 {
			ch <- prometheus.MustNewConstMetric(descTrunkRTT, prometheus.GaugeValue, s.RTTMillis/1000, s.Name)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// cdrCounter counts finished calls for /metrics on their way to the store:
// trunkline_calls_total{direction, disposition}.
type cdrCounter struct {
	next interface {
		InsertCDR(ctx context.Context, c *model.CDR) error
	}
	calls *prometheus.CounterVec
}

func newCDRCounter(next interface {
	InsertCDR(ctx context.Context, c *model.CDR) error
}) *cdrCounter {
	return &cdrCounter{next: next, calls: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "trunkline_calls_total",
		Help: "Finished calls (one per CDR), by direction and disposition.",
	}, []string{"direction", "disposition"})}
}

func (c *cdrCounter) InsertCDR(ctx context.Context, cdr *model.CDR) error {
	c.calls.WithLabelValues(cdr.Direction, string(cdr.Disposition)).Inc()
	return c.next.InsertCDR(ctx, cdr)
}
