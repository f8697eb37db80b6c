package media

import (
	"net/netip"
	"testing"
)

// FuzzRewriteSDP checks that RewriteSDP never panics, and that whatever it
// returns parses again and points to the relay.
func FuzzRewriteSDP(f *testing.F) {
	for _, name := range []string{"baresip-offer.sdp", "sipp-uas-answer.sdp", "baresip-offer.rewritten.sdp"} {
		f.Add(readTestdata(f, name), uint8(0))
	}
	f.Add(sdpLines("v=0", "o=- 1 2 IN IP4 192.168.1.10", "s=-", "t=0 0",
		"m=audio 4000 RTP/SAVP 8 96", "c=IN IP4 192.168.1.10", "a=rtpmap:96 telephone-event/8000",
		"a=rtcp:4001 IN IP4 192.168.1.10", "a=candidate:1 1 UDP 2130706431 192.168.1.10 4000 typ host",
		"m=video 4002 RTP/AVP 96", "a=rtpmap:96 H264/90000", "a=mid:v"), uint8(1))
	f.Add(sdpLines("v=0", "o=- 1 2 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0", "a=inactive",
		"m=audio 0 RTP/AVP 0", "m=audio 4000/2 RTP/AVP 111", "a=rtpmap:111 opus/48000/2"), uint8(2))
	filters := []CodecFilter{nil, {"PCMA"}, {"PCMU/8000", "opus"}, {}}
	relays := []netip.AddrPort{
		netip.MustParseAddrPort("203.0.113.5:10000"),
		netip.MustParseAddrPort("[2001:db8::5]:20000"),
	}
	f.Fuzz(func(t *testing.T, body []byte, pick uint8) {
		relay := relays[int(pick)%len(relays)]
		out, _, err := RewriteSDP(body, relay, filters[int(pick/2)%len(filters)], NewOrigin())
		if err != nil {
			return
		}
		again, err := ParseSDP(out)
		if err != nil {
			t.Fatalf("rewritten SDP does not parse: %v\n%q\nfrom\n%q", err, out, body)
		}
		if again.RTP.Addr() != relay.Addr() || (again.RTP.Port() != relay.Port() && again.RTP.Port() != 0) {
			t.Fatalf("rewritten RTP address %v, relay %v\n%q", again.RTP, relay, out)
		}
	})
}
