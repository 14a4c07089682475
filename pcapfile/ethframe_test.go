package pcapfile

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/zmtpdump/zmtpdump/segment"
)

// TestAppendFrame rebuilds frames and checks them with gopacket's
// decoders: every header field, lengths and both checksums.
func TestAppendFrame(t *testing.T) {
	payload := []byte("\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7fodd")
	for _, tt := range []struct {
		name    string
		link    LinkType
		src     string
		dst     string
		payload []byte
		flags   uint8 // 0: PSH ACK
		window  uint16
		wscale  int8 // -1: none; only a SYN's is written
	}{
		{"ethernet ipv4", LinkEthernet, "127.0.0.1:53420", "127.0.0.1:7001", payload, 0, 65535, -1},
		{"raw ipv4 empty", LinkRaw, "10.0.0.1:1", "10.0.0.2:2", nil, 0, 0, -1},
		{"ethernet ipv6", LinkEthernet, "[::1]:53420", "[fe80::1]:7001", payload, 0, 512, -1},
		{"raw ipv6 even", LinkRaw, "[2001:db8::5]:9", "[2001:db8::6]:10", payload[:10], 0, 1, -1},
		{"SYN with window scale", LinkEthernet, "127.0.0.1:53420", "127.0.0.1:7001", nil, segment.SYN, 65495, 7},
		{"SYN with data (TFO), shift 0", LinkRaw, "10.0.0.1:1", "10.0.0.2:2", payload, segment.SYN, 29200, 0},
		{"SYN-ACK ipv6, shift 14", LinkEthernet, "[::1]:7001", "[::1]:53420", nil, segment.SYN | segment.ACK, 65483, 14},
		{"SYN without window scale", LinkEthernet, "127.0.0.1:53420", "127.0.0.1:7001", nil, segment.SYN, 8192, -1},
		{"ACK with a shift: not written", LinkEthernet, "127.0.0.1:53420", "127.0.0.1:7001", payload, 0, 3, 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			flags := tt.flags
			if flags == 0 {
				flags = segment.PSH | segment.ACK
			}
			seg := segment.Segment{
				Time: time.Unix(1, 0), Src: netip.MustParseAddrPort(tt.src), Dst: netip.MustParseAddrPort(tt.dst),
				Seq: 0xfffffff0, Ack: 77, Flags: flags, Window: tt.window, WScale: tt.wscale,
				PayloadLen: len(tt.payload), Payload: tt.payload,
			}
			opts := 0 // TCP option bytes written
			if flags&segment.SYN != 0 && tt.wscale >= 0 {
				opts = 4
			}
			frame := appendFrame(nil, tt.link, &seg, seg.Seq, seg.Flags, seg.Payload, seg.PayloadLen)
			if got, want := len(frame), headersLen(tt.link, &seg)+len(tt.payload); got != want {
				t.Fatalf("frame length %d, want %d", got, want)
			}
			first := layers.LayerTypeEthernet
			if tt.link == LinkRaw {
				first = layers.LayerTypeIPv4
				if seg.Src.Addr().Is6() {
					first = layers.LayerTypeIPv6
				}
			}
			pkt := gopacket.NewPacket(frame, first, gopacket.Default)
			if el := pkt.ErrorLayer(); el != nil {
				t.Fatalf("decode: %v", el.Error())
			}
			tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if tcp == nil {
				t.Fatalf("no TCP layer in %v", pkt)
			}
			if tcp.SrcPort != layers.TCPPort(seg.Src.Port()) || tcp.DstPort != layers.TCPPort(seg.Dst.Port()) ||
				tcp.Seq != seg.Seq || tcp.Ack != seg.Ack || tcp.Contents[13] != flags ||
				int(tcp.DataOffset) != 5+opts/4 || tcp.Window != tt.window {
				t.Errorf("TCP header: %+v", tcp)
			}
			// The options, as Wireshark reads them: a window scale option
			// on a SYN with a shift.
			if ws := windowScale(tcp.Contents[20:]); flags&segment.SYN != 0 && ws != tt.wscale || flags&segment.SYN == 0 && ws != -1 {
				t.Errorf("window scale option %d in % x", ws, tcp.Contents[20:])
			}
			var got []layers.TCPOptionKind
			for _, o := range tcp.Options {
				got = append(got, o.OptionType)
				if o.OptionType == layers.TCPOptionKindWindowScale && (len(o.OptionData) != 1 || int8(o.OptionData[0]) != tt.wscale) {
					t.Errorf("gopacket reads window scale option %+v, want shift %d", o, tt.wscale)
				}
			}
			if want := []layers.TCPOptionKind{layers.TCPOptionKindNop, layers.TCPOptionKindWindowScale}; opts > 0 && !slices.Equal(got, want) || opts == 0 && len(got) > 0 {
				t.Errorf("TCP options %v", got)
			}
			if !bytes.Equal(tcp.Payload, tt.payload) {
				t.Errorf("payload %q, want %q", tcp.Payload, tt.payload)
			}
			if nl := pkt.NetworkLayer(); nl != nil {
				if err := tcp.SetNetworkLayerForChecksum(nl); err != nil {
					t.Fatal(err)
				}
			}
			if err, res := tcp.VerifyChecksum(); err != nil || !res.Valid {
				t.Errorf("TCP checksum: %v %+v", err, res)
			}
			if ip4, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
				if ip4.SrcIP.String() != seg.Src.Addr().String() || ip4.DstIP.String() != seg.Dst.Addr().String() ||
					int(ip4.Length) != 40+opts+len(tt.payload) || ip4.TTL != 64 || ip4.Flags != layers.IPv4DontFragment {
					t.Errorf("IPv4 header: %+v", ip4)
				}
				if err, res := ip4.VerifyChecksum(); err != nil || !res.Valid {
					t.Errorf("IPv4 checksum: %v %+v", err, res)
				}
			}
			if ip6, ok := pkt.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
				if ip6.SrcIP.String() != seg.Src.Addr().String() || ip6.DstIP.String() != seg.Dst.Addr().String() ||
					int(ip6.Length) != 20+opts+len(tt.payload) || ip6.HopLimit != 64 || ip6.NextHeader != layers.IPProtocolTCP {
					t.Errorf("IPv6 header: %+v", ip6)
				}
			}
			if eth, ok := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); ok {
				if !bytes.Equal(eth.SrcMAC, make([]byte, 6)) || !bytes.Equal(eth.DstMAC, make([]byte, 6)) {
					t.Errorf("Ethernet addresses: %+v", eth)
				}
			}
		})
	}
}

