package pcapfile

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/zmtpdump/zmtpdump/segment"
)

const testdata = "../testdata"

// captures describes the real captures in ../testdata (see its README).
type captureInfo struct {
	file     string
	segments int
	ipv6     bool
	port     uint16 // the PULL's, which binds
	c2s, s2c int    // payload bytes from the PUSH, which connects, and back
}

var captures = []captureInfo{
	{"push_pull_null.pcap", 21, false, 17001, 101, 92},
	{"push_pull_null.pcapng", 21, false, 17001, 101, 92},
	{"push_pull_multipart.pcap", 20, false, 17002, 724, 92},
	{"push_pull_ipv6.pcap", 22, true, 17003, 101, 92},
	{"push_pull_large.pcap", 23, false, 17004, 100101, 92},
}

// readAll reads every segment of a capture, copying the payloads.
func readAll(t testing.TB, r *Reader) []segment.Segment {
	t.Helper()
	segs, err := ReadAll(r)
	if err != nil {
		t.Fatalf("segment %d: %v", len(segs), err)
	}
	return segs
}

func readFile(t testing.TB, name string) ([]segment.Segment, *Reader) {
	t.Helper()
	r, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return readAll(t, r), r
}

// captureFiles returns the captures in ../testdata: the table's first,
// then any added since, which are only checked to read.
func captureFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testdata, "*.pcap*"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	known := map[string]bool{}
	for _, c := range captures {
		names = append(names, c.file)
		known[c.file] = true
	}
	for _, f := range files {
		if name := filepath.Base(f); !known[name] {
			names = append(names, name)
		}
	}
	return names
}

