// Package media relays RTP and RTCP between the two legs of a B2BUA call and
// rewrites SDP so that both legs send their media to the relay.
//
// A [Manager] owns a range of UDP ports. [Manager.NewSession] binds one RTP/RTCP
// port pair for each leg (RTP even, RTCP = RTP+1, RFC 3550 §11). Packets that
// arrive on leg A's sockets are sent from leg B's sockets to leg B's peer, and
// the other way round. Each socket latches onto the source of the first packet
// it receives (symmetric RTP, RFC 4961), so peers behind NAT work whatever
// address their SDP announces.
//
// [RewriteSDP] parses an offer or answer with pion/sdp, reports the peer's
// audio address and codecs as an [Offer], and produces the body to send to the
// other leg: c=, o= and m= point to the relay, codecs are limited by a
// [CodecFilter], and the o= version follows RFC 3264 §8 through an [Origin].
//
// See docs/media.md for the design and its limitations.
package media
