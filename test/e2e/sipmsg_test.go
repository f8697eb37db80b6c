package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// sipMsg is one SIP message from a SIPp -trace_msg log.
type sipMsg struct {
	Received bool   // false = sent by SIPp
	First    string // request or status line
	Headers  []header
	Body     string
}

type header struct{ Name, Value string }

// compact header forms (RFC 3261 §7.3.3) to their long names, lower case.
var compactNames = map[string]string{
	"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
	"c": "content-type", "e": "content-encoding", "k": "supported", "s": "subject",
}

// canonicalName is the lower-case long form of a header name.
func canonicalName(n string) string {
	n = strings.ToLower(strings.TrimSpace(n))
	if long, ok := compactNames[n]; ok {
		return long
	}
	return n
}

// Get returns the values of a header (any case, compact forms included).
func (m sipMsg) Get(name string) []string {
	name = canonicalName(name)
	var out []string
	for _, h := range m.Headers {
		if canonicalName(h.Name) == name {
			out = append(out, h.Value)
		}
	}
	return out
}

// StatusCode is the code of a response, 0 for a request.
func (m sipMsg) StatusCode() int {
	f := strings.Fields(m.First)
	if len(f) < 2 || f[0] != "SIP/2.0" {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// Method is the method of a request, or of the CSeq of a response.
func (m sipMsg) Method() string {
	if m.StatusCode() == 0 {
		return strings.Fields(m.First)[0]
	}
	if cs := m.Get("cseq"); len(cs) > 0 {
		if f := strings.Fields(cs[0]); len(f) == 2 {
			return f[1]
		}
	}
	return ""
}

func (m sipMsg) String() string {
	var b strings.Builder
	b.WriteString(m.First + "\n")
	for _, h := range m.Headers {
		fmt.Fprintf(&b, "%s: %s\n", h.Name, h.Value)
	}
	if m.Body != "" {
		b.WriteString("\n" + m.Body)
	}
	return b.String()
}

// readSIPpMessages parses a -trace_msg log (readSIPpTrace, without the timestamps).
func readSIPpMessages(t testing.TB, path string) []sipMsg {
	t.Helper()
	trace := readSIPpTrace(t, path)
	out := make([]sipMsg, len(trace))
	for i, m := range trace {
		out[i] = m.sipMsg
	}
	return out
}

// parseSIP splits a message into start line, headers (folded lines joined) and body.
func parseSIP(raw string) sipMsg {
	raw = strings.ReplaceAll(raw, "\r\n", "\n")
	head, body, _ := strings.Cut(raw, "\n\n")
	lines := strings.Split(head, "\n")
	var m sipMsg
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	if len(lines) == 0 {
		return m
	}
	m.First = strings.TrimSpace(lines[0])
	for _, l := range lines[1:] {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(m.Headers) > 0 {
			m.Headers[len(m.Headers)-1].Value += " " + strings.TrimSpace(l)
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		m.Headers = append(m.Headers, header{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	m.Body = strings.TrimRight(body, "\n")
	return m
}

// sdpMedia returns the connection address and the first audio port of an SDP body.
func sdpMedia(body string) (addr string, port int, ok bool) {
	for _, l := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "c=IN IP4 "):
			addr = strings.TrimPrefix(l, "c=IN IP4 ")
		case strings.HasPrefix(l, "m=audio ") && port == 0:
			f := strings.Fields(l)
			if len(f) >= 2 {
				port, _ = strconv.Atoi(f[1])
			}
		}
	}
	return addr, port, addr != "" && port > 0
}

// sdpDirection is the media direction of an SDP: the a=sendrecv/sendonly/recvonly/inactive
// attribute, or sendrecv when there is none (RFC 4566 §6).
func sdpDirection(body string) string {
	for _, l := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		switch l = strings.TrimSpace(l); l {
		case "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive":
			return strings.TrimPrefix(l, "a=")
		}
	}
	return "sendrecv"
}

// checkRelaySDP fails unless the SDP points at Trunkline's relay: c=IN IP4 127.0.0.1 and
// an audio port inside its --rtp-ports range.
func checkRelaySDP(t testing.TB, inst *instance, where string, m sipMsg) {
	t.Helper()
	addr, port, ok := sdpMedia(m.Body)
	if !ok {
		t.Errorf("%s: expected an SDP with c= and m=audio, got:\n%s", where, m)
		return
	}
	if addr != "127.0.0.1" || port < inst.RTPLow || port > inst.RTPHigh {
		t.Errorf("%s: expected the SDP rewritten to Trunkline's relay (c=IN IP4 127.0.0.1, audio port in %d-%d), got c=%s port %d:\n%s",
			where, inst.RTPLow, inst.RTPHigh, addr, port, m)
	}
}
