package media

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Errors of ParseSDP and RewriteSDP, wrapped with details. Call control
// answers all of them with 488 Not Acceptable Here.
var (
	ErrBadSDP  = errors.New("media: bad SDP")
	ErrNoAudio = errors.New("media: no RTP audio stream in SDP")
	ErrNoCodec = errors.New("media: no acceptable audio codec")
)

// Direction is the media direction attribute (RFC 3264 §5.1, §6.1).
type Direction int

// Directions; the zero value is SendRecv, the default when SDP has none.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

var directionNames = [...]string{"sendrecv", "sendonly", "recvonly", "inactive"}

func (d Direction) String() string {
	if d < 0 || int(d) >= len(directionNames) {
		return "invalid"
	}
	return directionNames[d]
}

// Codec is one RTP payload format of an audio stream.
type Codec struct {
	PT        uint8
	Name      string // encoding name as in a=rtpmap, e.g. "PCMU", "telephone-event"
	ClockRate uint32
	Channels  uint16 // 0 = not given (1)
	Fmtp      string // a=fmtp parameters, "" if none
}

// String returns "name/rate" or "name/rate/channels".
func (c Codec) String() string {
	s := c.Name + "/" + strconv.FormatUint(uint64(c.ClockRate), 10)
	if c.Channels > 1 {
		s += "/" + strconv.FormatUint(uint64(c.Channels), 10)
	}
	return s
}

// IsTelephoneEvent reports whether c carries DTMF events (RFC 4733).
func (c Codec) IsTelephoneEvent() bool { return strings.EqualFold(c.Name, "telephone-event") }

// same reports whether a and b are the same format, whatever their PTs.
func (c Codec) same(o Codec) bool {
	return strings.EqualFold(c.Name, o.Name) && c.ClockRate == o.ClockRate &&
		max(c.Channels, 1) == max(o.Channels, 1)
}

// staticCodecs are the static audio payload types of RFC 3551 §6, which SDP
// may use without an a=rtpmap line.
var staticCodecs = map[uint8]Codec{
	0:  {Name: "PCMU", ClockRate: 8000},
	3:  {Name: "GSM", ClockRate: 8000},
	4:  {Name: "G723", ClockRate: 8000},
	5:  {Name: "DVI4", ClockRate: 8000},
	6:  {Name: "DVI4", ClockRate: 16000},
	7:  {Name: "LPC", ClockRate: 8000},
	8:  {Name: "PCMA", ClockRate: 8000},
	9:  {Name: "G722", ClockRate: 8000},
	10: {Name: "L16", ClockRate: 44100, Channels: 2},
	11: {Name: "L16", ClockRate: 44100},
	12: {Name: "QCELP", ClockRate: 8000},
	13: {Name: "CN", ClockRate: 8000},
	14: {Name: "MPA", ClockRate: 90000},
	15: {Name: "G728", ClockRate: 8000},
	16: {Name: "DVI4", ClockRate: 11025},
	17: {Name: "DVI4", ClockRate: 22050},
	18: {Name: "G729", ClockRate: 8000},
}

// Offer describes the audio stream of an SDP offer or answer as the peer sent
// it (before any filtering).
type Offer struct {
	// RTP is where the peer wants to receive RTP: c= (media level, else
	// session level) and the m=audio port. Port 0 means the stream is
	// rejected or disabled (RFC 3264 §5.1, §6); an unspecified address is an
	// RFC 2543 style hold.
	RTP netip.AddrPort
	// RTCP is from a=rtcp (RFC 3605) if present, else RTP port+1.
	RTCP netip.AddrPort
	// Proto is the m= transport, e.g. "RTP/AVP" or "RTP/SAVP".
	Proto string
	// Codecs lists the payload formats in m= order (preference order),
	// telephone-event included. A dynamic PT without a=rtpmap has an empty
	// Name.
	Codecs []Codec
	// TelephoneEvent is the PT of the first telephone-event format, -1 if
	// there is none.
	TelephoneEvent int
	// Direction is the media (else session) direction attribute; sendrecv
	// if there is none.
	Direction Direction
	// Ptime is a=ptime in milliseconds, 0 if absent.
	Ptime int
	// Crypto reports a=crypto lines (SDES keys). They pass through the
	// rewrite untouched; the relay does not terminate SRTP.
	Crypto bool
	// SessionID and SessionVersion are the peer's o= values.
	SessionID, SessionVersion uint64
}

