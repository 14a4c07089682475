package loader

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/segment"
)

// refHead is a frame header of a test stream as the kernel's walk should
// mark it: its stream offset, whether no message is open there, and the
// frames and messages walked before it.
type refHead struct {
	off              int
	msgStart         bool
	frames, messages uint64
	// end is where the frame ends (header and body; 0 for a size the walk
	// refuses); cmd and ident report a command and 2.0's identity, last a
	// message's last frame.
	end              uint64
	cmd, ident, last bool
}

// walkRef walks the frames of stream from offset from on, as the kernel
// does and independently of it: v2 is ZMTP 2.0 framing, ident that the
// first frame is 2.0's identity, inMsg that a message is open at from. It
// returns the headers the kernel marks and the offset where the walk stops
// (len(stream) or beyond, or the first header it cannot walk).
func walkRef(stream []byte, from int, v2, ident, inMsg bool) (heads []refHead, stop uint64) {
	var frames, messages uint64
	i := uint64(from)
	for i < uint64(len(stream)) {
		f := stream[i]
		reserved := byte(0xf8)
		if v2 {
			reserved = 0xfc
		}
		if f&reserved != 0 || f&0x05 == 0x05 {
			return heads, i
		}
		h := refHead{off: int(i), msgStart: !inMsg, frames: frames, messages: messages, cmd: !v2 && f&0x04 != 0, ident: ident}
		frames++
		if !h.cmd && !h.ident {
			inMsg = f&0x01 != 0
			if !inMsg {
				messages++
				h.last = true
			}
		}
		ident = false
		hl := uint64(2)
		var size uint64
		if f&0x02 != 0 {
			hl = 9
			if i+9 <= uint64(len(stream)) {
				size = binary.BigEndian.Uint64(stream[i+1:])
			}
		} else if i+2 <= uint64(len(stream)) {
			size = uint64(stream[i+1])
		}
		heads = append(heads, h)
		if size>>63 != 0 {
			return heads, i // marked, then given up at its size
		}
		h.end = i + hl + size
		heads[len(heads)-1].end = h.end
		i = h.end
	}
	return heads, i
}

// checkMarks checks the marks of the records of a stream against the
// headers walkRef found: a record whose kept bytes hold the start of one
// (the walk's first in its kept bytes; with retransmissions, headers
// walked before do not count) is marked with it and its counts, and no
// other record is marked. Stream offsets are seq - isn - 1. It returns the
// number of marks.
func checkMarks(t testing.TB, segs []segment.Segment, heads []refHead, isn uint32) int {
	t.Helper()
	walked := make(map[int]bool)
	marks := 0
	for n, s := range segs {
		if s.Has(segment.SYN) {
			if s.Boundary.Valid {
				t.Errorf("record %d (SYN) marked: %+v", n, s.Boundary)
			}
			continue
		}
		from := int(s.Seq - isn - 1)
		var want *refHead
		for k := range heads {
			h := &heads[k]
			if h.off >= from && h.off < from+len(s.Payload) && !walked[h.off] {
				want = h
				break
			}
		}
		for k := range heads {
			if h := heads[k]; h.off >= from && h.off < from+len(s.Payload) {
				walked[h.off] = true
			}
		}
		b := s.Boundary
		switch {
		case want == nil && b.Valid:
			t.Errorf("record %d (stream %d+%d): marked at %d (%+v), no header starts there", n, from, len(s.Payload), from+int(b.Offset), b)
		case want != nil && !b.Valid:
			t.Errorf("record %d (stream %d+%d): not marked, the header at %d starts there", n, from, len(s.Payload), want.off)
		case want != nil:
			marks++
			got := refHead{off: from + int(b.Offset), msgStart: b.MessageStart, frames: b.Frames, messages: b.Messages}
			if w := (refHead{off: want.off, msgStart: want.msgStart, frames: want.frames, messages: want.messages}); got != w {
				t.Errorf("record %d (stream %d+%d): mark %+v, want %+v", n, from, len(s.Payload), got, w)
			}
		}
	}
	return marks
}

// runMarks runs the capture program (with bpf_loop) with cfg on frames and
// returns the records and counters.
func runMarks(t *testing.T, cfg Config, frames [][]byte) ([]segment.Segment, Stats) {
	t.Helper()
	cfg.Ports = []uint16{7001}
	return runProgramStats(t, cfg, true, 14, frames, func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureIngress }, -1)
}

