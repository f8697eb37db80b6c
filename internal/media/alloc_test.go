package media

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for quarantine tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// fakeBind binds nothing and fails for the ports in busy.
func fakeBind(busy ...int) func(int) (pair, error) {
	return func(port int) (pair, error) {
		for _, b := range busy {
			if port == b || port+1 == b {
				return pair{}, fmt.Errorf("bind %d: address already in use", b)
			}
		}
		return pair{port: port}, nil
	}
}

func TestAllocator(t *testing.T) {
	type op struct {
		get     bool          // get a pair, else put
		port    int           // put: port; get: expected port (0 = any)
		err     bool          // get: expect ErrNoPorts
		q       bool          // put: quarantine
		advance time.Duration // before the op
	}
	tests := []struct {
		name     string
		min, max int
		hold     time.Duration
		busy     []int
		ops      []op
	}{
		{
			name: "even RTP ports, RTCP inside the range", min: 10001, max: 10008,
			ops: []op{{get: true, port: 10002}, {get: true, port: 10004}, {get: true, port: 10006}, {get: true, err: true}},
		},
		{
			name: "single pair", min: 10000, max: 10001,
			ops: []op{{get: true, port: 10000}, {get: true, err: true}},
		},
		{
			name: "skips ports that fail to bind", min: 10000, max: 10007, busy: []int{10003, 10004},
			ops: []op{{get: true, port: 10000}, {get: true, port: 10006}, {get: true, err: true}},
		},
		{
			name: "quarantine holds a released pair", min: 10000, max: 10003, hold: 5 * time.Second,
			ops: []op{
				{get: true, port: 10000}, {get: true, port: 10002},
				{port: 10000, q: true},
				{get: true, err: true},
				{get: true, err: true, advance: 5*time.Second - time.Nanosecond},
				{get: true, port: 10000, advance: time.Nanosecond},
			},
		},
		{
			name: "release without quarantine", min: 10000, max: 10003, hold: 5 * time.Second,
			ops: []op{{get: true, port: 10000}, {get: true, port: 10002}, {port: 10002}, {get: true, port: 10002}},
		},
		{
			name: "quarantine disabled", min: 10000, max: 10001, hold: -1,
			ops: []op{{get: true, port: 10000}, {port: 10000, q: true}, {get: true, port: 10000}},
		},
		{
			name: "round robin before reuse", min: 10000, max: 10005,
			ops: []op{{get: true, port: 10000}, {port: 10000}, {get: true, port: 10002}, {get: true, port: 10004}, {get: true, port: 10000}},
		},
		{
			name: "double put is harmless", min: 10000, max: 10001, hold: time.Minute,
			ops: []op{{get: true, port: 10000}, {port: 10000}, {port: 10000, q: true}, {get: true, port: 10000}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1000, 0)}
			a := newAllocator(tt.min, tt.max, tt.hold, fakeBind(tt.busy...))
			a.now = clock.now
			a.next = a.first // deterministic start for the table
			for i, o := range tt.ops {
				clock.advance(o.advance)
				if !o.get {
					a.put(o.port, o.q)
					continue
				}
				p, err := a.get()
				switch {
				case o.err && !errors.Is(err, ErrNoPorts):
					t.Fatalf("op %d: err = %v, want ErrNoPorts", i, err)
				case !o.err && err != nil:
					t.Fatalf("op %d: %v", i, err)
				case !o.err && o.port != 0 && p.port != o.port:
					t.Fatalf("op %d: port %d, want %d", i, p.port, o.port)
				}
			}
		})
	}
}

func TestAllocatorErrorSaysWhy(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	a := newAllocator(10000, 10005, time.Minute, fakeBind(10004))
	a.now = clock.now
	a.get()
	p, _ := a.get()
	a.put(p.port, true)
	_, err := a.get()
	if err == nil || !strings.Contains(err.Error(), "1 in use, 1 quarantined, 1 failed to bind") {
		t.Fatalf("err = %v", err)
	}
	if inUse, held := a.counts(); inUse != 1 || held != 1 {
		t.Errorf("counts = %d, %d", inUse, held)
	}
	clock.advance(time.Minute)
	if _, held := a.counts(); held != 0 {
		t.Errorf("quarantine not expired: %d", held)
	}
}

func TestAllocatorRandomStart(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		a := newAllocator(10000, 20000, 0, fakeBind())
		p, err := a.get()
		if err != nil || p.port%2 != 0 || p.port < 10000 || p.port > 19998 {
			t.Fatalf("port %d, err %v", p.port, err)
		}
		seen[p.port] = true
	}
	if len(seen) < 10 {
		t.Errorf("start ports not spread: %d distinct of 50", len(seen))
	}
}

func TestAllocatorConcurrent(t *testing.T) {
	a := newAllocator(10000, 10199, time.Millisecond, fakeBind())
	var mu sync.Mutex
	held := map[int]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				p, err := a.get()
				if err != nil {
					continue
				}
				mu.Lock()
				if held[p.port] {
					t.Errorf("port %d handed out twice", p.port)
				}
				held[p.port] = true
				mu.Unlock()
				mu.Lock()
				delete(held, p.port)
				mu.Unlock()
				a.put(p.port, true)
			}
		})
	}
	wg.Wait()
}

func TestConfigValidate(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{BindIP: lo}, true},
		{"no bind IP", Config{}, false},
		{"wildcard without advertise", Config{BindIP: netip.IPv4Unspecified()}, false},
		{"wildcard with advertise", Config{BindIP: netip.IPv4Unspecified(), AdvertiseIP: netip.MustParseAddr("203.0.113.5")}, true},
		{"family mismatch", Config{BindIP: lo, AdvertiseIP: netip.MustParseAddr("2001:db8::1")}, false},
		{"inverted range", Config{BindIP: lo, PortMin: 20000, PortMax: 10000}, false},
		{"no pair in range", Config{BindIP: lo, PortMin: 10001, PortMax: 10002}, false},
		{"one pair", Config{BindIP: lo, PortMin: 10000, PortMax: 10001}, true},
		{"port too high", Config{BindIP: lo, PortMin: 10000, PortMax: 70000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			c.Defaults()
			if err := c.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
