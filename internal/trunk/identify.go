package trunk

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"

	"github.com/trunkline/trunkline/internal/model"
)

// ContactUser returns the user part of the Contact we register for t:
// "tl-" and 12 hex digits of SHA-256 over the trunk name. It is unique per
// trunk (48 bits), stable across restarts and config edits other than a
// rename, and reveals nothing about the trunk to the provider. A provider
// sends inbound calls on the binding to sip:<ContactUser>@<our address>, so
// the Request-URI user identifies the trunk (like Asterisk's line=yes).
func ContactUser(t model.Trunk) string {
	sum := sha256.Sum256([]byte("trunkline-contact\x00" + t.Name))
	return "tl-" + hex.EncodeToString(sum[:6])
}

// staticSource is one parsed associated_ips entry.
type staticSource struct {
	prefix netip.Prefix // valid when the entry is an address or CIDR
	name   string       // otherwise a host name to resolve
}

// parseSources parses associated_ips entries: "203.0.113.7", "2001:db8::1",
// "203.0.113.0/24" (normalised to its network) or a host name, resolved like
// the trunk's Host. Empty entries are skipped.
func parseSources(entries []string) []staticSource {
	var out []staticSource
	for _, s := range entries {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
		case strings.Contains(s, "/"):
			if p, err := netip.ParsePrefix(s); err == nil {
				if p.Addr().Is4In6() && p.Bits() >= 96 {
					p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
				}
				out = append(out, staticSource{prefix: p.Masked()})
			}
		default:
			if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
				a = a.Unmap()
				out = append(out, staticSource{prefix: netip.PrefixFrom(a, a.BitLen())})
			} else {
				out = append(out, staticSource{name: strings.ToLower(s)})
			}
		}
	}
	return out
}

// addrPrefixes turns addresses into single-address prefixes.
func addrPrefixes(addrs []netip.Addr) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		if a.IsValid() {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// bestMatch returns the length of the longest prefix in ps containing ip, or
// -1. The caller picks the trunk with the most specific match, so a /32 for a
// provider's SBC wins over another trunk's /16 covering it.
func bestMatch(ps []netip.Prefix, ip netip.Addr) int {
	best := -1
	for _, p := range ps {
		if p.Contains(ip) && p.Bits() > best {
			best = p.Bits()
		}
	}
	return best
}