// OnHold reports whether the peer does not want to receive media: a
// direction other than sendrecv/recvonly, or an unspecified address.
func (o Offer) OnHold() bool {
	return o.Direction == SendOnly || o.Direction == Inactive || o.RTP.Addr().IsUnspecified()
}

// CodecFilter lists the audio codecs a rewrite keeps, as encoding names
// ("PCMA") or name and clock rate ("opus/48000"), case-insensitive.
// telephone-event is always kept. A nil filter keeps every codec; an empty,
// non-nil one keeps none (see Intersect).
type CodecFilter []string

// Allows reports whether f lets c through.
func (f CodecFilter) Allows(c Codec) bool {
	if f == nil || c.IsTelephoneEvent() {
		return true
	}
	for _, e := range f {
		name, rate, hasRate := strings.Cut(e, "/")
		if !strings.EqualFold(name, c.Name) {
			continue
		}
		if !hasRate {
			return true
		}
		rate, _, _ = strings.Cut(rate, "/")
		if rate == strconv.FormatUint(uint64(c.ClockRate), 10) {
			return true
		}
	}
	return false
}

// Intersect returns the codecs both sides accept, in the answer's order, as
// a filter for rewriting the answer towards the offerer (RFC 3264 §6.1).
// The result is never nil, so no common codec means none is allowed.
func Intersect(offer, answer Offer) CodecFilter {
	f := CodecFilter{}
	for _, a := range answer.Codecs {
		if a.IsTelephoneEvent() || a.Name == "" {
			continue
		}
		if slices.ContainsFunc(offer.Codecs, a.same) && !slices.Contains(f, a.String()) {
			f = append(f, a.String())
		}
	}
	return f
}

// MapPayloads returns, for RTP sent by the side that wrote from to the side
// that wrote to, the payload types that differ for the same codec, e.g.
// telephone-event 101 -> 96. It suits Session.SetPayloadMap. Usually it is
// empty: an answer should reuse the offer's PTs (RFC 3264 §6.1).
func MapPayloads(from, to Offer) map[uint8]uint8 {
	m := make(map[uint8]uint8)
	for _, c := range from.Codecs {
		if c.Name == "" {
			continue
		}
		i := slices.IndexFunc(to.Codecs, c.same)
		if i >= 0 && to.Codecs[i].PT != c.PT {
			if _, dup := m[c.PT]; !dup {
				m[c.PT] = to.Codecs[i].PT
			}
		}
	}
	return m
}

// Origin is our own o= line towards one leg. RFC 3264 §5 and §8 want one
// session id per SDP session and a version that grows by one whenever the
// SDP we send differs from the previous one, and stays when it does not.
// Keep one Origin per leg for the call's life. It is not safe for concurrent
// use.
type Origin struct {
	Username  string // "-" when empty
	SessionID uint64
	Version   uint64
	last      []byte // previous body with the version left out; nil before the first
}

// NewOrigin returns an Origin with a random session id, and the version
// equal to it, as RFC 4566 §5.2 suggests.
func NewOrigin() *Origin {
	id := rand.Uint64N(1 << 62)
	return &Origin{Username: "-", SessionID: id, Version: id}
}

// version returns the version for a body whose version-free form is body.
func (o *Origin) version(body []byte) uint64 {
	if o.last != nil && !bytes.Equal(o.last, body) {
		o.Version++
	}
	o.last = body
	return o.Version
}

// ParseSDP describes the audio stream of body. The error wraps ErrBadSDP or
// ErrNoAudio.
func ParseSDP(body []byte) (Offer, error) {
	sd, err := unmarshal(body)
	if err != nil {
		return Offer{}, err
	}
	i, err := audioIndex(sd)
	if err != nil {
		return Offer{}, err
	}
	return describe(sd, sd.MediaDescriptions[i])
}

func unmarshal(body []byte) (*sdp.SessionDescription, error) {
	sd := new(sdp.SessionDescription)
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return sd, nil
}

// audioIndex picks the stream to relay: the first RTP audio stream with a
// port, else the first one (disabled).
func audioIndex(sd *sdp.SessionDescription) (int, error) {
	first := -1
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || !isRTP(md.MediaName.Protos) {
			continue
		}
		if md.MediaName.Port.Value != 0 {
			return i, nil
		}
		if first < 0 {
			first = i
		}
	}
	if first < 0 {
		return 0, ErrNoAudio
	}
	return first, nil
}