// TestAppendFrameCut checks a cut payload: the headers claim the full
// length, the TCP checksum is 0.
func TestAppendFrameCut(t *testing.T) {
	seg := segment.Segment{Src: netip.MustParseAddrPort("127.0.0.1:1"), Dst: netip.MustParseAddrPort("127.0.0.1:2"), PayloadLen: 1000, Payload: []byte("abc")}
	frame := appendFrame(nil, LinkRaw, &seg, 5, segment.ACK, seg.Payload, seg.PayloadLen)
	if len(frame) != 43 {
		t.Fatalf("frame length %d, want 43", len(frame))
	}
	if tot := int(frame[2])<<8 | int(frame[3]); tot != 1040 {
		t.Errorf("IPv4 total length %d, want 1040", tot)
	}
	if frame[36] != 0 || frame[37] != 0 {
		t.Errorf("TCP checksum of a cut packet %x, want 0", frame[36:38])
	}
}

// BenchmarkChecksum sums a 64 KiB payload, as the pcapng writer does for
// every rebuilt TCP segment.
func BenchmarkChecksum(b *testing.B) {
	p := bytes.Repeat([]byte("zmtp"), 16384)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		fold(sum(0, p))
	}
}

// FuzzSum checks the checksum sum against 16 bits at a time.
func FuzzSum(f *testing.F) {
	f.Add(uint16(0), []byte{})
	f.Add(uint16(0xffff), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(uint16(1), []byte("a TCP payload of some length, odd"))
	f.Fuzz(func(t *testing.T, start uint16, p []byte) {
		want := uint32(start)
		for i := 0; i+1 < len(p); i += 2 {
			want += uint32(p[i])<<8 | uint32(p[i+1])
		}
		if len(p)%2 == 1 {
			want += uint32(p[len(p)-1]) << 8
		}
		if got := fold(sum(uint32(start), p)); got != fold(want) {
			t.Fatalf("sum: checksum %#04x, want %#04x", got, fold(want))
		}
	})
}
