package trunk

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// fakeResolver answers from maps; unknown names are NXDOMAIN.
type fakeResolver struct {
	srv map[string][]*net.SRV // "_sip._udp.example.test"
	ips map[string][]netip.Addr
}

var errNX = errors.New("no such host")

func (f fakeResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	if s, ok := f.srv[key]; ok {
		return key, s, nil
	}
	return "", nil, errNX
}

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f.ips[host]; ok {
		return a, nil
	}
	return nil, errNX
}