// TestMarksFramed: with frame_keep, each record that holds a header's start
// is marked with the first, and the counts are those before it.
func TestMarksFramed(t *testing.T) {
	requireBPF(t)
	z := v3Stream()
	heads, _ := walkRef(z.b, 64, false, false, false)
	if len(heads) != len(z.heads) {
		t.Fatalf("reference walk found %d headers, the stream has %d", len(heads), len(z.heads))
	}
	for _, cuts := range [][]int{nil, {11, z.heads[2][0] + 4, z.heads[4][0] + 9}, {64, 65, 66, 67, 100}} {
		frames, _ := packets(t, z.b, cuts)
		segs, st := runMarks(t, Config{FrameKeep: framingKeep}, frames)
		kept(t, segs, z.b)
		if n := checkMarks(t, segs, heads, framingISN); n == 0 {
			t.Errorf("cuts %v: no record marked", cuts)
		}
		if st.Elided == 0 {
			t.Errorf("cuts %v: nothing left out", cuts)
		}
	}
	// The message frames' counts: READY is frame 0 and no message, "abc"
	// (MORE) and the 3,000-byte frame are one message.
	want := []refHead{
		{off: 64, msgStart: true},
		{off: z.heads[1][0], msgStart: true, frames: 1},
		{off: z.heads[2][0], msgStart: true, frames: 2, messages: 1},
		{off: z.heads[3][0], msgStart: true, frames: 3, messages: 2},
		{off: z.heads[4][0], msgStart: false, frames: 4, messages: 2},
		{off: z.heads[5][0], msgStart: true, frames: 5, messages: 3},
	}
	for k, w := range want {
		h := heads[k]
		if got := (refHead{off: h.off, msgStart: h.msgStart, frames: h.frames, messages: h.messages}); got != w {
			t.Errorf("reference header %d: %+v, want %+v", k, got, w)
		}
	}
}

// TestMarksWholePayloads: Config.Marks without FrameKeep walks and marks
// but ships every byte, one record a packet (retransmissions too); the
// program without bpf_loop does not walk.
func TestMarksWholePayloads(t *testing.T) {
	requireBPF(t)
	z := v3Stream()
	heads, _ := walkRef(z.b, 64, false, false, false)
	frames, offs := packets(t, z.b, []int{64, z.heads[3][0] + 1})
	cfg := Config{Marks: true}
	segs, st := runMarks(t, cfg, frames)
	have := kept(t, segs, z.b)
	for i, h := range have {
		if !h {
			t.Fatalf("byte %d left out with Marks and no FrameKeep", i)
		}
	}
	if len(segs) != len(frames) || st.Elided != 0 {
		t.Errorf("%d records for %d packets, %d bytes left out", len(segs), len(frames), st.Elided)
	}
	for _, s := range segs {
		if s.Piece {
			t.Errorf("a piece in whole-payload mode: %+v", s)
		}
	}
	if n := checkMarks(t, segs, heads, framingISN); n < 3 {
		t.Errorf("%d records marked", n)
	}

	// A retransmission goes whole and unmarked; one that overlaps the
	// walk goes whole, marked at the first header not walked before.
	over := buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.ACK | segment.PSH,
		seq: framingISN + 1 + uint32(offs[2]), payload: string(z.b[offs[2]:offs[4]])})
	again := append(append([][]byte{}, frames[:4]...), frames[3], over)
	segs, _ = runMarks(t, cfg, again)
	if len(segs) != len(again) {
		t.Fatalf("%d records for %d packets", len(segs), len(again))
	}
	if r := segs[4]; r.Boundary.Valid || len(r.Payload) != len(frames[3])-54 {
		t.Errorf("retransmission: %d bytes, boundary %+v; want whole and unmarked", len(r.Payload), r.Boundary)
	}
	if r := segs[5]; len(r.Payload) != offs[4]-offs[2] || r.Piece {
		t.Errorf("overlapping retransmission: %d bytes of %d", len(r.Payload), offs[4]-offs[2])
	}
	checkMarks(t, segs, heads, framingISN)

	if walks(cfg, false) {
		t.Error("the program without bpf_loop claims to walk")
	}
	segs, _ = runProgramStats(t, Config{Ports: []uint16{7001}, Marks: true}, false, 14, frames,
		func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureIngress }, -1)
	for _, s := range segs {
		if s.Boundary.Valid {
			t.Fatalf("CaptureBasic marked a record: %+v", s.Boundary)
		}
	}
}

