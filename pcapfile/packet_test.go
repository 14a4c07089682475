package pcapfile

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/zmtpdump/zmtpdump/segment"
)

// segOpts compares Segments: netip.AddrPort is comparable with ==, and an
// empty payload equals a nil one.
var segOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

const (
	src4, dst4 = "127.0.0.1", "10.1.2.3"
	src6, dst6 = "::1", "fe80::1234:5678"
)

var (
	// seg1 is a data segment; seg2 carries TCP options (doff 8).
	seg1 = tcpSeg{sport: 43758, dport: 17001, seq: 3819417234, ack: 2910701153, window: 0x1234,
		flags: segment.PSH | segment.ACK, payload: []byte("\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f")}
	// seg2's options have no window scale.
	seg2 = tcpSeg{sport: 17001, dport: 43758, seq: 1, ack: 0xffffffff, flags: segment.SYN | segment.ACK, window: 65535,
		opts:    []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2},
		payload: []byte("hello")}
	syn = tcpSeg{sport: 40000, dport: 17001, seq: 7, flags: segment.SYN, window: 64240}
	// Window scale options: Linux's SYN (MSS, SACK permitted, timestamps,
	// NOP, window scale 7); a shift above 14; an option of length 1 before
	// one (malformed: not read); an ACK's (not read: not a SYN).
	synWS = tcpSeg{sport: 40000, dport: 17001, seq: 7, flags: segment.SYN, window: 65495, wscale: 7, hasWScale: true,
		opts: []byte{2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 1, 2, 3, 0, 0, 0, 0, 1, 3, 3, 7}}
	synWS20 = tcpSeg{sport: 17001, dport: 40000, seq: 9, ack: 8, flags: segment.SYN | segment.ACK, window: 1, wscale: 14, hasWScale: true,
		opts: []byte{3, 3, 20, 0}}
	synBadOpt = tcpSeg{sport: 40000, dport: 17001, seq: 7, flags: segment.SYN, window: 2, opts: []byte{30, 1, 3, 3, 5, 0, 0, 0}}
	ackWS     = tcpSeg{sport: 40000, dport: 17001, seq: 8, ack: 10, flags: segment.ACK, window: 0, opts: []byte{1, 3, 3, 7}}
	// big does not fit in an IPv4 packet: TSO or BIG TCP made it.
	big = tcpSeg{sport: 5, dport: 6, seq: 7, ack: 8, flags: segment.ACK, window: 512, payload: bytes.Repeat([]byte("0123456789"), 7000)}
	// tiny has a 2-byte payload: with Ethernet padding its frame is 60
	// bytes. Its window is zero.
	tiny = tcpSeg{sport: 1, dport: 2, seq: 3, ack: 4, flags: segment.PSH | segment.ACK, payload: []byte("ab")}

	p4  = ipv4(src4, dst4, protoTCP, nil, seg1.bytes())
	p6  = ipv6(src6, dst6, protoTCP, seg1.bytes())
	p4o = ipv4(src4, dst4, protoTCP, []byte{1, 1, 1, 0}, seg2.bytes())                       // ihl 6
	p4m = ipv4(src4, dst4, protoTCP, bytes.Repeat([]byte{1}, 40), seg2.bytes())              // ihl 15
	p6o = ipv6(src6, dst6, protoTCP, seg2.bytes())                                           // doff 8
	p4t = ipv4(src4, dst4, protoTCP, nil, tiny.bytes())                                      // 42 bytes
	p4s = ipv4(src4, dst4, protoTCP, nil, syn.bytes())                                       // 40 bytes
	p4u = ipv4(src4, dst4, 17, nil, []byte{0x27, 0x0f, 0x27, 0x10, 0, 12, 0, 0, 1, 2, 3, 4}) // UDP
	p4i = ipv4(src4, dst4, 1, nil, []byte{8, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4})               // ICMP echo
	p6u = ipv6(src6, dst6, 17, []byte{0x27, 0x0f, 0x27, 0x10, 0, 12, 0, 0, 1, 2, 3, 4})      // UDP
	p6i = ipv6(src6, dst6, 58, []byte{128, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4})                 // ICMPv6 echo
	arp = []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 0xa, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2}
)

