package trunk

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Resolver is the DNS the runtime needs: SRV for RFC 3263 §4.2 server
// location, A/AAAA for every host. *net.Resolver satisfies it; tests use a fake.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// Target is where a trunk's requests go now.
type Target struct {
	// Addr is the resolved address, "ip:port" ("[ip6]:port" for IPv6): the
	// outbound proxy's address when the trunk has one, else the provider's.
	Addr string
	// AddrPort is Addr parsed.
	AddrPort netip.AddrPort
	// Transport is "udp", "tcp" or "tls".
	Transport string
	// Host is the name Addr was resolved from (an SRV target, the trunk's
	// host or the proxy's host), for logs and TLS server names.
	Host string
	// OutboundProxy is the trunk's configured outbound proxy, "" if none. When
	// set, requests carry a Route header with it (RFC 3261 §8.1.2) and are
	// sent to Addr.
	OutboundProxy string
}

// maxTargets bounds how many addresses one resolution yields.
const maxTargets = 16

// errNoAddress is returned when a name resolves to no usable address.
var errNoAddress = errors.New("trunk: no address")

// defaultPort is the RFC 3261 §19.1.2 default port of a transport.
func defaultPort(transport string) int {
	if transport == "tls" {
		return 5061
	}
	return 5060
}

// splitHostPort splits "host", "host:port", "[v6]:port", "v6" and a
// "sip:host:port;lr" style outbound proxy into host and port (0 = none).
func splitHostPort(s string) (string, int, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "<")
	for _, p := range []string{"sip:", "sips:"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			s = s[len(p):]
		}
	}
	if i := strings.IndexAny(s, ";?>"); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "", 0, errors.New("trunk: empty host")
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.String(), 0, nil // bare IPv6 (or IPv4) literal
	}
	if !strings.Contains(s, ":") {
		return s, 0, nil
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("trunk: bad host %q: %w", s, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("trunk: bad port in %q", s)
	}
	return h, port, nil
}

// resolveTargets locates the servers for host per RFC 3263 §4.2, with the
// transport fixed by configuration (we do no NAPTR, §4.1):
//   - an IP literal, or an explicit port: that host and port (default 5060,
//     5061 for tls), A/AAAA of the name if it is one;
//   - otherwise SRV _sip._udp / _sip._tcp / _sips._tcp, ordered by priority and
//     weight (RFC 2782), then A/AAAA of each target in that order; no SRV
//     records: A/AAAA of host with the default port.
//
// Addresses of the same family as prefer come first (our Contact address is
// of that family; a dual-stack provider must answer on it). rnd draws the
// weighted order. The result is deduplicated and capped at maxTargets.
func resolveTargets(ctx context.Context, r Resolver, host string, port int, transport string, prefer netip.Addr, rnd func() float64) ([]Target, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if port == 0 {
			port = defaultPort(transport)
		}
		ap := netip.AddrPortFrom(a.Unmap(), uint16(port))
		return []Target{{Addr: ap.String(), AddrPort: ap, Transport: transport, Host: host}}, nil
	}
	type hostPort struct {
		host string
		port int
	}
	var names []hostPort
	if port != 0 {
		names = []hostPort{{host, port}}
	} else {
		service, proto := "sip", transport
		if transport == "tls" {
			service, proto = "sips", "tcp"
		}
		_, srvs, err := r.LookupSRV(ctx, service, proto, host)
		if err == nil {
			for _, s := range orderSRV(srvs, rnd) {
				names = append(names, hostPort{strings.TrimSuffix(s.Target, "."), int(s.Port)})
			}
		}
		if len(names) == 0 {
			names = []hostPort{{host, defaultPort(transport)}}
		}
	}
	var out []Target
	var firstErr error
	for _, n := range names {
		addrs, err := r.LookupNetIP(ctx, "ip", n.host)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		for _, a := range preferFamily(addrs, prefer) {
			ap := netip.AddrPortFrom(a, uint16(n.port))
			if len(out) < maxTargets && !slices.ContainsFunc(out, func(t Target) bool { return t.AddrPort == ap }) {
				out = append(out, Target{Addr: ap.String(), AddrPort: ap, Transport: transport, Host: n.host})
			}
		}
	}
	if len(out) == 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("trunk: resolve %s: %w", host, firstErr)
		}
		return nil, fmt.Errorf("trunk: resolve %s: %w", host, errNoAddress)
	}
	return out, nil
}

// preferFamily returns addrs (unmapped, valid only) with those of prefer's
// family first, keeping the resolver's order otherwise.
func preferFamily(addrs []netip.Addr, prefer netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.IsValid() {
			out = append(out, a.Unmap())
		}
	}
	if prefer.IsValid() {
		v4 := prefer.Unmap().Is4()
		slices.SortStableFunc(out, func(a, b netip.Addr) int {
			ka, kb := a.Is4() != v4, b.Is4() != v4 // false (same family) sorts first
			switch {
			case ka == kb:
				return 0
			case !ka:
				return -1
			default:
				return 1
			}
		})
	}
	return out
}

// orderSRV orders SRV records per RFC 2782: ascending priority; within a
// priority, a weighted random order (zero-weight records get a small chance).
// A single record with target "." means the service is not offered: nil.
func orderSRV(in []*net.SRV, rnd func() float64) []*net.SRV {
	var recs []*net.SRV
	for _, s := range in {
		if s != nil && s.Target != "" && s.Target != "." {
			recs = append(recs, s)
		}
	}
	slices.SortStableFunc(recs, func(a, b *net.SRV) int { return cmp.Compare(a.Priority, b.Priority) })
	out := make([]*net.SRV, 0, len(recs))
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].Priority == recs[i].Priority {
			j++
		}
		group := slices.Clone(recs[i:j])
		for len(group) > 0 {
			total := 0
			for _, s := range group {
				total += int(s.Weight) + 1
			}
			pick := int(min(max(rnd(), 0), 0.999999) * float64(total))
			k := 0
			for ; k < len(group)-1; k++ {
				pick -= int(group[k].Weight) + 1
				if pick < 0 {
					break
				}
			}
			out = append(out, group[k])
			group = slices.Delete(group, k, k+1)
		}
		i = j
	}
	return out
}

// resolveHostAddrs returns the addresses a host name or literal stands for
// (without SRV), for source matching.
func resolveHostAddrs(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	return preferFamily(addrs, netip.Addr{}), nil
}
