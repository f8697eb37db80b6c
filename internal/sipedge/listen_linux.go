//go:build linux

package sipedge

import (
	"context"
	"net"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenUDP binds one UDP socket per CPU (at most 8) on addr with SO_REUSEPORT;
// the first is the primary, whose port the others share.
//
// Why several: REGISTERs over UDP are answered on the read goroutine of the
// socket they arrive on (stateless.go), so one socket would be one core; the
// kernel spreads datagrams over sockets sharing a port by a hash of the source
// address and port, so each phone stays on one socket (its requests keep their
// order) while many phones use every core. Linux allows sharing a port this way
// only between sockets of the same user.
func listenUDP(addr string) ([]net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	first, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	setUDPBuffers(first)
	conns := []net.PacketConn{first}
	n := min(runtime.GOMAXPROCS(0), 8)
	for len(conns) < n {
		c, err := lc.ListenPacket(context.Background(), "udp", first.LocalAddr().String())
		if err != nil {
			break // the primary alone still works
		}
		setUDPBuffers(c)
		conns = append(conns, c)
	}
	return conns, nil
}