// want returns the Segment parseFrame should give for s between src and dst.
func want(src, dst string, s tcpSeg) *segment.Segment {
	return &segment.Segment{
		Src:        netip.AddrPortFrom(netip.MustParseAddr(src), s.sport),
		Dst:        netip.AddrPortFrom(netip.MustParseAddr(dst), s.dport),
		Seq:        s.seq,
		Ack:        s.ack,
		Flags:      s.flags,
		Window:     s.window,
		WScale:     wscaleOf(s),
		PayloadLen: len(s.payload),
		Payload:    s.payload,
	}
}

// wscaleOf returns the WScale the reader must give s.
func wscaleOf(s tcpSeg) int8 {
	if s.hasWScale {
		return s.wscale
	}
	return -1
}

// cut returns w with its payload cut to n bytes, as a snaplen would.
func cut(w *segment.Segment, n int) *segment.Segment {
	c := *w
	c.Payload = c.Payload[:n]
	return &c
}

// payloadLen returns w claiming n payload bytes.
func payloadLen(w *segment.Segment, n int) *segment.Segment {
	c := *w
	c.PayloadLen = n
	return &c
}

type frameCase struct {
	name  string
	lt    LinkType
	frame []byte
	want  *segment.Segment // nil: the frame must be skipped
	// oracle: gopacket decodes the frame to the same TCP segment. Off where
	// gopacket does not (IPv6 fragments) or the frame is cut or bogus.
	oracle bool
}

