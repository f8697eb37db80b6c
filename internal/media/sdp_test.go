package media

import (
	"bytes"
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// sdpLines joins lines with CRLF, as SIP peers send them.
func sdpLines(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	relayAddr = netip.MustParseAddrPort("203.0.113.5:10000")
	pcmu      = Codec{PT: 0, Name: "PCMU", ClockRate: 8000}
	pcma      = Codec{PT: 8, Name: "PCMA", ClockRate: 8000}
	te101     = Codec{PT: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"}
)

func TestParseSDP(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want Offer
		err  error
	}{
		{
			name: "baresip offer",
			body: readTestdata(t, "baresip-offer.sdp"),
			want: Offer{
				RTP:   netip.MustParseAddrPort("127.0.0.7:30010"),
				RTCP:  netip.MustParseAddrPort("127.0.0.7:30011"),
				Proto: "RTP/AVP", Codecs: []Codec{pcmu, pcma, te101}, TelephoneEvent: 101,
				Ptime: 20, SessionID: 1913346537, SessionVersion: 3563938584,
			},
		},
		{
			name: "sipp uas answer",
			body: readTestdata(t, "sipp-uas-answer.sdp"),
			want: Offer{
				RTP:   netip.MustParseAddrPort("127.0.0.3:6000"),
				RTCP:  netip.MustParseAddrPort("127.0.0.3:6001"),
				Proto: "RTP/AVP", Codecs: []Codec{pcma, pcmu, te101}, TelephoneEvent: 101,
				Ptime: 20, SessionID: 53655765, SessionVersion: 2353687637,
			},
		},
		{
			name: "static payload types without rtpmap",
			body: sdpLines("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
				"m=audio 4000 RTP/AVP 0 8 18 96"),
			want: Offer{
				RTP:   netip.MustParseAddrPort("10.0.0.1:4000"),
				RTCP:  netip.MustParseAddrPort("10.0.0.1:4001"),
				Proto: "RTP/AVP", TelephoneEvent: -1, SessionID: 1, SessionVersion: 1,
				Codecs: []Codec{pcmu, pcma, {PT: 18, Name: "G729", ClockRate: 8000}, {PT: 96}},
			},
		},
		{
			name: "media c= and direction win over session ones",
			body: sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
				"a=inactive", "a=ptime:30",
				"m=audio 4000 RTP/AVP 8", "c=IN IP4 10.0.0.2", "a=sendonly", "a=rtcp:5000 IN IP4 10.0.0.3"),
			want: Offer{
				RTP:   netip.MustParseAddrPort("10.0.0.2:4000"),
				RTCP:  netip.MustParseAddrPort("10.0.0.3:5000"),
				Proto: "RTP/AVP", Codecs: []Codec{pcma}, TelephoneEvent: -1, Direction: SendOnly,
				Ptime: 30, SessionID: 1, SessionVersion: 2,
			},
		},
		{
			name: "session direction, opus, second audio line ignored",
			body: sdpLines("v=0", "o=- 1 2 IN IP6 ::1", "s=-", "c=IN IP6 2001:db8::1", "t=0 0", "a=recvonly",
				"m=audio 0 RTP/AVP 0",
				"m=audio 4000 RTP/SAVP 111 96", "a=rtpmap:111 opus/48000/2", "a=rtpmap:96 telephone-event/48000",
				"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
				"m=audio 5000 RTP/AVP 8"),
			want: Offer{
				RTP:   netip.MustParseAddrPort("[2001:db8::1]:4000"),
				RTCP:  netip.MustParseAddrPort("[2001:db8::1]:4001"),
				Proto: "RTP/SAVP", TelephoneEvent: 96, Direction: RecvOnly, Crypto: true,
				SessionID: 1, SessionVersion: 2,
				Codecs: []Codec{
					{PT: 111, Name: "opus", ClockRate: 48000, Channels: 2},
					{PT: 96, Name: "telephone-event", ClockRate: 48000},
				},
			},
		},
		{
			name: "RFC 2543 hold",
			body: sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			want: Offer{
				RTP:   netip.MustParseAddrPort("0.0.0.0:4000"),
				RTCP:  netip.MustParseAddrPort("0.0.0.0:4001"),
				Proto: "RTP/AVP", Codecs: []Codec{pcmu}, TelephoneEvent: -1, SessionID: 1, SessionVersion: 2,
			},
		},
		{
			name: "video only",
			body: sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0", "m=video 4000 RTP/AVP 96"),
			err:  ErrNoAudio,
		},
		{
			// pion/sdp v3 rejects m=image and udptl: T.38 is unsupported.
			name: "T.38",
			body: sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0", "m=image 4000 udptl t38"),
			err:  ErrBadSDP,
		},
		{
			name: "hostname in c=",
			body: sdpLines("v=0", "o=- 1 2 IN IP4 pbx.example", "s=-", "c=IN IP4 pbx.example", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			err:  ErrBadSDP,
		},
		{
			name: "no c=",
			body: sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			err:  ErrBadSDP,
		},
		{name: "not SDP", body: []byte("hello"), err: ErrBadSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSDP(tt.body)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalOffer(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func equalOffer(a, b Offer) bool {
	return slices.Equal(a.Codecs, b.Codecs) && a.RTP == b.RTP && a.RTCP == b.RTCP &&
		a.Proto == b.Proto && a.TelephoneEvent == b.TelephoneEvent && a.Direction == b.Direction &&
		a.Ptime == b.Ptime && a.Crypto == b.Crypto &&
		a.SessionID == b.SessionID && a.SessionVersion == b.SessionVersion
}

func TestOnHold(t *testing.T) {
	addr := netip.MustParseAddrPort("10.0.0.1:4000")
	tests := []struct {
		o    Offer
		want bool
	}{
		{Offer{RTP: addr}, false},
		{Offer{RTP: addr, Direction: RecvOnly}, false},
		{Offer{RTP: addr, Direction: SendOnly}, true},
		{Offer{RTP: addr, Direction: Inactive}, true},
		{Offer{RTP: netip.MustParseAddrPort("0.0.0.0:4000")}, true},
	}
	for _, tt := range tests {
		if got := tt.o.OnHold(); got != tt.want {
			t.Errorf("%v %v: OnHold = %v", tt.o.RTP, tt.o.Direction, got)
		}
	}
}

func TestRewriteSDPGolden(t *testing.T) {
	body := readTestdata(t, "baresip-offer.sdp")
	origin := &Origin{Username: "trunkline", SessionID: 42, Version: 7}
	got, offer, err := RewriteSDP(body, relayAddr, CodecFilter{"PCMA", "PCMU"}, origin)
	if err != nil {
		t.Fatal(err)
	}
	if offer.RTP != netip.MustParseAddrPort("127.0.0.7:30010") {
		t.Errorf("offer.RTP = %v", offer.RTP)
	}
	golden := filepath.Join("testdata", "baresip-offer.rewritten.sdp")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := readTestdata(t, "baresip-offer.rewritten.sdp"); !bytes.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRewriteSDP(t *testing.T) {
	baresip := readTestdata(t, "baresip-offer.sdp")
	tests := []struct {
		name     string
		body     []byte
		allow    CodecFilter
		contains []string // lines the result must have
		lacks    []string // substrings it must not have
		err      error
	}{
		{
			name:     "all codecs",
			body:     baresip,
			contains: []string{"c=IN IP4 203.0.113.5", "m=audio 10000 RTP/AVP 0 8 101", "a=rtcp:10001", "a=rtpmap:101 telephone-event/8000", "a=sendrecv", "a=ptime:20"},
			lacks:    []string{"127.0.0.7", "30010", "30011"},
		},
		{
			name:     "PCMA only keeps telephone-event",
			body:     baresip,
			allow:    CodecFilter{"pcma/8000"},
			contains: []string{"m=audio 10000 RTP/AVP 8 101", "a=rtpmap:8 PCMA/8000", "a=fmtp:101 0-15"},
			lacks:    []string{"PCMU", "rtpmap:0 "},
		},
		{
			name:  "nothing in common",
			body:  baresip,
			allow: CodecFilter{"G729"},
			err:   ErrNoCodec,
		},
		{
			name:  "empty intersection",
			body:  baresip,
			allow: CodecFilter{},
			err:   ErrNoCodec,
		},
		{
			name: "video rejected, media c= and ICE removed, crypto kept",
			body: sdpLines("v=0", "o=alice 1 2 IN IP4 192.168.1.10", "s=-", "t=0 0", "a=ice-lite",
				"m=audio 4000 RTP/SAVP 8 96", "c=IN IP4 192.168.1.10",
				"a=rtpmap:96 telephone-event/8000", "a=rtcp:4001 IN IP4 192.168.1.10",
				"a=candidate:1 1 UDP 2130706431 192.168.1.10 4000 typ host", "a=ice-ufrag:abcd",
				"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
				"a=sendonly",
				"m=video 4002 RTP/AVP 96", "c=IN IP4 192.168.1.10", "a=rtpmap:96 H264/90000", "a=mid:v"),
			contains: []string{
				"o=alice 1 2 IN IP4 203.0.113.5", "c=IN IP4 203.0.113.5", "m=audio 10000 RTP/SAVP 8 96",
				"a=rtcp:10001 IN IP4 203.0.113.5", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:", "a=sendonly",
				"m=video 0 RTP/AVP 96", "a=mid:v",
			},
			lacks: []string{"192.168.1.10", "candidate", "ice-", "H264"},
		},
		{
			name:     "disabled audio stays disabled",
			body:     sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0", "m=audio 0 RTP/AVP 0", "a=rtcp:9"),
			allow:    CodecFilter{"G729"},
			contains: []string{"m=audio 0 RTP/AVP 0"},
			lacks:    []string{"10.0.0.1", "a=rtcp"},
		},
		{
			name:     "IPv6 relay",
			body:     baresip,
			contains: []string{"c=IN IP6 2001:db8::5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			relay := relayAddr
			if strings.Contains(tt.name, "IPv6") {
				relay = netip.MustParseAddrPort("[2001:db8::5]:10000")
			}
			got, _, err := RewriteSDP(tt.body, relay, tt.allow, nil)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := string(got)
			for _, c := range tt.contains {
				if !strings.Contains(s, c) {
					t.Errorf("missing %q in\n%s", c, s)
				}
			}
			for _, c := range tt.lacks {
				if strings.Contains(s, c) {
					t.Errorf("unexpected %q in\n%s", c, s)
				}
			}
			again, err := ParseSDP(got)
			if err != nil {
				t.Fatalf("rewritten SDP does not parse: %v\n%s", err, s)
			}
			if again.RTP.Addr() != relay.Addr() {
				t.Errorf("rewritten RTP address %v", again.RTP)
			}
		})
	}
}

func TestOriginVersion(t *testing.T) {
	body := readTestdata(t, "baresip-offer.sdp")
	o := &Origin{SessionID: 5, Version: 100}
	version := func(relay netip.AddrPort, allow CodecFilter) uint64 {
		t.Helper()
		got, _, err := RewriteSDP(body, relay, allow, o)
		if err != nil {
			t.Fatal(err)
		}
		p, err := unmarshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if p.Origin.SessionID != 5 || p.Origin.Username != "-" {
			t.Fatalf("o= = %v", p.Origin)
		}
		return p.Origin.SessionVersion
	}
	steps := []struct {
		name  string
		relay netip.AddrPort
		allow CodecFilter
		want  uint64
	}{
		{"first", relayAddr, nil, 100},
		{"same again", relayAddr, nil, 100},
		{"codecs changed", relayAddr, CodecFilter{"PCMA"}, 101},
		{"same again", relayAddr, CodecFilter{"PCMA"}, 101},
		{"port changed", netip.MustParseAddrPort("203.0.113.5:10002"), CodecFilter{"PCMA"}, 102},
	}
	for _, s := range steps {
		if got := version(s.relay, s.allow); got != s.want {
			t.Errorf("%s: version %d, want %d", s.name, got, s.want)
		}
	}
	if n := NewOrigin(); n.Version != n.SessionID || n.Username != "-" {
		t.Errorf("NewOrigin = %+v", n)
	}
}

func TestIntersectAndMapPayloads(t *testing.T) {
	offer, err := ParseSDP(readTestdata(t, "baresip-offer.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	answer, err := ParseSDP(sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
		"m=audio 4000 RTP/AVP 9 8 96", "a=rtpmap:96 telephone-event/8000"))
	if err != nil {
		t.Fatal(err)
	}
	if got := Intersect(offer, answer); !slices.Equal(got, CodecFilter{"PCMA/8000"}) {
		t.Errorf("Intersect = %q", got)
	}
	none, _ := ParseSDP(sdpLines("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0", "m=audio 4000 RTP/AVP 18"))
	if got := Intersect(offer, none); got == nil || len(got) != 0 {
		t.Errorf("Intersect with nothing common = %#v, want empty non-nil", got)
	}
	m := MapPayloads(offer, answer)
	if len(m) != 1 || m[101] != 96 {
		t.Errorf("MapPayloads = %v, want 101->96", m)
	}
}

func TestCodecFilter(t *testing.T) {
	opus := Codec{PT: 111, Name: "opus", ClockRate: 48000, Channels: 2}
	tests := []struct {
		f    CodecFilter
		c    Codec
		want bool
	}{
		{nil, opus, true},
		{CodecFilter{}, opus, false},
		{CodecFilter{}, te101, true},
		{CodecFilter{"OPUS"}, opus, true},
		{CodecFilter{"opus/48000/2"}, opus, true},
		{CodecFilter{"opus/16000"}, opus, false},
		{CodecFilter{"PCMU", "PCMA"}, pcma, true},
	}
	for _, tt := range tests {
		if got := tt.f.Allows(tt.c); got != tt.want {
			t.Errorf("%q.Allows(%v) = %v", tt.f, tt.c, got)
		}
	}
}