func TestRealCaptures(t *testing.T) {
	for _, name := range captureFiles(t) {
		t.Run(name, func(t *testing.T) {
			segs, r := readFile(t, filepath.Join(testdata, name))
			var c *captureInfo
			for i := range captures {
				if captures[i].file == name {
					c = &captures[i]
				}
			}
			if c == nil {
				// Added since: it holds TCP segments, and
				// TestRealCapturesGopacket compares them with gopacket's.
				t.Logf("%s is not in the table: checking it reads", name)
				var syn bool
				for i, s := range segs {
					if err := segmentInvariants(&s, nil); err != nil {
						t.Fatalf("segment %d: %v", i, err)
					}
					syn = syn || s.Has(segment.SYN)
				}
				if !syn {
					t.Errorf("%d segments, %d skipped, no SYN", len(segs), r.Skipped)
				}
				return
			}
			if len(segs) != c.segments || r.Skipped != 0 {
				t.Fatalf("%d segments, %d skipped; want %d, 0", len(segs), r.Skipped, c.segments)
			}
			// The PUSH's SYN opens the conversation: it names the client.
			first := segs[0]
			if first.Flags&(segment.SYN|segment.ACK) != segment.SYN {
				t.Fatalf("first segment has flags %s, want SYN", segment.FlagString(first.Flags))
			}
			client, server := first.Src, first.Dst
			if client.Addr() != server.Addr() || !client.Addr().IsLoopback() {
				t.Fatalf("conversation %v > %v", client, server)
			}
			if server.Port() != c.port || client.Addr().Is6() != c.ipv6 {
				t.Fatalf("conversation %v > %v, want port %d, IPv6 %v", client, server, c.port, c.ipv6)
			}
			var syns, synacks, fins int
			var c2s, s2c []byte
			nextSeq := map[netip.AddrPort]uint32{}
			var last time.Time
			for i, s := range segs {
				if err := segmentInvariants(&s, nil); err != nil {
					t.Fatalf("segment %d: %v", i, err)
				}
				toServer := s.Src == client && s.Dst == server
				if !toServer && (s.Src != server || s.Dst != client) {
					t.Fatalf("segment %d: %v > %v is not of the conversation", i, s.Src, s.Dst)
				}
				if s.Time.Before(last) || s.Time.Year() < 2020 {
					t.Errorf("segment %d: time %v after %v", i, s.Time, last)
				}
				last = s.Time
				if s.IfDir != segment.Unknown || s.Ifindex != 0 {
					t.Errorf("segment %d: dir %v, ifindex %d", i, s.IfDir, s.Ifindex)
				}
				if len(s.Payload) != s.PayloadLen {
					t.Errorf("segment %d: %d payload bytes of %d: cut by a 262144 snaplen?", i, len(s.Payload), s.PayloadLen)
				}
				hdrs := 14 + 20 + 32 // Ethernet, IPv4, TCP with timestamps
				if s.Src.Addr().Is6() {
					hdrs += 20
				}
				if s.Flags&segment.SYN != 0 {
					hdrs += 8 // MSS, SACK permitted, window scale in place of the NOPs
				}
				if s.PacketLen != hdrs+s.PayloadLen {
					t.Errorf("segment %d: PacketLen %d, want %d", i, s.PacketLen, hdrs+s.PayloadLen)
				}
				// Sequence numbers follow from the payload lengths.
				if s.Flags&segment.SYN == 0 && s.PayloadLen > 0 && s.Seq != nextSeq[s.Src] {
					t.Errorf("segment %d: seq %d, want %d", i, s.Seq, nextSeq[s.Src])
				}
				nextSeq[s.Src] = s.Seq + uint32(s.PayloadLen)
				switch {
				case s.Has(segment.SYN | segment.ACK):
					synacks++
					nextSeq[s.Src]++
				case s.Has(segment.SYN):
					syns++
					nextSeq[s.Src]++
				case s.Has(segment.FIN):
					fins++
				}
				if toServer {
					c2s = append(c2s, s.Payload...)
				} else {
					s2c = append(s2c, s.Payload...)
				}
			}
			if syns != 1 || synacks != 1 || fins != 2 {
				t.Errorf("%d SYN, %d SYN ACK, %d FIN; want 1, 1, 2", syns, synacks, fins)
			}
			if len(c2s) != c.c2s || len(s2c) != c.s2c {
				t.Errorf("payload bytes %d to the PULL, %d back; want %d, %d", len(c2s), len(s2c), c.c2s, c.s2c)
			}
			for dir, b := range map[string][]byte{"client>server": c2s, "server>client": s2c} {
				// A ZMTP 3.0 greeting: signature 0xff, 8 bytes, 0x7f;
				// version 3, 0; mechanism NULL.
				if len(b) < 64 || b[0] != 0xff || b[9] != 0x7f || b[10] != 3 || !bytes.HasPrefix(b[12:], []byte("NULL\x00")) {
					t.Errorf("%s stream does not start with a ZMTP 3 NULL greeting: % x", dir, b[:min(len(b), 64)])
				}
			}
		})
	}
}

