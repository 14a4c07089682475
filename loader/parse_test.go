package loader

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/segment"
)

// IPv6 extension header numbers.
const (
	extHopByHop = 0
	extRouting  = 43
	extFragment = 44
	extAH       = 51
	extDstOpts  = 60
)

// ext6 is an IPv6 extension header of a test packet.
type ext6 struct {
	proto    uint8
	fragOff  uint16 // extFragment: the offset in 8-byte units
	more     bool   // extFragment: M
	jumboLen uint32 // extHopByHop: a Jumbo Payload option of this length
}

// bytes encodes e (its first byte, the next header, is next), padded to
// 16 bytes for the option headers and 8 for a fragment header, 12 for AH.
func (e ext6) bytes(next uint8) []byte {
	switch e.proto {
	case extFragment:
		b := make([]byte, 8)
		b[0] = next
		v := e.fragOff << 3
		if e.more {
			v |= 1
		}
		binary.BigEndian.PutUint16(b[2:], v)
		binary.BigEndian.PutUint32(b[4:], 0xabcd)
		return b
	case extAH:
		b := make([]byte, 16) // payload length 2: (2+2)*4 bytes
		b[0], b[1] = next, 2
		return b
	}
	b := make([]byte, 16) // hdr ext len 1: 16 bytes
	b[0], b[1] = next, 1
	if e.jumboLen != 0 {
		// Pad1 x2, then the Jumbo Payload option (type 0xc2, length 4).
		b[4], b[5] = 0xc2, 4
		binary.BigEndian.PutUint32(b[6:], e.jumboLen)
		b[10], b[11] = 1, 4 // PadN of 4 bytes: 2 + 4 = 6 to the end
	} else {
		b[2], b[3] = 1, 12 // PadN to the end
	}
	return b
}

// buildIPv6Ext returns an Ethernet frame (tags: its VLAN tag protocol IDs,
// outer first) of an IPv6 packet with the extension headers exts carrying a
// TCP segment from port 40000 to 7001 with payload.
func buildIPv6Ext(t *testing.T, tags []uint16, exts []ext6, payload string) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 7001, Seq: 1000, Ack: 2000, ACK: true, PSH: true, Window: 512}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	l4 := buf.Bytes()
	var chain []byte
	next := uint8(layers.IPProtocolTCP)
	for i := len(exts) - 1; i >= 0; i-- {
		chain = append(exts[i].bytes(next), chain...)
		next = exts[i].proto
	}
	ip := make([]byte, 40)
	ip[0] = 6 << 4
	plen := len(chain) + len(l4)
	jumbo := len(exts) > 0 && exts[0].jumboLen != 0
	if !jumbo {
		binary.BigEndian.PutUint16(ip[4:], uint16(plen))
	}
	ip[6], ip[7] = next, 64
	copy(ip[8:], net.ParseIP("fd00::1"))
	copy(ip[24:], net.ParseIP("fd00::2"))
	frame := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}
	for i, tpid := range tags {
		frame = binary.BigEndian.AppendUint16(frame, tpid)
		frame = binary.BigEndian.AppendUint16(frame, uint16(10+i)) // the TCI
	}
	frame = binary.BigEndian.AppendUint16(frame, 0x86dd)
	frame = append(frame, ip...)
	frame = append(frame, chain...)
	return append(frame, l4...)
}

// buildQinQ4 returns an Ethernet frame with VLAN tags tags (outer first)
// around an IPv4 TCP segment from port 40000 to 7001.
func buildQinQ4(t *testing.T, tags []uint16, payload string) []byte {
	t.Helper()
	f := buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.ACK, payload: payload})
	var tagged []byte
	tagged = append(tagged, f[:12]...)
	for i, tpid := range tags {
		tagged = binary.BigEndian.AppendUint16(tagged, tpid)
		tagged = binary.BigEndian.AppendUint16(tagged, uint16(20+i))
	}
	return append(tagged, f[12:]...)
}

