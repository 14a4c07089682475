package loader

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/filter"
	"github.com/zmtpdump/zmtpdump/segment"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// requireBPF skips without root, or fails when ZMTPDUMP_REQUIRE_E2E=1.
func requireBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	skip.Unavailable(t, "loading BPF programs needs root (BPF_PROG_TEST_RUN, Linux 5.8+)")
}

// frameSpec describes a test frame.
type frameSpec struct {
	v6       bool
	vlan     bool
	udp      bool
	fragment bool // a non-first IPv4 fragment
	sport    uint16
	dport    uint16
	flags    uint8
	seq      uint32 // 0: 1000
	window   uint16 // 0: 512
	zeroWin  bool   // a window of 0 (window ignored)
	opts     []layers.TCPOption
	payload  string
}

func buildFrame(t *testing.T, f frameSpec) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	next := layers.EthernetTypeIPv4
	if f.v6 {
		next = layers.EthernetTypeIPv6
	}
	if f.vlan {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: 7, Type: next})
	} else {
		eth.EthernetType = next
	}
	proto := layers.IPProtocolTCP
	if f.udp {
		proto = layers.IPProtocolUDP
	}
	var netl gopacket.NetworkLayer
	if f.v6 {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")}
		netl = ip6
		ls = append(ls, ip6)
	} else {
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
		if f.fragment {
			ip4.FragOffset = 100
		}
		netl = ip4
		ls = append(ls, ip4)
	}
	if f.udp {
		u := &layers.UDP{SrcPort: layers.UDPPort(f.sport), DstPort: layers.UDPPort(f.dport)}
		u.SetNetworkLayerForChecksum(netl)
		ls = append(ls, u)
	} else {
		seq := f.seq
		if seq == 0 {
			seq = 1000
		}
		window := f.window
		if window == 0 && !f.zeroWin {
			window = 512
		}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(f.sport), DstPort: layers.TCPPort(f.dport), Seq: seq, Ack: 2000, Window: window, Options: f.opts,
			SYN: f.flags&segment.SYN != 0, ACK: f.flags&segment.ACK != 0, PSH: f.flags&segment.PSH != 0, FIN: f.flags&segment.FIN != 0,
			RST: f.flags&segment.RST != 0}
		tcp.SetNetworkLayerForChecksum(netl)
		ls = append(ls, tcp)
	}
	ls = append(ls, gopacket.Payload(f.payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// runProgram loads the capture program with cfg, runs it on each frame and
// returns the segments it wrote to the ring buffer.
func runProgram(t *testing.T, cfg Config, frames [][]byte) []segment.Segment {
	t.Helper()
	return runProgramOf(t, cfg, 14, frames, func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureIngress }, -1)
}

// runProgramOf loads the programs for a link-layer header of l2len bytes,
// runs the one pick chooses on each frame (want is its expected return)
// and returns the records written.
func runProgramOf(t *testing.T, cfg Config, l2len int, frames [][]byte, pick func(*bpf.CaptureObjects) *ebpf.Program, want int32) []segment.Segment {
	t.Helper()
	segs, _ := runProgramStats(t, cfg, haveLoop(), l2len, frames, pick, want)
	return segs
}

// runProgramStats is runProgramOf that also returns the kernel counters;
// full picks the program with bpf_loop (else CaptureBasic).
func runProgramStats(t *testing.T, cfg Config, full bool, l2len int, frames [][]byte, pick func(*bpf.CaptureObjects) *ebpf.Program, want int32) ([]segment.Segment, Stats) {
	t.Helper()
	// A test run hands the program each packet as if received on the
	// namespace's lo (index 1), whose incoming packets the socket program
	// skips (it sees them going out): say no interface is the loopback.
	p := loadTestProgram(t, cfg, full, l2len, 0, 1<<16)
	for _, f := range frames {
		ret, err := pick(&p.objs).Run(&ebpf.RunOptions{Data: f})
		if err != nil {
			t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
		}
		if int32(ret) != want {
			t.Errorf("program returned %d, want %d", int32(ret), want)
		}
	}
	segs := p.records(t, 50*time.Millisecond)
	st, err := readCounters(&p.objs)
	if err != nil {
		t.Fatal(err)
	}
	return segs, st
}

// testProgram is a capture program loaded for test runs, with a reader of
// its ring buffer.
type testProgram struct {
	objs    bpf.CaptureObjects
	rd      *ring
	counted bool // count mode's build: its records carry counts
}

// loadTestProgram loads the capture programs (full: with bpf_loop) and
// opens their ring; both are closed when tb ends.
func loadTestProgram(tb testing.TB, cfg Config, full bool, l2len, loIndex, ring int) *testProgram {
	tb.Helper()
	p := &testProgram{counted: counts(cfg.withDefaults(), full)}
	cfg.RingSize = ring
	if err := loadObjects(&p.objs, plan{cfg: cfg.withDefaults(), full: full, l2len: l2len, loIndex: loIndex}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.objs.Close() })
	rd, err := newRing(p.objs.Events, ring)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rd.close() })
	p.rd = rd
	return p
}

