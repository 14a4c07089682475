package loader

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/segment"
)

// dataPackets cuts stream bytes into data packets of at most 1400 bytes,
// also at the given stream offsets, with no SYN: a connection open before
// the capture started. It returns the packets and their stream offsets.
func dataPackets(t *testing.T, stream []byte, cuts []int) (frames [][]byte, offs []int) {
	t.Helper()
	frames, offs = packets(t, stream, cuts)
	return frames[1:], offs[1:]
}

// joinSetup loads the capture program with cfg for test runs.
func joinSetup(t *testing.T, cfg Config) (*testProgram, func(frames [][]byte)) {
	t.Helper()
	cfg.Ports = []uint16{7001}
	p := loadTestProgram(t, cfg, true, 14, 0, 1<<20)
	return p, func(frames [][]byte) {
		t.Helper()
		for _, f := range frames {
			if _, err := p.objs.CaptureIngress.Run(&ebpf.RunOptions{Data: f}); err != nil {
				t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
			}
		}
	}
}

// testJoinPoint is the join point of the test packets' direction at stream
// offset off. A test run shows every packet on interface 1.
func testJoinPoint(off int, inMsg bool) JoinPoint {
	return JoinPoint{Ifindex: 1, Src: netip.MustParseAddrPort("192.0.2.1:40000"), Dst: netip.MustParseAddrPort("192.0.2.2:7001"),
		Seq: framingISN + 1 + uint32(off), InMessage: inMsg}
}

// packetAt returns the index of the packet (of stream offsets offs) that
// holds stream offset off.
func packetAt(offs []int, off int) int {
	k := 0
	for i, o := range offs {
		if o <= off {
			k = i
		}
	}
	return k
}

// TestJoin: a direction whose SYN was never shown is joined at a frame
// header in the middle of a packet: the packets before go whole and
// unmarked, the one holding the header goes whole up to the header, marked
// there with counts from 0, and the walk goes on from there, leaving body
// bytes out and marking as if it had followed the direction from its SYN.
func TestJoin(t *testing.T) {
	requireBPF(t)
	z := v3Stream()
	at := z.heads[4][0] // the 3,000-byte frame: "abc" (MORE) before it
	frames, offs := dataPackets(t, z.b, []int{at - 20})
	for _, cfg := range []Config{{FrameKeep: framingKeep}, {Marks: true}} {
		p, run := joinSetup(t, cfg)
		if err := join(p.objs.Flowstate, testJoinPoint(at, true)); err != nil {
			t.Fatal(err)
		}
		run(frames)
		segs := p.records(t, 50*time.Millisecond)
		have := kept(t, segs, z.b)
		for i := 0; i < at; i++ {
			if !have[i] {
				t.Fatalf("%+v: byte %d, before the join point, left out", cfg, i)
			}
		}
		jp := packetAt(offs, at)
		for _, s := range segs {
			if off := int(s.Seq - framingISN - 1); off < offs[jp] && (s.Boundary.Valid || s.Piece) {
				t.Errorf("%+v: record at %d, before the join packet: %+v", cfg, off, s)
			}
		}
		heads, _ := walkRef(z.b, at, false, false, true)
		if n := checkMarks(t, segs, heads, framingISN); n < 2 {
			t.Errorf("%+v: %d records marked after the join", cfg, n)
		}
		for _, s := range segs {
			if int(s.Seq-framingISN-1) == offs[jp] {
				if b := s.Boundary; !b.Valid || int(b.Offset) != at-offs[jp] || b.MessageStart || b.Frames != 0 || b.Messages != 0 {
					t.Errorf("%+v: the join packet's mark %+v, want offset %d in a message, counts 0", cfg, b, at-offs[jp])
				}
			}
		}
		st, err := readCounters(&p.objs)
		if err != nil {
			t.Fatal(err)
		}
		if st.Joined != 1 || st.Unframed != 0 {
			t.Errorf("%+v: joined %d, unframed %d; want 1, 0", cfg, st.Joined, st.Unframed)
		}
		if framed := cfg.FrameKeep > 0; framed != (st.Elided > 0) {
			t.Errorf("%+v: %d bytes left out", cfg, st.Elided)
		}
	}
}

// TestJoinReplaces: a Join replaces the state of a direction followed from
// its SYN: counts start from 0 at the join point.
func TestJoinReplaces(t *testing.T) {
	requireBPF(t)
	z := v3Stream()
	at := z.heads[5][0]
	frames, offs := packets(t, z.b, []int{at - 1})
	jp := packetAt(offs, at)
	p, run := joinSetup(t, Config{FrameKeep: framingKeep})
	run(frames[:jp])
	if err := join(p.objs.Flowstate, testJoinPoint(at, false)); err != nil {
		t.Fatal(err)
	}
	run(frames[jp:])
	segs := p.records(t, 50*time.Millisecond)
	kept(t, segs, z.b)
	var before, after []segment.Segment
	for _, s := range segs {
		if s.Has(segment.SYN) || int(s.Seq-framingISN-1) < offs[jp] {
			before = append(before, s)
		} else {
			after = append(after, s)
		}
	}
	all, _ := walkRef(z.b, 64, false, false, false)
	checkMarks(t, before, all, framingISN)
	heads, _ := walkRef(z.b, at, false, false, false)
	if n := checkMarks(t, after, heads, framingISN); n == 0 {
		t.Errorf("no record marked after the join")
	}
}