func isRTP(protos []string) bool { return len(protos) > 0 && protos[0] == "RTP" }

func describe(sd *sdp.SessionDescription, md *sdp.MediaDescription) (Offer, error) {
	o := Offer{
		Proto:          strings.Join(md.MediaName.Protos, "/"),
		TelephoneEvent: -1,
		SessionID:      sd.Origin.SessionID,
		SessionVersion: sd.Origin.SessionVersion,
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return Offer{}, fmt.Errorf("%w: no c= line for audio", ErrBadSDP)
	}
	ip, err := netip.ParseAddr(ci.Address.Address)
	if err != nil || ip.Zone() != "" {
		return Offer{}, fmt.Errorf("%w: c= address %q is not an IP address", ErrBadSDP, ci.Address.Address)
	}
	ip = ip.Unmap()
	port := md.MediaName.Port.Value
	if port < 0 || port > 65535 {
		return Offer{}, fmt.Errorf("%w: m= port %d", ErrBadSDP, port)
	}
	o.RTP = netip.AddrPortFrom(ip, uint16(port))
	if port != 0 && port < 65535 {
		o.RTCP = netip.AddrPortFrom(ip, uint16(port+1))
	}
	if v, ok := md.Attribute("rtcp"); ok && port != 0 {
		if a, ok := parseRTCP(v, ip); ok {
			o.RTCP = a
		}
	}
	o.Codecs = codecs(md)
	for _, c := range o.Codecs {
		if c.IsTelephoneEvent() {
			o.TelephoneEvent = int(c.PT)
			break
		}
	}
	o.Direction = direction(md.Attributes, direction(sd.Attributes, SendRecv))
	if v, ok := md.Attribute("ptime"); ok {
		o.Ptime, _ = strconv.Atoi(strings.TrimSpace(v))
	} else if v, ok := sd.Attribute("ptime"); ok {
		o.Ptime, _ = strconv.Atoi(strings.TrimSpace(v))
	}
	_, o.Crypto = md.Attribute("crypto")
	return o, nil
}

// parseRTCP reads "port [IN IP4 addr]" of a=rtcp (RFC 3605 §2.1).
func parseRTCP(v string, ip netip.Addr) (netip.AddrPort, bool) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, false
	}
	if len(f) == 4 {
		a, err := netip.ParseAddr(f[3])
		if err != nil || a.Zone() != "" {
			return netip.AddrPort{}, false
		}
		ip = a.Unmap()
	}
	return netip.AddrPortFrom(ip, uint16(port)), true
}

// codecs lists md's formats with their a=rtpmap and a=fmtp values. Formats
// that are not payload types (0-127) are left out.
func codecs(md *sdp.MediaDescription) []Codec {
	var list []Codec
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		c := staticCodecs[uint8(pt)] // zero for a dynamic PT
		c.PT = uint8(pt)
		if v, ok := ptAttribute(md, "rtpmap", f); ok {
			if rc, ok := parseRtpmap(v); ok {
				c.Name, c.ClockRate, c.Channels = rc.Name, rc.ClockRate, rc.Channels
			}
		}
		c.Fmtp, _ = ptAttribute(md, "fmtp", f)
		list = append(list, c)
	}
	return list
}

// ptAttribute returns the rest of the first "key:pt rest" attribute.
func ptAttribute(md *sdp.MediaDescription, key, pt string) (string, bool) {
	for _, a := range md.Attributes {
		if a.Key != key {
			continue
		}
		if p, rest, _ := strings.Cut(a.Value, " "); p == pt {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

// parseRtpmap reads "name/rate[/channels]" (RFC 4566 §6).
func parseRtpmap(v string) (Codec, bool) {
	parts := strings.Split(strings.TrimSpace(v), "/")
	if len(parts) < 2 || parts[0] == "" {
		return Codec{}, false
	}
	rate, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return Codec{}, false
	}
	c := Codec{Name: parts[0], ClockRate: uint32(rate)}
	if len(parts) > 2 {
		ch, err := strconv.ParseUint(parts[2], 10, 16)
		if err != nil {
			return Codec{}, false
		}
		c.Channels = uint16(ch)
	}
	return c, true
}

func direction(attrs []sdp.Attribute, def Direction) Direction {
	for _, a := range attrs {
		if i := slices.Index(directionNames[:], a.Key); i >= 0 && a.Value == "" {
			return Direction(i)
		}
	}
	return def
}