func frameCases() []frameCase {
	w4, w6 := want(src4, dst4, seg1), want(src6, dst6, seg1)
	w4o, w6o := want(src4, dst4, seg2), want(src6, dst6, seg2)
	full4 := eth(etherIPv4, p4)
	l4off := 14 + 20 // where the TCP header starts in full4
	return []frameCase{
		// Link layers.
		{"ethernet/ipv4", LinkEthernet, full4, w4, true},
		{"ethernet/ipv6", LinkEthernet, eth(etherIPv6, p6), w6, true},
		{"ethernet/vlan/ipv4", LinkEthernet, eth(etherIPv4, p4, ether8021Q), w4, true},
		{"ethernet/vlan/ipv6", LinkEthernet, eth(etherIPv6, p6, ether8021Q), w6, true},
		{"ethernet/qinq/ipv4", LinkEthernet, eth(etherIPv4, p4, ether8021AD, ether8021Q), w4, true},
		{"ethernet/qinq/ipv6", LinkEthernet, eth(etherIPv6, p6, ether8021AD, ether8021Q), w6, true},
		{"ethernet/qinq-9100/ipv4", LinkEthernet, eth(etherIPv4, p4, etherQinQ, ether8021Q), w4, false},
		{"ethernet/vlan-cut-in-tag", LinkEthernet, eth(etherIPv4, nil, ether8021Q)[:16], nil, false},
		{"ethernet/13-bytes", LinkEthernet, full4[:13], nil, false},
		{"ethernet/arp", LinkEthernet, eth(0x0806, arp), nil, true},
		{"ethernet/udp", LinkEthernet, eth(etherIPv4, p4u), nil, true},
		{"ethernet/icmp", LinkEthernet, eth(etherIPv4, p4i), nil, true},
		{"ethernet/udp6", LinkEthernet, eth(etherIPv6, p6u), nil, true},
		{"ethernet/icmp6", LinkEthernet, eth(etherIPv6, p6i), nil, true},
		{"ethernet/ipv6-in-ipv4-type", LinkEthernet, eth(etherIPv4, p6), nil, false},
		{"ethernet/ipv4-in-ipv6-type", LinkEthernet, eth(etherIPv6, p4), nil, false},
		{"sll/ipv4", LinkSLL, sll(etherIPv4, p4), w4, true},
		{"sll/ipv6", LinkSLL, sll(etherIPv6, p6), w6, true},
		{"sll/arp", LinkSLL, sll(0x0806, arp), nil, true},
		{"sll/15-bytes", LinkSLL, sll(etherIPv4, p4)[:15], nil, false},
		{"sll2/ipv4", LinkSLL2, sll2(etherIPv4, p4), w4, true},
		{"sll2/ipv6", LinkSLL2, sll2(etherIPv6, p6), w6, true},
		{"sll2/19-bytes", LinkSLL2, sll2(etherIPv4, p4)[:19], nil, false},
		{"raw/ipv4", LinkRaw, p4, w4, true},
		{"raw/ipv6", LinkRaw, p6, w6, true},
		{"raw/empty", LinkRaw, nil, nil, false},
		{"raw/version-5", LinkRaw, with(p4, 0, 0x55), nil, false},
		{"ipv4/ipv4", LinkIPv4, p4, w4, true},
		{"ipv6/ipv6", LinkIPv6, p6, w6, true},
		{"null/inet", LinkNull, null(2, p4), w4, true},
		{"null/inet6-bsd", LinkNull, null(24, p6), w6, true},
		{"null/inet6-freebsd", LinkNull, null(28, p6), w6, true},
		{"null/inet6-darwin", LinkNull, null(30, p6), w6, true},
		{"null/big-endian-host", LinkNull, nullBE(2, p4), w4, true},
		{"null/unknown-family", LinkNull, null(7, p4), nil, false},
		{"null/3-bytes", LinkNull, null(2, nil)[:3], nil, false},
		{"loop/inet", LinkLoop, loop(2, p4), w4, true},
		{"loop/inet6", LinkLoop, loop(24, p6), w6, true},
		{"loop/inet6-linux", LinkLoop, loop(10, p6), w6, false},
		{"unsupported-link-type", 147, p4, nil, false},
		{"negative-link-type", -1, p4, nil, false},

		// IP and TCP headers.
		{"ipv4/options-ihl6", LinkEthernet, eth(etherIPv4, p4o), w4o, true},
		{"ipv4/options-ihl15", LinkEthernet, eth(etherIPv4, p4m), w4o, true},
		{"ipv6/tcp-options", LinkEthernet, eth(etherIPv6, p6o), w6o, true},
		{"ipv4/syn-padded", LinkEthernet, padTo(eth(etherIPv4, p4s), 60), want(src4, dst4, syn), true},
		{"tcp/syn-window-scale", LinkEthernet, eth(etherIPv4, ipv4(src4, dst4, protoTCP, nil, synWS.bytes())), want(src4, dst4, synWS), true},
		{"tcp/syn-window-scale-ipv6", LinkRaw, ipv6(src6, dst6, protoTCP, synWS.bytes()), want(src6, dst6, synWS), true},
		{"tcp/syn-window-scale-above-14", LinkEthernet, eth(etherIPv4, ipv4(src4, dst4, protoTCP, nil, synWS20.bytes())), want(src4, dst4, synWS20), true},
		{"tcp/syn-option-malformed", LinkEthernet, eth(etherIPv4, ipv4(src4, dst4, protoTCP, nil, synBadOpt.bytes())), want(src4, dst4, synBadOpt), false},
		{"tcp/ack-window-scale-not-read", LinkEthernet, eth(etherIPv4, ipv4(src4, dst4, protoTCP, nil, ackWS.bytes())), want(src4, dst4, ackWS), true},
		{"ipv4/padding", LinkEthernet, append(eth(etherIPv4, p4t), 0xee, 0xee, 0xee, 0xee), want(src4, dst4, tiny), true},
		{"ipv4/padding-60", LinkEthernet, padTo(eth(etherIPv4, p4t), 60), want(src4, dst4, tiny), true},
		{"ipv4/first-fragment", LinkEthernet, eth(etherIPv4, with16(p4, 6, 0x2000)), w4, false},
		{"ipv4/later-fragment", LinkEthernet, eth(etherIPv4, with16(p4, 6, 0x2000|185)), nil, false},
		{"ipv4/last-fragment", LinkEthernet, eth(etherIPv4, with16(p4, 6, 3)), nil, false},
		{"ipv4/tot-len-0-offload", LinkEthernet, eth(etherIPv4, with16(p4, 2, 0)), w4, false},
		{"ipv4/tot-len-0-offload-70k", LinkEthernet, eth(etherIPv4, with16(ipv4(src4, dst4, protoTCP, nil, big.bytes()), 2, 0)), want(src4, dst4, big), false},
		{"ipv4/tot-len-below-ihl", LinkEthernet, eth(etherIPv4, with16(p4, 2, 19)), nil, false},
		{"ipv4/tot-len-below-tcp-header", LinkEthernet, eth(etherIPv4, with16(p4, 2, 39)), nil, false},
		{"ipv4/tot-len-tcp-header-only", LinkEthernet, eth(etherIPv4, with16(p4, 2, 40)), payloadLen(cut(w4, 0), 0), false},
		{"ipv4/tot-len-past-capture", LinkEthernet, eth(etherIPv4, with16(p4, 2, 1500)), payloadLen(w4, 1460), false},
		{"ipv4/tot-len-max", LinkEthernet, eth(etherIPv4, with16(p4, 2, 0xffff)), payloadLen(w4, 0xffff-40), false},
		{"ipv4/ihl-0", LinkEthernet, eth(etherIPv4, with(p4, 0, 0x40)), nil, false},
		{"ipv4/ihl-4", LinkEthernet, eth(etherIPv4, with(p4, 0, 0x44)), nil, false},
		{"ipv4/ihl-15-past-capture", LinkEthernet, eth(etherIPv4, with(p4, 0, 0x4f)[:50]), nil, false},
		{"ipv4/ihl-past-tot-len", LinkEthernet, eth(etherIPv4, with16(with(p4, 0, 0x46), 2, 22)), nil, false},
		{"tcp/doff-0", LinkEthernet, eth(etherIPv4, with(p4, 20+12, 0x00)), nil, false},
		{"tcp/doff-4", LinkEthernet, eth(etherIPv4, with(p4, 20+12, 0x40)), nil, false},
		{"tcp/doff-15-past-segment", LinkEthernet, eth(etherIPv4, with(p4, 20+12, 0xf0)), nil, false},
		{"tcp/doff-past-tot-len", LinkEthernet, eth(etherIPv4, with16(with(p4, 20+12, 0x60), 2, 40)), nil, false},
		{"tcp/doff-past-capture", LinkEthernet, eth(etherIPv4, p4o)[:14+24+30], nil, false},

		// Cut by the snapshot length.
		{"cut/in-payload", LinkEthernet, full4[:len(full4)-3], cut(w4, len(seg1.payload)-3), false},
		{"cut/after-tcp-header", LinkEthernet, full4[:l4off+20], cut(w4, 0), false},
		{"cut/in-tcp-header", LinkEthernet, full4[:l4off+19], nil, false},
		{"cut/in-tcp-options", LinkEthernet, eth(etherIPv6, p6o)[:14+40+25], nil, false},
		{"cut/in-ip-header", LinkEthernet, full4[:14+19], nil, false},
		{"cut/ipv6-in-payload", LinkEthernet, eth(etherIPv6, p6)[:14+40+20+1], cut(w6, 1), false},
		{"cut/ipv6-in-header", LinkEthernet, eth(etherIPv6, p6)[:14+39], nil, false},

		// IPv6 payload length and extension headers.
		{"ipv6/payload-len-0-big-tcp", LinkEthernet, eth(etherIPv6, with16(p6, 4, 0)), w6, false},
		{"ipv6/payload-len-max", LinkEthernet, eth(etherIPv6, with16(p6, 4, 0xffff)), payloadLen(w6, 0xffff-20), false},
		{"ipv6/trailing-bytes", LinkEthernet, append(eth(etherIPv6, p6), 0xee, 0xee), w6, true},
		{"ipv6/payload-len-below-tcp-header", LinkEthernet, eth(etherIPv6, with16(p6, 4, 19)), nil, false},
		{"ipv6/hop-by-hop", LinkRaw, ipv6(src6, dst6, protoHopByHop, ext6(protoTCP, 8, seg1.bytes())), w6, true},
		{"ipv6/dstopts-routing", LinkRaw, ipv6(src6, dst6, protoDstOpts, ext6(protoRouting, 16, ext6(protoTCP, 24, seg1.bytes()))), w6, true},
		{"ipv6/first-fragment", LinkRaw, ipv6(src6, dst6, protoFragment, frag6(protoTCP, 0, true, seg1.bytes())), w6, false},
		{"ipv6/later-fragment", LinkRaw, ipv6(src6, dst6, protoFragment, frag6(protoTCP, 5, true, seg1.bytes())), nil, false},
		{"ipv6/ah", LinkRaw, ipv6(src6, dst6, protoAH, append([]byte{protoTCP, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, seg1.bytes()...)), w6, true},
		{"ipv6/esp", LinkRaw, ipv6(src6, dst6, 50, append([]byte{0, 0, 1, 0, 0, 0, 0, 1}, seg1.bytes()...)), nil, false},
		{"ipv6/no-next-header", LinkRaw, ipv6(src6, dst6, 59, seg1.bytes()), nil, false},
		{"ipv6/too-many-ext-headers", LinkRaw, ipv6(src6, dst6, protoDstOpts, nestDstOpts(maxExtHeaders+1, seg1.bytes())), nil, false},
		{"ipv6/max-ext-headers", LinkRaw, ipv6(src6, dst6, protoDstOpts, nestDstOpts(maxExtHeaders, seg1.bytes())), w6, true},
		{"ipv6/ext-header-past-capture", LinkRaw, ipv6(src6, dst6, protoHopByHop, ext6(protoTCP, 8, seg1.bytes()))[:40+6], nil, false},
		{"ipv6/ext-header-len-past-capture", LinkRaw, with(ipv6(src6, dst6, protoHopByHop, ext6(protoTCP, 8, seg1.bytes())), 41, 200), nil, false},
		{"ipv6/ext-header-len-past-payload-len", LinkRaw, with16(ipv6(src6, dst6, protoHopByHop, ext6(protoTCP, 16, seg1.bytes())), 4, 12), nil, false},
	}
}

// nestDstOpts wraps l4 in n destination options headers.
func nestDstOpts(n int, l4 []byte) []byte {
	next := byte(protoTCP)
	for range n {
		l4 = ext6(next, 8, l4)
		next = protoDstOpts
	}
	return l4
}

func TestParseFrame(t *testing.T) {
	for _, tc := range frameCases() {
		t.Run(tc.name, func(t *testing.T) {
			var seg segment.Segment
			err := parseFrame(tc.lt, tc.frame, &seg)
			if tc.want == nil {
				if !errors.Is(err, errNotTCP) {
					t.Fatalf("parseFrame = %v, %+v; want errNotTCP", err, seg)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFrame: %v", err)
			}
			if diff := cmp.Diff(*tc.want, seg, segOpts); diff != "" {
				t.Errorf("segment (-want +got):\n%s", diff)
			}
			checkSegment(t, &seg, tc.frame)
		})
	}
}

// TestParseFrameGopacket checks the hand-made frames and parseFrame against
// gopacket's decoders.
func TestParseFrameGopacket(t *testing.T) {
	for _, tc := range frameCases() {
		if !tc.oracle {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			lt := layers.LinkType(tc.lt)
			if tc.lt == LinkIPv4 || tc.lt == LinkIPv6 {
				lt = layers.LinkTypeRaw // gopacket decodes these as raw IP only
			}
			pkt := gopacket.NewPacket(tc.frame, lt, gopacket.Default)
			if el := pkt.ErrorLayer(); el != nil {
				t.Fatalf("gopacket: %v", el.Error())
			}
			tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if tc.want == nil {
				if tcp != nil {
					t.Fatalf("gopacket finds TCP in a frame parseFrame skips")
				}
				return
			}
			if tcp == nil {
				t.Fatalf("gopacket finds no TCP: %v", pkt)
			}
			net := pkt.NetworkLayer().NetworkFlow()
			got := segment.Segment{
				Src:        netip.AddrPortFrom(addrOf(t, net.Src().Raw()), uint16(tcp.SrcPort)),
				Dst:        netip.AddrPortFrom(addrOf(t, net.Dst().Raw()), uint16(tcp.DstPort)),
				Seq:        tcp.Seq,
				Ack:        tcp.Ack,
				Flags:      tcp.Contents[13],
				Window:     tcp.Window,
				WScale:     gopacketWScale(tcp),
				PayloadLen: len(tcp.Payload),
				Payload:    tcp.Payload,
			}
			if diff := cmp.Diff(*tc.want, got, segOpts); diff != "" {
				t.Errorf("gopacket's segment (-want +got):\n%s", diff)
			}
		})
	}
}

// gopacketWScale returns the window scale shift of a SYN that gopacket
// decoded (a larger one than 14 counts as 14, RFC 7323 section 2.3), or -1.
func gopacketWScale(tcp *layers.TCP) int8 {
	if !tcp.SYN {
		return -1
	}
	for _, o := range tcp.Options {
		if o.OptionType == layers.TCPOptionKindWindowScale && len(o.OptionData) == 1 {
			return int8(min(o.OptionData[0], 14))
		}
	}
	return -1
}

func addrOf(t *testing.T, b []byte) netip.Addr {
	t.Helper()
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		t.Fatalf("bad address %x", b)
	}
	return a
}