// TestJoinRace: the packet holding the join point passed before the Join:
// the next packet gives the join up (counted as unframed, the entry
// deleted) and goes whole, unmarked; a later Join works.
func TestJoinRace(t *testing.T) {
	requireBPF(t)
	z := v3Stream()
	frames, offs := dataPackets(t, z.b, []int{z.heads[1][0] + 1})
	p, run := joinSetup(t, Config{FrameKeep: framingKeep})
	run(frames[:2])
	// A header inside the first packet, which went.
	if err := join(p.objs.Flowstate, testJoinPoint(z.heads[1][0], false)); err != nil {
		t.Fatal(err)
	}
	run(frames[2:3])
	segs := p.records(t, 50*time.Millisecond)
	if last := segs[len(segs)-1]; last.Boundary.Valid || last.Piece || len(last.Payload) != last.PayloadLen {
		t.Errorf("after a missed join: %+v, want whole and unmarked", last)
	}
	st, _ := readCounters(&p.objs)
	if st.Unframed != 1 || st.Joined != 0 {
		t.Errorf("missed join: unframed %d, joined %d; want 1, 0", st.Unframed, st.Joined)
	}
	k, err := joinKey(testJoinPoint(0, false))
	if err != nil {
		t.Fatal(err)
	}
	var v bpf.CaptureFlowState
	if err := p.objs.Flowstate.Lookup(&k, &v); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("missed join: flowstate lookup %v, want the entry deleted", err)
	}

	// Try again further on: the 5,000-byte frame's header.
	at := z.heads[len(z.heads)-1][0]
	if err := join(p.objs.Flowstate, testJoinPoint(at, false)); err != nil {
		t.Fatal(err)
	}
	run(frames[3:])
	segs = p.records(t, 50*time.Millisecond)
	heads, _ := walkRef(z.b, at, false, false, false)
	if n := checkMarks(t, segs, heads, framingISN); n != 1 {
		t.Errorf("%d records marked after the second join, want 1", n)
	}
	if st, _ := readCounters(&p.objs); st.Joined != 1 || st.Elided == 0 {
		t.Errorf("second join: joined %d, elided %d", st.Joined, st.Elided)
	}
	_ = offs
}

// TestJoinV2: a ZMTP 2.0 direction joined after its identity.
func TestJoinV2(t *testing.T) {
	requireBPF(t)
	z := &zmtpStream{b: []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 8}}
	z.frame(0, []byte("id"))
	z.frame(1, pattern(700, 3))
	z.frame(0, pattern(2000, 4))
	z.frame(0, []byte("x"))
	at := z.heads[1][0]
	frames, _ := dataPackets(t, z.b, nil)
	p, run := joinSetup(t, Config{FrameKeep: framingKeep})
	jp := testJoinPoint(at, false)
	jp.V2 = true
	if err := join(p.objs.Flowstate, jp); err != nil {
		t.Fatal(err)
	}
	run(frames)
	segs := p.records(t, 50*time.Millisecond)
	kept(t, segs, z.b)
	heads, _ := walkRef(z.b, at, true, false, false)
	if n := checkMarks(t, segs, heads, framingISN); n < 2 {
		t.Errorf("%d records marked", n)
	}
}

// TestJoinRefused: Join needs a capture that walks frames.
func TestJoinRefused(t *testing.T) {
	c := &Capture{sets: map[int]*bpf.CaptureObjects{}}
	if err := c.Join(testJoinPoint(0, false)); !errors.Is(err, ebpf.ErrNotSupported) {
		t.Errorf("join without marks: %v, want ErrNotSupported", err)
	}
	c.sets = nil
	if err := c.Join(testJoinPoint(0, false)); !errors.Is(err, ErrJoinClosed) {
		t.Errorf("join after close: %v, want ErrJoinClosed", err)
	}
}

func TestJoinKey(t *testing.T) {
	p := testJoinPoint(0, false)
	k, err := joinKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if k.Saddr != [16]byte{192, 0, 2, 1} || k.Daddr != [16]byte{192, 0, 2, 2} || k.Sport != 40000 || k.Dport != 7001 || k.Ifindex != 1 {
		t.Errorf("IPv4 key %+v", k)
	}
	p.Src = netip.MustParseAddrPort("[::ffff:192.0.2.1]:40000")
	if k2, err := joinKey(p); err != nil || k2 != k {
		t.Errorf("4-in-6 source: %+v, %v; want the IPv4 key", k2, err)
	}
	p.Src, p.Dst = netip.MustParseAddrPort("[fd00::1]:7001"), netip.MustParseAddrPort("[fd00::2]:40000")
	k, err = joinKey(p)
	if want := netip.MustParseAddr("fd00::1").As16(); err != nil || k.Saddr != want || k.Sport != 7001 {
		t.Errorf("IPv6 key %+v, %v", k, err)
	}
	for _, bad := range []JoinPoint{
		{Ifindex: 1, Src: netip.MustParseAddrPort("192.0.2.1:1"), Dst: netip.MustParseAddrPort("[fd00::2]:2")},
		{Ifindex: 1, Src: netip.MustParseAddrPort("192.0.2.1:1")},
		{Src: netip.MustParseAddrPort("192.0.2.1:1"), Dst: netip.MustParseAddrPort("192.0.2.2:2")},
	} {
		if _, err := joinKey(bad); !errors.Is(err, errJoinPoint) {
			t.Errorf("join point %+v: %v, want errJoinPoint", bad, err)
		}
	}
}
