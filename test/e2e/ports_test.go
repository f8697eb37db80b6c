package e2e

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Ports are chosen at run time. The kernel picks a free one (port 0); a process-wide
// set makes sure two parallel tests never get the same port, even after the probe
// socket is closed and before the peer that uses it has bound it.
var (
	portMu   sync.Mutex
	reserved = map[int]bool{}
)

// reserve marks ports as taken by this test process; false if one already was.
func reserve(ports ...int) bool {
	portMu.Lock()
	defer portMu.Unlock()
	for _, p := range ports {
		if reserved[p] {
			return false
		}
	}
	for _, p := range ports {
		reserved[p] = true
	}
	return true
}

// freeSIPPort returns a port free on both UDP and TCP of 127.0.0.1.
func freeSIPPort(t testing.TB) int {
	t.Helper()
	for range 200 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatalf("probe UDP port: %v", err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err != nil {
			continue
		}
		l.Close()
		if reserve(port) {
			return port
		}
	}
	t.Fatal("no port free on both UDP and TCP of 127.0.0.1")
	return 0
}

// freeTCPPort returns a free TCP port of 127.0.0.1.
func freeTCPPort(t testing.TB) int {
	t.Helper()
	for range 200 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("probe TCP port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if reserve(port) {
			return port
		}
	}
	t.Fatal("no free TCP port on 127.0.0.1")
	return 0
}

// freeUDPRange returns n consecutive UDP ports of 127.0.0.1, all free, starting at an
// even port at a random base in 20000-60000 (RTP ranges, SIPp media ports).
func freeUDPRange(t testing.TB, n int) (low, high int) {
	t.Helper()
	for range 200 {
		low = 20000 + 2*rand.IntN((60000-20000-n)/2)
		high = low + n - 1
		ports := make([]int, 0, n)
		ok := true
		for p := low; p <= high && ok; p++ {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err != nil {
				ok = false
				break
			}
			c.Close()
			ports = append(ports, p)
		}
		if ok && reserve(ports...) {
			return low, high
		}
	}
	t.Fatalf("no %d consecutive free UDP ports on 127.0.0.1", n)
	return 0, 0
}

// freeUDPPort returns one free UDP port of 127.0.0.1.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	for range 200 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatalf("probe UDP port: %v", err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if reserve(port) {
			return port
		}
	}
	t.Fatal("no free UDP port on 127.0.0.1")
	return 0
}

// listening reports whether something is bound to 127.0.0.1:port (or the wildcard).
func listening(proto string, port int) bool { return boundOn(proto, "127.0.0.1", port) }