// TestRealCapturesGopacket decodes every frame of the real captures with
// gopacket and compares its TCP layer with the segments Reader yields.
func TestRealCapturesGopacket(t *testing.T) {
	for _, name := range captureFiles(t) {
		t.Run(name, func(t *testing.T) {
			segs, _ := readFile(t, filepath.Join(testdata, name))
			f, err := os.Open(filepath.Join(testdata, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var src gopacket.PacketDataSource
			var lt layers.LinkType
			if strings.HasSuffix(name, ".pcapng") {
				ng, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
				if err != nil {
					t.Fatal(err)
				}
				src, lt = ng, ng.LinkType()
			} else {
				pr, err := pcapgo.NewReader(f)
				if err != nil {
					t.Fatal(err)
				}
				src, lt = pr, pr.LinkType()
			}
			ps := gopacket.NewPacketSource(src, lt)
			var want []segment.Segment
			for pkt := range ps.Packets() {
				tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
				if !ok {
					t.Fatalf("packet %d: no TCP layer", len(want))
				}
				net := pkt.NetworkLayer().NetworkFlow()
				md := pkt.Metadata()
				want = append(want, segment.Segment{
					Time:       md.Timestamp,
					IfDir:      segment.Unknown,
					Src:        netip.AddrPortFrom(addrOf(t, net.Src().Raw()), uint16(tcp.SrcPort)),
					Dst:        netip.AddrPortFrom(addrOf(t, net.Dst().Raw()), uint16(tcp.DstPort)),
					Seq:        tcp.Seq,
					Ack:        tcp.Ack,
					Flags:      tcp.Contents[13],
					Window:     tcp.Window,
					WScale:     gopacketWScale(tcp),
					PacketLen:  md.Length,
					PayloadLen: len(tcp.Payload),
					Payload:    tcp.Payload,
				})
			}
			// Payloads first: cmp is slow on big byte slices.
			for i := range min(len(want), len(segs)) {
				if !bytes.Equal(want[i].Payload, segs[i].Payload) {
					t.Errorf("segment %d: payload differs from gopacket's", i)
				}
				want[i].Payload, segs[i].Payload = nil, nil
			}
			if diff := cmp.Diff(want, segs, segOpts); diff != "" {
				t.Errorf("segments (-gopacket +Reader):\n%s", diff)
			}
		})
	}
}

func TestPcapAndPcapngAgree(t *testing.T) {
	pcap, _ := readFile(t, filepath.Join(testdata, "push_pull_null.pcap"))
	ng, _ := readFile(t, filepath.Join(testdata, "push_pull_null.pcapng"))
	if len(pcap) == 0 {
		t.Fatal("no segments")
	}
	if diff := cmp.Diff(pcap, ng, segOpts); diff != "" {
		t.Errorf("segments (-pcap +pcapng):\n%s", diff)
	}
}

func TestNextAfterEOF(t *testing.T) {
	r, err := Open(filepath.Join(testdata, "push_pull_null.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, r)
	var seg segment.Segment
	for range 3 {
		if err := r.Next(&seg); err != io.EOF {
			t.Fatalf("Next after the end = %v, want io.EOF", err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// pcapFile writes a pcap file of link type lt holding frames.
func pcapFile(t testing.TB, lt LinkType, frames ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(262144, layers.LinkType(lt)); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)*1000).UTC(), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// ngFrame is a frame of a pcapng file and its interface's link type.
type ngFrame struct {
	lt    LinkType
	frame []byte
}

// pcapngFile writes a pcapng file with one interface per link type used.
func pcapngFile(t testing.TB, frames ...ngFrame) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&b, pcapgo.NgInterface{Name: "if0", LinkType: layers.LinkType(frames[0].lt), SnapLength: 262144}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	ifaces := map[LinkType]int{frames[0].lt: 0}
	for i, f := range frames {
		id, ok := ifaces[f.lt]
		if !ok {
			id, err = w.AddInterface(pcapgo.NgInterface{Name: "if", LinkType: layers.LinkType(f.lt), SnapLength: 262144})
			if err != nil {
				t.Fatal(err)
			}
			ifaces[f.lt] = id
		}
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)*1000).UTC(), CaptureLength: len(f.frame), Length: len(f.frame), InterfaceIndex: id}
		if err := w.WritePacket(ci, f.frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readBytes(t testing.TB, data []byte) ([]segment.Segment, *Reader) {
	t.Helper()
	r, err := newReader(bytes.NewReader(data), "test")
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, r), r
}

// TestReaderLinkTypes reads every hand-made frame from a pcap and a pcapng
// file of its link type.
func TestReaderLinkTypes(t *testing.T) {
	for _, tc := range frameCases() {
		if !tc.lt.Supported() || len(tc.frame) == 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			for format, data := range map[string][]byte{
				"pcap":   pcapFile(t, tc.lt, tc.frame),
				"pcapng": pcapngFile(t, ngFrame{tc.lt, tc.frame}),
			} {
				segs, r := readBytes(t, data)
				if tc.want == nil {
					if len(segs) != 0 || r.Skipped != 1 {
						t.Errorf("%s: %d segments, %d skipped; want 0, 1", format, len(segs), r.Skipped)
					}
					continue
				}
				w := *tc.want
				w.Time = time.Unix(1700000000, 0).UTC()
				w.IfDir = segment.Unknown
				w.PacketLen = len(tc.frame)
				if diff := cmp.Diff([]segment.Segment{w}, segs, segOpts); diff != "" {
					t.Errorf("%s (-want +got):\n%s", format, diff)
				}
			}
		})
	}
}

// TestPcapngMixedLinkTypes reads a pcapng file whose interfaces have
// different link types: each packet is parsed with its interface's.
func TestPcapngMixedLinkTypes(t *testing.T) {
	data := pcapngFile(t,
		ngFrame{LinkEthernet, eth(etherIPv4, p4)},
		ngFrame{LinkRaw, p6},
		ngFrame{LinkSLL2, sll2(etherIPv4, p4o)},
		ngFrame{147, p4}, // unsupported: skipped
		ngFrame{LinkNull, null(2, p4)},
		ngFrame{LinkEthernet, eth(etherIPv6, p6o)},
	)
	segs, r := readBytes(t, data)
	var got []string
	for _, s := range segs {
		got = append(got, s.Src.String()+" "+string(s.Payload)+" "+s.Time.Format(".000000"))
	}
	want := []string{
		"127.0.0.1:43758 \xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f .000000",
		"[::1]:43758 \xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f .000001",
		"127.0.0.1:17001 hello .000002",
		"127.0.0.1:43758 \xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f .000004",
		"[::1]:17001 hello .000005",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("segments (-want +got):\n%s", diff)
	}
	if r.Skipped != 1 {
		t.Errorf("skipped %d, want 1", r.Skipped)
	}
	if ifs := []int{segs[0].Ifindex, segs[1].Ifindex, segs[2].Ifindex, segs[3].Ifindex, segs[4].Ifindex}; !cmp.Equal(ifs, []int{0, 1, 2, 4, 0}) {
		t.Errorf("interface ids %v", ifs)
	}
}

// TestPcapByteOrderAndResolution reads big-endian and nanosecond pcap
// files: pcapgo writes little-endian microsecond ones only.
func TestPcapByteOrderAndResolution(t *testing.T) {
	frame := eth(etherIPv4, p4)
	leFile := pcapFile(t, LinkEthernet, frame)
	// The same file in big-endian byte order.
	beFile := make([]byte, 0, len(leFile))
	beFile = binary.BigEndian.AppendUint32(beFile, 0xa1b2c3d4)
	beFile = binary.BigEndian.AppendUint16(beFile, 2)
	beFile = binary.BigEndian.AppendUint16(beFile, 4)
	for i := 8; i < 24; i += 4 {
		beFile = binary.BigEndian.AppendUint32(beFile, binary.LittleEndian.Uint32(leFile[i:]))
	}
	for i := 24; i < 40; i += 4 {
		beFile = binary.BigEndian.AppendUint32(beFile, binary.LittleEndian.Uint32(leFile[i:]))
	}
	beFile = append(beFile, frame...)
	// A nanosecond file: the magic and the fraction change.
	nano := bytes.Clone(leFile)
	binary.LittleEndian.PutUint32(nano, 0xa1b23c4d)
	binary.LittleEndian.PutUint32(nano[28:], 123456789)

	for _, tc := range []struct {
		name string
		data []byte
		time time.Time
	}{
		{"little-endian", leFile, time.Unix(1700000000, 0)},
		{"big-endian", beFile, time.Unix(1700000000, 0)},
		{"nanoseconds", nano, time.Unix(1700000000, 123456789)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			segs, _ := readBytes(t, tc.data)
			if len(segs) != 1 || !segs[0].Time.Equal(tc.time) || segs[0].Src.Port() != seg1.sport {
				t.Fatalf("segments %+v", segs)
			}
		})
	}
}