// records reads the records in the ring until none comes for wait, and
// returns them with their payloads copied.
func (p *testProgram) records(tb testing.TB, wait time.Duration) []segment.Segment {
	tb.Helper()
	var segs []segment.Segment
	for {
		p.rd.setDeadline(time.Now().Add(wait))
		rec, err := p.rd.read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return segs
		}
		if err != nil {
			tb.Fatal(err)
		}
		var s segment.Segment
		if err := decodeRecord(rec, time.Time{}, p.counted, &s); err != nil {
			tb.Fatal(err)
		}
		s.Payload = append([]byte(nil), s.Payload...)
		segs = append(segs, s)
	}
}

func TestProgramParsesAndFilters(t *testing.T) {
	requireBPF(t)
	frames := [][]byte{
		buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.SYN}),
		buildFrame(t, frameSpec{v6: true, sport: 7001, dport: 40000, flags: segment.ACK | segment.PSH, payload: "\x00\x011"}),
		buildFrame(t, frameSpec{vlan: true, sport: 40000, dport: 7001, flags: segment.ACK, payload: "vlan"}),
		buildFrame(t, frameSpec{sport: 40000, dport: 7002, flags: segment.ACK, payload: "other port"}),
		buildFrame(t, frameSpec{udp: true, sport: 40000, dport: 7001, payload: "udp"}),
		buildFrame(t, frameSpec{fragment: true, sport: 40000, dport: 7001, payload: "frag"}),
	}
	segs := runProgram(t, Config{Ports: []uint16{7001}}, frames)
	if len(segs) != 3 {
		t.Fatalf("%d records, want 3 (IPv4 SYN, IPv6 data, VLAN data): %+v", len(segs), segs)
	}
	if s := segs[0]; s.Src != netip.MustParseAddrPort("192.0.2.1:40000") || s.Dst.Port() != 7001 || s.Flags != segment.SYN ||
		s.Seq != 1000 || s.PayloadLen != 0 || s.PacketLen != len(frames[0]) {
		t.Errorf("IPv4 SYN: %+v", s)
	}
	if s := segs[1]; s.Src != netip.MustParseAddrPort("[fd00::1]:7001") || string(s.Payload) != "\x00\x011" || s.PayloadLen != 3 || s.Ack != 2000 {
		t.Errorf("IPv6 data: %+v", s)
	}
	if s := segs[2]; string(s.Payload) != "vlan" || s.Dst.Port() != 7001 {
		t.Errorf("VLAN data: %+v", s)
	}

	// Without ports every TCP segment matches.
	if segs := runProgram(t, Config{}, frames); len(segs) != 4 {
		t.Errorf("no port filter: %d records, want the 4 TCP segments", len(segs))
	}

	// The socket-filter program parses the same way and returns 0, so
	// that its socket never queues a packet. A test run hands a socket
	// filter the packet from its network header on (it runs
	// eth_type_trans), where a real AF_PACKET socket starts at the MAC
	// header: load it for a 0-byte link header here. The VLAN frame is
	// then unparseable, as expected of a raw-IP device.
	sock := runProgramOf(t, Config{Ports: []uint16{7001}}, 0, frames,
		func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureSocket }, 0)
	segs = segs[:2]
	if len(sock) != len(segs) {
		t.Fatalf("socket program: %d records, want %d", len(sock), len(segs))
	}
	for i := range sock {
		sock[i].Time, segs[i].Time = time.Time{}, time.Time{}
		segs[i].PacketLen -= 14 // no MAC header in a socket filter's test run
	}
	if diff := cmp.Diff(segs, sock, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Errorf("socket and TC programs disagree (-tc +socket):\n%s", diff)
	}
}