// TestParseFrameEveryCut cuts every frame that parses at every length: a
// frame cut before the end of its TCP header is skipped, one cut after gives
// the same segment with a shorter payload.
func TestParseFrameEveryCut(t *testing.T) {
	// Frames whose IP header gives no length: the capture is trusted.
	trustCapture := map[string]bool{"ipv4/tot-len-0-offload": true, "ipv6/payload-len-0-big-tcp": true}
	for _, tc := range frameCases() {
		if tc.want == nil || len(tc.frame) > 4096 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			start := -1 // where the payload starts: the first cut that parses
			for n := range len(tc.frame) + 1 {
				frame := bytes.Clone(tc.frame[:n])
				var seg segment.Segment
				err := parseFrame(tc.lt, frame, &seg)
				if err != nil {
					if !errors.Is(err, errNotTCP) {
						t.Fatalf("cut at %d: %v", n, err)
					}
					if start >= 0 {
						t.Fatalf("cut at %d, %d bytes into the payload: %v", n, n-start, err)
					}
					continue
				}
				if start < 0 {
					start = n
					if start+len(tc.want.Payload) > len(tc.frame) {
						t.Fatalf("payload starts at %d, past the frame of %d", start, len(tc.frame))
					}
				}
				checkSegment(t, &seg, frame)
				w := *tc.want
				w.Payload = w.Payload[:min(len(w.Payload), n-start)]
				if trustCapture[tc.name] {
					w.PayloadLen = n - start
				}
				if diff := cmp.Diff(w, seg, segOpts); diff != "" {
					t.Fatalf("cut at %d (-want +got):\n%s", n, diff)
				}
			}
		})
	}
}

