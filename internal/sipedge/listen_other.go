//go:build !linux

package sipedge

import "net"

// listenUDP binds the UDP socket on addr (one: SO_REUSEPORT does not spread
// datagrams outside Linux; listen_linux.go).
func listenUDP(addr string) ([]net.PacketConn, error) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	setUDPBuffers(c)
	return []net.PacketConn{c}, nil
}