// TestSocketProgramSkipsLoopbackIngress: on lo the socket program keeps the
// outgoing copy of a packet only (each crosses lo twice).
func TestSocketProgramSkipsLoopbackIngress(t *testing.T) {
	requireBPF(t)
	p := loadTestProgram(t, Config{}, false, 0, 1, 1<<16)
	if _, err := p.objs.CaptureSocket.Run(&ebpf.RunOptions{Data: buildFrame(t, frameSpec{sport: 1, dport: 2, flags: segment.ACK, payload: "x"})}); err != nil {
		t.Fatal(err)
	}
	if segs := p.records(t, 50*time.Millisecond); len(segs) != 0 {
		t.Errorf("a packet received on lo was shipped (%+v): lo's packets are taken going out", segs)
	}
}

// TestSplicedFilter loads the programs with compiled filters spliced in
// (filter.Program.Splice) and runs them.
func TestSplicedFilter(t *testing.T) {
	requireBPF(t)
	frames := [][]byte{
		buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.SYN}),
		buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.ACK, payload: "hello, a payload of 40 bytes or so......"}),
	}
	compiled := func(expr string) func(filter.LinkType) (*filter.Program, error) {
		return func(lt filter.LinkType) (*filter.Program, error) {
			if lt != filter.Ethernet {
				t.Errorf("filter asked for link type %v, want Ethernet", lt)
			}
			return filter.Compile(expr, lt)
		}
	}
	if segs := runProgram(t, Config{Filter: compiled("udp")}, frames); len(segs) != 0 {
		t.Errorf("a reject-all filter let %d records through", len(segs))
	}
	if segs := runProgram(t, Config{Filter: compiled("")}, frames); len(segs) != 2 {
		t.Errorf("an accept-all filter let %d of 2 records through", len(segs))
	}
	// A filter that reads the packet: accept only skb->len > 70, i.e. the
	// frame with a payload (the SYN is 54 bytes, padded to 60 by the test
	// run; the other is 94).
	segs := runProgram(t, Config{Filter: compiled("greater 71")}, frames)
	if len(segs) != 1 || segs[0].PayloadLen != 40 {
		t.Errorf("length filter: %+v", segs)
	}
	// One that reads the TCP header, as the kernel's own parse found it.
	segs = runProgram(t, Config{Filter: compiled("tcp[tcpflags] & tcp-syn != 0")}, frames)
	if len(segs) != 1 || segs[0].Flags != segment.SYN {
		t.Errorf("SYN filter: %+v", segs)
	}
}

// TestOpenFailureCleansUp makes Open fail after it has loaded programs (an
// impossible backend on an interface): it must return the error, not panic,
// and leave nothing loaded.
func TestOpenFailureCleansUp(t *testing.T) {
	requireBPF(t)
	// A 4 KiB ring and a bogus l2 type cannot fail; an attach can: the
	// socket backend binds to the interface, so a vanished index fails.
	c, err := Open(Config{Interfaces: []string{"lo"}, Backend: "nonsense"})
	if err == nil || c != nil {
		t.Fatalf("Open with a bad backend: %v, %v", c, err)
	}
	// Fail at attach time, after the programs were loaded.
	_, err = openWithIfaces(Config{Backend: Socket}.withDefaults(), []iface{{name: "gone0", index: 1 << 30, l2len: 14}}, 1, nil)
	if err == nil {
		t.Fatal("attaching to a missing interface index succeeded")
	}
}
