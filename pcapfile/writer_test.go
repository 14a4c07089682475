package pcapfile

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/zmtpdump/zmtpdump/segment"
)

// readBack reads every packet of a pcapng file with gopacket.
type readPacket struct {
	ci    gopacket.CaptureInfo
	data  []byte
	flags *pcapgo.NgEpbFlags
}

func readBack(t *testing.T, file []byte) (*pcapgo.NgReader, []readPacket) {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(file), pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []readPacket
	for {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			break
		}
		out = append(out, readPacket{ci, data, opts.Flags})
	}
	return r, out
}

func TestPcapng(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)
	a, b := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	segs := []segment.Segment{
		{Time: t0, Ifindex: 1, IfDir: segment.Ingress, Src: a, Dst: b, Seq: 10, Flags: segment.SYN, Window: 65495, WScale: 7},
		{Time: t0.Add(time.Nanosecond), Ifindex: 7, IfDir: segment.Egress, Src: b, Dst: a, Seq: 20, Ack: 11, Flags: segment.ACK | segment.PSH,
			Window: 512, WScale: -1, PayloadLen: 10, Payload: []byte("0123456789")},
		{Time: t0.Add(time.Second), Ifindex: 1, IfDir: segment.Unknown, Src: a, Dst: b, Seq: 11, Ack: 31, Flags: segment.ACK,
			Window: 0, WScale: -1, PayloadLen: 5000, Payload: []byte("cut")},
		{Time: t0.Add(2 * time.Second), Ifindex: 99, IfDir: segment.Ingress, Src: a, Dst: b, Seq: 5011, Ack: 31, Flags: segment.ACK,
			Window: 1, WScale: -1},
	}
	var file bytes.Buffer
	w, err := NewWriter(&file, WriterOptions{Application: "zmtpdump test", Interfaces: []Interface{
		{Name: "lo", Index: 1, Filter: "port 7001"},
		{Name: "tun0", Index: 7, Link: LinkRaw},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range segs {
		if err := w.WriteSegment(&segs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, pkts := readBack(t, file.Bytes())
	if len(pkts) != len(segs) {
		t.Fatalf("%d packets, want %d", len(pkts), len(segs))
	}
	if n := r.NInterfaces(); n != 3 {
		t.Fatalf("%d interfaces, want 3 (lo, tun0, one added for ifindex 99)", n)
	}
	for i, want := range []struct {
		name string
		lt   layers.LinkType
	}{{"lo", layers.LinkTypeEthernet}, {"tun0", layers.LinkTypeRaw}, {"", layers.LinkTypeEthernet}} {
		ifc, _ := r.Interface(i)
		if ifc.Name != want.name || ifc.LinkType != want.lt || ifc.TimestampResolution != 9 {
			t.Errorf("interface %d: %+v, want %s, link type %v, resolution 9", i, ifc, want.name, want.lt)
		}
	}
	if ifc, _ := r.Interface(0); ifc.Filter != "port 7001" {
		t.Errorf("if_filter %q", ifc.Filter)
	}
	for i, want := range []struct {
		ifc, caplen, length int
		dir                 pcapgo.NgEpbFlag // 0xff: no flags
	}{
		{0, 58, 58, pcapgo.NgEpbFlagDirectionInbound}, // the SYN's window scale option: 4 bytes
		{1, 50, 50, pcapgo.NgEpbFlagDirectionOutbound},
		{0, 57, 5054, 0xff},
		{2, 54, 54, pcapgo.NgEpbFlagDirectionInbound},
	} {
		p := pkts[i]
		if p.ci.InterfaceIndex != want.ifc || p.ci.CaptureLength != want.caplen || p.ci.Length != want.length {
			t.Errorf("packet %d: interface %d, caplen %d, len %d; want %d, %d, %d", i, p.ci.InterfaceIndex, p.ci.CaptureLength, p.ci.Length, want.ifc, want.caplen, want.length)
		}
		if !p.ci.Timestamp.Equal(segs[i].Time) {
			t.Errorf("packet %d: time %v, want %v (to the nanosecond)", i, p.ci.Timestamp, segs[i].Time)
		}
		switch {
		case want.dir == 0xff && p.flags != nil:
			t.Errorf("packet %d: epb_flags %+v for an unknown direction", i, p.flags)
		case want.dir != 0xff && (p.flags == nil || p.flags.Direction != want.dir):
			t.Errorf("packet %d: epb_flags %+v, want direction %v", i, p.flags, want.dir)
		}
	}
	if got := pkts[1].data[40:]; string(got) != "0123456789" {
		t.Errorf("raw IP packet payload %q", got)
	}
	// Read back, each packet gives its segment's window and the SYN's
	// shift.
	back, err := newReader(bytes.NewReader(file.Bytes()), "written")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll(back)
	if err != nil || len(got) != len(segs) {
		t.Fatalf("read back %d segments, %v", len(got), err)
	}
	for i := range segs {
		if got[i].Window != segs[i].Window || got[i].WScale != segs[i].WScale {
			t.Errorf("segment %d read back: window %d, shift %d; want %d, %d", i, got[i].Window, got[i].WScale, segs[i].Window, segs[i].WScale)
		}
	}
}

// TestPcapngWindowRoundTrip writes a connection's windows and its SYNs'
// window scale shifts and reads them back, and checks that Wireshark's
// decoder (gopacket's here) sees the option on the SYNs only.
func TestPcapngWindowRoundTrip(t *testing.T) {
	c, s := netip.MustParseAddrPort("[::1]:40000"), netip.MustParseAddrPort("[::1]:7001")
	segs := []segment.Segment{
		{Src: c, Dst: s, Seq: 1, Flags: segment.SYN, Window: 65476, WScale: 7},
		{Src: s, Dst: c, Seq: 9, Ack: 2, Flags: segment.SYN | segment.ACK, Window: 65464, WScale: 14},
		{Src: c, Dst: s, Seq: 2, Ack: 10, Flags: segment.ACK, Window: 512, WScale: -1, PayloadLen: 3, Payload: []byte("abc")},
		{Src: s, Dst: c, Seq: 10, Ack: 5, Flags: segment.ACK, Window: 0, WScale: -1},
		{Src: c, Dst: s, Seq: 4, Ack: 10, Flags: segment.ACK, Window: 0xffff, WScale: -1},
		// A SYN without the option, one with shift 0.
		{Src: c, Dst: s, Seq: 100, Flags: segment.SYN, Window: 8192, WScale: -1},
		{Src: c, Dst: s, Seq: 200, Flags: segment.SYN, Window: 1, WScale: 0},
	}
	var file bytes.Buffer
	w, err := NewWriter(&file, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range segs {
		if err := w.WriteSegment(&segs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := newReader(bytes.NewReader(file.Bytes()), "written")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadAll(r)
	if err != nil || len(got) != len(segs) {
		t.Fatalf("read back %d segments, %v", len(got), err)
	}
	_, pkts := readBack(t, file.Bytes())
	for i, want := range segs {
		if got[i].Window != want.Window || got[i].WScale != want.WScale || got[i].Flags != want.Flags || got[i].Seq != want.Seq {
			t.Errorf("segment %d: window %d, shift %d, flags %s; want %d, %d, %s", i, got[i].Window, got[i].WScale,
				segment.FlagString(got[i].Flags), want.Window, want.WScale, segment.FlagString(want.Flags))
		}
		tcp := gopacket.NewPacket(pkts[i].data, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp.Window != want.Window || gopacketWScale(tcp) != want.WScale {
			t.Errorf("packet %d as gopacket decodes it: window %d, options %+v", i, tcp.Window, tcp.Options)
		}
	}
}

// TestPcapngSplit writes a 150,000-byte GSO super-packet: it becomes three
// packets whose sequence numbers and flags follow on.
func TestPcapngSplit(t *testing.T) {
	payload := bytes.Repeat([]byte("z"), 150000)
	seg := segment.Segment{Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("10.0.0.2:2"),
		Seq: 0xffffff00, Ack: 1, Flags: segment.ACK | segment.PSH | segment.FIN, PayloadLen: len(payload), Payload: payload}
	var file bytes.Buffer
	w, err := NewWriter(&file, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSegment(&seg); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	_, pkts := readBack(t, file.Bytes())
	if len(pkts) != 3 {
		t.Fatalf("%d packets, want 3", len(pkts))
	}
	next := seg.Seq
	total := 0
	for i, p := range pkts {
		pkt := gopacket.NewPacket(p.data, layers.LayerTypeEthernet, gopacket.Default)
		ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		if err, res := tcp.VerifyChecksum(); err != nil || !res.Valid {
			t.Errorf("packet %d: TCP checksum %v %+v", i, err, res)
		}
		last := i == len(pkts)-1
		if tcp.Seq != next || tcp.FIN != last || tcp.PSH != last || !tcp.ACK {
			t.Errorf("packet %d: seq %d FIN %v PSH %v, want seq %d, FIN and PSH on the last only", i, tcp.Seq, tcp.FIN, tcp.PSH, next)
		}
		if int(ip.Length) != 40+len(tcp.Payload) || p.ci.Length != len(p.data) {
			t.Errorf("packet %d: IP length %d for %d payload bytes", i, ip.Length, len(tcp.Payload))
		}
		next += uint32(len(tcp.Payload))
		total += len(tcp.Payload)
	}
	if total != len(payload) {
		t.Errorf("%d payload bytes written, want %d", total, len(payload))
	}
}

// TestPcapngAllocs guards the hot path: the frame buffer is reused; only
// gopacket's per-packet option list (the epb_flags direction) allocates.
func TestPcapngAllocs(t *testing.T) {
	w, err := NewWriter(io.Discard, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seg := segment.Segment{Src: netip.MustParseAddrPort("10.0.0.1:5"), Dst: netip.MustParseAddrPort("10.0.0.2:6"), PayloadLen: 1400, Payload: make([]byte, 1400)}
	for _, tt := range []struct {
		dir segment.IfDir
		max float64
	}{{segment.Unknown, 0}, {segment.Ingress, 2}} {
		seg.IfDir = tt.dir
		if n := testing.AllocsPerRun(100, func() {
			if err := w.WriteSegment(&seg); err != nil {
				t.Fatal(err)
			}
		}); n > tt.max {
			t.Errorf("direction %v: %v allocations per packet, want at most %v", tt.dir, n, tt.max)
		}
	}
}
