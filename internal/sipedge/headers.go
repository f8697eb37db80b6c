package sipedge

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// header returns the first header field called name (case-insensitive), or nil.
//
// Why not sip.Message.GetHeader: sipgo lower-cases the name of every header it
// compares unless the name is one of a dozen it knows, which allocates once per
// header field for names like Authorization, User-Agent or Expires; on the REGISTER
// path that was 9 % of the CPU (docs/benchmarks.md, P1). EqualFold allocates
// nothing. Compact forms are expanded by sipgo's parser, so full names suffice.
func header(m interface{ Headers() []sip.Header }, name string) sip.Header {
	for _, h := range m.Headers() {
		if strings.EqualFold(h.Name(), name) {
			return h
		}
	}
	return nil
}

// headers returns every header field called name (case-insensitive), in order.
func headers(m interface{ Headers() []sip.Header }, name string) []sip.Header {
	var out []sip.Header
	for _, h := range m.Headers() {
		if strings.EqualFold(h.Name(), name) {
			out = append(out, h)
		}
	}
	return out
}