// TestProgramWalksHeaders: IPv6 extension headers (hop-by-hop with a jumbo
// option as BIG TCP sent them before Linux 6.x, routing, destination
// options, a first fragment, AH) and QinQ tags are walked to the TCP
// segment; what cannot be followed (a later fragment, a chain or a tag
// stack too long) is counted, not dropped silently.
func TestProgramWalksHeaders(t *testing.T) {
	requireBPF(t)
	hbh, rt, dst, ah := ext6{proto: extHopByHop}, ext6{proto: extRouting}, ext6{proto: extDstOpts}, ext6{proto: extAH}
	first := ext6{proto: extFragment, more: true}
	later := ext6{proto: extFragment, fragOff: 185}
	captured := []struct {
		name  string
		frame []byte
	}{
		{"hop-by-hop", buildIPv6Ext(t, nil, []ext6{hbh}, "hbh")},
		{"jumbo hop-by-hop", buildIPv6Ext(t, nil, []ext6{{proto: extHopByHop, jumboLen: 70000}}, "jumbo")},
		{"routing", buildIPv6Ext(t, nil, []ext6{rt}, "routing")},
		{"destination options", buildIPv6Ext(t, nil, []ext6{dst}, "dstopts")},
		{"first fragment", buildIPv6Ext(t, nil, []ext6{first}, "first fragment")},
		{"AH", buildIPv6Ext(t, nil, []ext6{ah}, "ah")},
		{"six headers", buildIPv6Ext(t, nil, []ext6{hbh, dst, rt, first, ah, dst}, "six")},
		{"QinQ IPv4", buildQinQ4(t, []uint16{0x88a8, 0x8100}, "qinq4")},
		{"QinQ 0x9100 IPv6", buildIPv6Ext(t, []uint16{0x9100, 0x8100}, []ext6{hbh}, "qinq6")},
		{"802.1Q IPv6", buildIPv6Ext(t, []uint16{0x8100}, nil, "dot1q6")},
	}
	skipped := []struct {
		name  string
		frame []byte
	}{
		{"later fragment", buildIPv6Ext(t, nil, []ext6{later}, "later")},
		{"seven headers", buildIPv6Ext(t, nil, []ext6{hbh, dst, dst, dst, dst, dst, dst}, "seven")},
		{"three tags", buildQinQ4(t, []uint16{0x88a8, 0x8100, 0x8100}, "three tags")},
		{"later IPv4 fragment", buildFrame(t, frameSpec{fragment: true, sport: 40000, dport: 7001, payload: "frag"})},
	}
	var frames [][]byte
	for _, c := range captured {
		frames = append(frames, c.frame)
	}
	for _, c := range skipped {
		frames = append(frames, c.frame)
	}
	// Neither counted nor shipped: an IPv6 UDP datagram behind a header.
	frames = append(frames, udpBehindDstOpts(t))

	check := func(t *testing.T, segs []segment.Segment, st Stats, cases int) {
		t.Helper()
		if len(segs) != cases {
			t.Errorf("%d records, want %d", len(segs), cases)
		}
		for i, c := range captured[:min(cases, len(segs))] {
			s := segs[i]
			if want := buildPayloadOf(c.name); string(s.Payload) != want || s.PayloadLen != len(want) || s.Src.Port() != 40000 || s.Dst.Port() != 7001 || s.Seq != 1000 {
				t.Errorf("%s: payload %q (of %d), %v > %v seq %d; want %q", c.name, s.Payload, s.PayloadLen, s.Src, s.Dst, s.Seq, want)
			}
		}
		if st.Skipped != uint64(len(skipped)) {
			t.Errorf("Stats.Skipped = %d, want %d", st.Skipped, len(skipped))
		}
	}
	for _, full := range []bool{true, false} {
		if full && !haveLoop() {
			continue
		}
		segs, st := runProgramStats(t, Config{Ports: []uint16{7001}}, full, 14, frames,
			func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureIngress }, -1)
		check(t, segs, st, len(captured))
	}
	// The socket filter, loaded for a 0-byte link header (a test run
	// starts it at the network header): no tags there, so the IPv6 cases
	// without tags only.
	var v6 [][]byte
	n := 0
	for _, c := range captured {
		if c.name != "QinQ IPv4" && c.name != "QinQ 0x9100 IPv6" && c.name != "802.1Q IPv6" {
			v6 = append(v6, c.frame)
			n++
		}
	}
	v6 = append(v6, skipped[0].frame, skipped[1].frame, skipped[3].frame)
	segs, st := runProgramStats(t, Config{Ports: []uint16{7001}}, haveLoop(), 0, v6,
		func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureSocket }, 0)
	if len(segs) != n || st.Skipped != 3 {
		t.Errorf("socket program: %d records, %d skipped; want %d and 3", len(segs), st.Skipped, n)
	}
}

// buildPayloadOf is the payload TestProgramWalksHeaders gives a case.
func buildPayloadOf(name string) string {
	return map[string]string{
		"hop-by-hop": "hbh", "jumbo hop-by-hop": "jumbo", "routing": "routing", "destination options": "dstopts",
		"first fragment": "first fragment", "AH": "ah", "six headers": "six", "QinQ IPv4": "qinq4",
		"QinQ 0x9100 IPv6": "qinq6", "802.1Q IPv6": "dot1q6",
	}[name]
}

// udpBehindDstOpts is an IPv6 UDP datagram to port 7001 behind a
// destination options header.
func udpBehindDstOpts(t *testing.T) []byte {
	t.Helper()
	f := buildIPv6Ext(t, nil, []ext6{{proto: extDstOpts}}, "udp")
	// The destination options header's next header: UDP instead of TCP.
	f[14+40] = uint8(layers.IPProtocolUDP)
	return f
}