// TestParseFramePayloadCap checks that appending to a payload cannot
// overwrite the bytes after it (Ethernet padding, the next frame).
func TestParseFramePayloadCap(t *testing.T) {
	frame := append(eth(etherIPv4, p4t), 0xee, 0xee, 0xee, 0xee)
	var seg segment.Segment
	if err := parseFrame(LinkEthernet, frame, &seg); err != nil {
		t.Fatal(err)
	}
	_ = append(seg.Payload, 'x')
	if frame[len(frame)-4] != 0xee {
		t.Fatal("append to Payload overwrote the frame")
	}
}

// maxClaimedPayload is the longest TCP payload an IP header can claim: an
// IPv6 payload length of 65535 less a TCP header. Longer ones come from
// frames whose IP header gives no length.
const maxClaimedPayload = 0xffff - 20

// checkSegment checks what holds for every segment parseFrame returns.
func checkSegment(t *testing.T, seg *segment.Segment, frame []byte) {
	t.Helper()
	if err := segmentInvariants(seg, frame); err != nil {
		t.Fatal(err)
	}
}

func segmentInvariants(seg *segment.Segment, frame []byte) error {
	if seg.PayloadLen < 0 || len(seg.Payload) > seg.PayloadLen {
		return fmt.Errorf("payload %d bytes, PayloadLen %d", len(seg.Payload), seg.PayloadLen)
	}
	if cap(seg.Payload) != len(seg.Payload) {
		return fmt.Errorf("payload cap %d > len %d", cap(seg.Payload), len(seg.Payload))
	}
	if frame != nil && seg.PayloadLen > max(maxClaimedPayload, len(frame)-40) {
		return fmt.Errorf("PayloadLen %d in a frame of %d bytes", seg.PayloadLen, len(frame))
	}
	src, dst := seg.Src.Addr(), seg.Dst.Addr()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return fmt.Errorf("addresses %v > %v", seg.Src, seg.Dst)
	}
	if len(seg.Payload) > 0 && frame != nil {
		// The payload lies in the frame past an IP and a TCP header.
		start := uintptr(unsafe.Pointer(unsafe.SliceData(frame)))
		p := uintptr(unsafe.Pointer(unsafe.SliceData(seg.Payload)))
		if p < start+40 || p+uintptr(len(seg.Payload)) > start+uintptr(len(frame)) {
			return fmt.Errorf("payload [%d:%d] outside frame of %d bytes", p-start, p-start+uintptr(len(seg.Payload)), len(frame))
		}
	}
	return nil
}

