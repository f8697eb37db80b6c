package media

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// iceAttributes would point peers at addresses behind the relay; the relay
// does not do ICE, so they are removed.
var iceAttributes = []string{
	"candidate", "remote-candidates", "end-of-candidates",
	"ice-ufrag", "ice-pwd", "ice-options", "ice-lite", "ice-mismatch",
}

// RewriteSDP rewrites an offer or answer that one leg sent, for sending to
// the other leg through the relay. relay is the relay's advertised RTP
// address for that other leg (Session.LocalAddr); RTCP is its port+1. It
// returns the new body and the description of the original one.
//
// The rewrite:
//   - sets the session c= and the o= address to relay's address and removes
//     media-level c= lines, so no address of the sender leaks;
//   - sets the port of the relayed audio stream (the first RTP audio m= line
//     with a port) to relay's port, or keeps 0 when the sender disabled it;
//   - keeps only the audio codecs allow lets through, with their a=rtpmap,
//     a=fmtp and a=rtcp-fb lines; telephone-event is always kept (RFC 4733).
//     If no codec other than telephone-event remains, it fails with
//     ErrNoCodec;
//   - rewrites a=rtcp (RFC 3605) to the relay's RTCP port and removes ICE
//     attributes;
//   - rejects every other m= line (video, a second audio stream, T.38) with
//     port 0 as RFC 3264 §6 and §8.2 allow, keeping only a=mid;
//   - keeps the direction attribute, a=ptime and a=crypto unchanged;
//   - with origin non-nil writes our own o= username, session id and
//     version, bumping the version only if the result differs from the last
//     body rewritten with the same origin (RFC 3264 §8). With origin nil the
//     sender's username, id and version stay.
//
// Errors wrap ErrBadSDP, ErrNoAudio or ErrNoCodec.
func RewriteSDP(body []byte, relay netip.AddrPort, allow CodecFilter, origin *Origin) ([]byte, Offer, error) {
	if !relay.IsValid() {
		return nil, Offer{}, fmt.Errorf("media: rewrite: invalid relay address")
	}
	sd, err := unmarshal(body)
	if err != nil {
		return nil, Offer{}, err
	}
	ai, err := audioIndex(sd)
	if err != nil {
		return nil, Offer{}, err
	}
	audio := sd.MediaDescriptions[ai]
	offer, err := describe(sd, audio)
	if err != nil {
		return nil, Offer{}, err
	}
	ip := relay.Addr().Unmap()
	sd.ConnectionInformation = &sdp.ConnectionInformation{
		NetworkType: "IN", AddressType: addrType(ip), Address: &sdp.Address{Address: ip.String()},
	}
	sd.Origin.NetworkType, sd.Origin.AddressType, sd.Origin.UnicastAddress = "IN", addrType(ip), ip.String()
	sd.Attributes = slices.DeleteFunc(sd.Attributes, isICE)

	for i, md := range sd.MediaDescriptions {
		md.ConnectionInformation = nil
		md.MediaName.Port.Range = nil
		if i != ai {
			reject(md)
		}
	}
	if err := rewriteAudio(audio, offer, relay, allow); err != nil {
		return nil, Offer{}, err
	}
	if origin != nil {
		sd.Origin.Username = origin.Username
		if sd.Origin.Username == "" {
			sd.Origin.Username = "-"
		}
		sd.Origin.SessionID, sd.Origin.SessionVersion = origin.SessionID, 0
		plain, err := sd.Marshal()
		if err != nil {
			return nil, Offer{}, fmt.Errorf("%w: %w", ErrBadSDP, err)
		}
		sd.Origin.SessionVersion = origin.version(plain)
	}
	out, err := sd.Marshal()
	if err != nil {
		return nil, Offer{}, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	return out, offer, nil
}

// rewriteAudio points the relayed stream at relay and filters its codecs.
func rewriteAudio(audio *sdp.MediaDescription, offer Offer, relay netip.AddrPort, allow CodecFilter) error {
	disabled := offer.RTP.Port() == 0
	if err := filterCodecs(audio, offer.Codecs, allow); err != nil && !disabled {
		return err
	}
	audio.Attributes = slices.DeleteFunc(audio.Attributes, isICE)
	if disabled {
		audio.Attributes = slices.DeleteFunc(audio.Attributes, func(a sdp.Attribute) bool { return a.Key == "rtcp" })
		return nil
	}
	audio.MediaName.Port.Value = int(relay.Port())
	ip := relay.Addr().Unmap()
	for j, a := range audio.Attributes {
		if a.Key != "rtcp" {
			continue
		}
		v := strconv.Itoa(int(relay.Port()) + 1)
		if len(strings.Fields(a.Value)) == 4 { // "port IN IP4 addr"
			v += " IN " + addrType(ip) + " " + ip.String()
		}
		audio.Attributes[j].Value = v
	}
	return nil
}

func addrType(ip netip.Addr) string {
	if ip.Is6() {
		return "IP6"
	}
	return "IP4"
}

func isICE(a sdp.Attribute) bool { return slices.Contains(iceAttributes, a.Key) }

// reject turns md into a rejected stream: port 0, no attributes but a=mid
// (RFC 3264 §6: "the media formats ... MUST include at least one" format, so
// the formats stay).
func reject(md *sdp.MediaDescription) {
	md.MediaName.Port.Value = 0
	md.Bandwidth = nil
	md.EncryptionKey = nil
	md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool { return a.Key != "mid" })
	if len(md.MediaName.Formats) == 0 {
		md.MediaName.Formats = []string{"0"}
	}
}

// filterCodecs keeps in md only the formats of list that allow lets
// through, and their per-PT attributes. It fails if no codec other than
// telephone-event is left; md is filtered anyway.
func filterCodecs(md *sdp.MediaDescription, list []Codec, allow CodecFilter) error {
	keep := make(map[string]bool, len(list))
	audio := 0
	for _, c := range list {
		if !allow.Allows(c) || (c.Name == "" && allow != nil) {
			continue
		}
		keep[strconv.Itoa(int(c.PT))] = true
		if !c.IsTelephoneEvent() {
			audio++
		}
	}
	md.MediaName.Formats = slices.DeleteFunc(md.MediaName.Formats, func(f string) bool { return !keep[f] })
	md.Attributes = slices.DeleteFunc(md.Attributes, func(a sdp.Attribute) bool {
		switch a.Key {
		case "rtpmap", "fmtp", "rtcp-fb":
			pt, _, _ := strings.Cut(a.Value, " ")
			return pt != "*" && !keep[pt]
		}
		return false
	})
	if audio == 0 {
		// An m= line needs a format; keep the first so the body stays valid
		// when the stream was disabled anyway.
		if len(md.MediaName.Formats) == 0 {
			md.MediaName.Formats = []string{"0"}
			if len(list) > 0 {
				md.MediaName.Formats[0] = strconv.Itoa(int(list[0].PT))
			}
		}
		return fmt.Errorf("%w: offered %s", ErrNoCodec, codecNames(list))
	}
	return nil
}

func codecNames(list []Codec) string {
	names := make([]string, len(list))
	for i, c := range list {
		names[i] = strconv.Itoa(int(c.PT))
		if c.Name != "" {
			names[i] += " " + c.String()
		}
	}
	return strings.Join(names, ", ")
}