// TestMarksV2: ZMTP 2.0's identity is a frame but no message.
func TestMarksV2(t *testing.T) {
	requireBPF(t)
	z := &zmtpStream{b: []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 8}}
	z.frame(0, []byte("id"))
	z.frame(1, pattern(700, 3))
	z.frame(0, pattern(20, 4))
	z.frame(0, []byte("x"))
	heads, _ := walkRef(z.b, 12, true, true, false)
	want := []refHead{{off: 12, msgStart: true}, {off: 16, msgStart: true, frames: 1}, {off: z.heads[2][0], frames: 2},
		{off: z.heads[3][0], msgStart: true, frames: 3, messages: 1}}
	for k, w := range want {
		h := heads[k]
		if got := (refHead{off: h.off, msgStart: h.msgStart, frames: h.frames, messages: h.messages}); got != w {
			t.Errorf("reference header %d: %+v, want %+v", k, got, w)
		}
	}
	for _, cfg := range []Config{{FrameKeep: framingKeep}, {Marks: true}} {
		// The greeting; the identity and the next header's first byte
		// (one mark: the identity's); the rest of that frame; the last two
		// frames, a packet each.
		frames, _ := packets(t, z.b, []int{12, 17, z.heads[2][0], z.heads[3][0]})
		segs, _ := runMarks(t, cfg, frames)
		kept(t, segs, z.b)
		if n := checkMarks(t, segs, heads, framingISN); n != 3 {
			t.Errorf("%+v: %d records marked, want 3", cfg, n)
		}
	}
}

// TestMarksThroughRingLoss fills a one-page ring so that records are lost,
// then drains it: the marks after the loss count the frames and messages
// of the packets whose records were lost.
func TestMarksThroughRingLoss(t *testing.T) {
	requireBPF(t)
	z := &zmtpStream{b: greeting3()}
	z.frame(0x04, []byte("\x05READY"))
	for k := range 300 {
		z.frame(byte(k%3&1), pattern(20+k%50, k))
	}
	heads, _ := walkRef(z.b, 64, false, false, false)
	frames, _ := packets(t, z.b, nil)
	// About 100 bytes a packet: each record is most of a 4 KiB ring's
	// twentieth.
	frames = frames[:1]
	for from := 0; from < len(z.b); from += 100 {
		end := min(len(z.b), from+100)
		frames = append(frames, buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.ACK | segment.PSH,
			seq: framingISN + 1 + uint32(from), payload: string(z.b[from:end])}))
	}
	p := loadTestProgram(t, Config{Ports: []uint16{7001}, Marks: true}, true, 14, 0, 4096)
	run := func(frames [][]byte) {
		for _, f := range frames {
			if _, err := p.objs.CaptureIngress.Run(&ebpf.RunOptions{Data: f}); err != nil {
				t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
			}
		}
	}
	half := len(frames) / 2
	run(frames[:half])
	first := p.records(t, 50*time.Millisecond)
	st, err := readCounters(&p.objs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lost == 0 || len(first) >= half {
		t.Fatalf("%d records of %d packets, %d lost: the ring did not fill", len(first), half, st.Lost)
	}
	run(frames[half:])
	rest := p.records(t, 50*time.Millisecond)
	if len(rest) == 0 {
		t.Fatal("no record after draining the ring")
	}
	if rest[0].KernelLost != st.Lost {
		t.Errorf("first record after the loss says %d lost, counters %d", rest[0].KernelLost, st.Lost)
	}
	checkMarks(t, first, heads, framingISN)
	if n := checkMarks(t, rest, heads, framingISN); n < len(rest)/2 {
		t.Errorf("%d of %d records after the loss marked", n, len(rest))
	}
	if b := rest[0].Boundary; !b.Valid || b.Frames < 100 {
		t.Errorf("first record after the loss: %+v, want the frames walked before (more than 100)", b)
	}
}