// FuzzParseFrame feeds arbitrary frames of any link type to parseFrame.
func FuzzParseFrame(f *testing.F) {
	for _, tc := range frameCases() {
		if len(tc.frame) <= 4096 {
			f.Add(int(tc.lt), tc.frame)
		}
	}
	for _, lt := range []LinkType{LinkNull, LinkEthernet, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2} {
		f.Add(int(lt), []byte{})
	}
	f.Fuzz(func(t *testing.T, n int, frame []byte) {
		lt := LinkType(n)
		var seg segment.Segment
		err := parseFrame(lt, frame, &seg)
		if err != nil {
			if !errors.Is(err, errNotTCP) {
				t.Fatalf("error %v is not errNotTCP", err)
			}
			return
		}
		if !lt.Supported() {
			t.Fatalf("link type %d is not supported yet parsed", lt)
		}
		checkSegment(t, &seg, frame)
		// Parsing the same bytes again gives the same segment.
		var again segment.Segment
		if err := parseFrame(lt, bytes.Clone(frame), &again); err != nil {
			t.Fatalf("second parse: %v", err)
		}
		if !bytes.Equal(seg.Payload, again.Payload) {
			t.Fatalf("second parse gives payload %x, first %x", again.Payload, seg.Payload)
		}
		if seg.Src != again.Src || seg.Dst != again.Dst || seg.Seq != again.Seq || seg.Ack != again.Ack ||
			seg.Flags != again.Flags || seg.PayloadLen != again.PayloadLen {
			t.Fatalf("second parse gives %+v, first %+v", again, seg)
		}
	})
}
