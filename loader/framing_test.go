package loader

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/segment"
)

// zmtpStream builds a ZMTP byte stream and remembers where its frames are.
type zmtpStream struct {
	b []byte
	// heads are the stream offsets of frame headers and their lengths;
	// bodies the offsets and sizes of message frame bodies.
	heads  [][2]int
	bodies [][2]int
}

func (z *zmtpStream) frame(flags byte, body []byte) {
	start := len(z.b)
	if len(body) > 255 || flags&0x02 != 0 {
		z.b = append(z.b, flags|0x02)
		z.b = binary.BigEndian.AppendUint64(z.b, uint64(len(body)))
	} else {
		z.b = append(z.b, flags, byte(len(body)))
	}
	z.heads = append(z.heads, [2]int{start, len(z.b) - start})
	if flags&0x04 == 0 {
		z.bodies = append(z.bodies, [2]int{len(z.b), len(body)})
	}
	z.b = append(z.b, body...)
}

// pattern returns n bytes that differ from their neighbours.
func pattern(n, seed int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + seed)
	}
	return p
}

// greeting3 is a ZMTP 3.1 NULL greeting.
func greeting3() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xff, 0x7f, 3, 1
	copy(g[12:], "NULL")
	return g
}

// v3Stream is a ZMTP 3.1 client stream: greeting, READY, then messages with
// small and large bodies and a long header.
func v3Stream() *zmtpStream {
	z := &zmtpStream{b: greeting3()}
	z.frame(0x04, []byte("\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH"))
	z.frame(0, []byte("hello"))
	z.frame(0, pattern(10000, 1))
	z.frame(0x01, []byte("abc"))
	z.frame(0, pattern(3000, 2))
	z.frame(0, pattern(200, 3))
	z.frame(0x02, pattern(40, 4)) // a long header for a short body
	z.frame(0, pattern(5000, 5))
	return z
}

const (
	framingISN  = 50000
	framingKeep = 32
)

// packets cuts stream bytes into data frames at the given stream offsets,
// after a SYN.
func packets(t *testing.T, stream []byte, cuts []int) (frames [][]byte, offs []int) {
	t.Helper()
	frames = append(frames, buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.SYN, seq: framingISN}))
	offs = append(offs, -1)
	from := 0
	for _, to := range append(cuts, len(stream)) {
		for from < to {
			end := min(to, from+1400) // BPF_PROG_TEST_RUN takes about a page
			frames = append(frames, buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.ACK | segment.PSH,
				seq: framingISN + 1 + uint32(from), payload: string(stream[from:end])}))
			offs = append(offs, from)
			from = end
		}
	}
	return frames, offs
}

func runFraming(t *testing.T, frames [][]byte) ([]segment.Segment, Stats) {
	t.Helper()
	return runProgramStats(t, Config{Ports: []uint16{7001}, FrameKeep: framingKeep}, true, 14, frames,
		func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureIngress }, -1)
}

// kept checks that the records of a stream cover it exactly once, in
// order, with true bytes, and returns which stream bytes they kept.
func kept(t *testing.T, segs []segment.Segment, stream []byte) []bool {
	t.Helper()
	have := make([]bool, len(stream))
	next := 0
	for _, s := range segs {
		if s.Has(segment.SYN) {
			continue
		}
		off := int(s.Seq - framingISN - 1)
		if off != next {
			t.Fatalf("record at stream offset %d, want %d (records must follow each other): %+v", off, next, s)
		}
		if len(s.Payload) > s.PayloadLen || off+s.PayloadLen > len(stream) {
			t.Fatalf("record at %d: %d bytes kept of %d", off, len(s.Payload), s.PayloadLen)
		}
		if !bytes.Equal(s.Payload, stream[off:off+len(s.Payload)]) {
			t.Fatalf("record at %d: kept bytes differ from the stream", off)
		}
		for i := range s.Payload {
			have[off+i] = true
		}
		next = off + s.PayloadLen
	}
	if next != len(stream) {
		t.Fatalf("records end at stream offset %d, want %d", next, len(stream))
	}
	return have
}

func TestKernelFramingKeepsHeadersAndFirstBytes(t *testing.T) {
	requireBPF(t)
	z := v3Stream()
	// Cut inside the greeting, inside the 10,000-byte body's long header,
	// and right after a header.
	long := z.heads[2][0]
	frames, _ := packets(t, z.b, []int{11, long + 4, z.heads[4][0] + 9})
	segs, st := runFraming(t, frames)
	have := kept(t, segs, z.b)

	for i := 0; i < 64; i++ {
		if !have[i] {
			t.Fatalf("greeting byte %d left out", i)
		}
	}
	for _, h := range z.heads {
		for i := h[0]; i < h[0]+h[1]; i++ {
			if !have[i] {
				t.Errorf("header byte at %d (header at %d) left out", i, h[0])
			}
		}
	}
	ready := z.heads[0]
	for i := ready[0]; i < z.heads[1][0]; i++ {
		if !have[i] {
			t.Fatalf("READY command byte %d left out: commands are shipped whole", i)
		}
	}
	total := 0
	for _, b := range z.bodies {
		for i := b[0]; i < b[0]+min(b[1], framingKeep); i++ {
			if !have[i] {
				t.Errorf("body byte %d of the frame at %d (size %d) left out: the first %d are kept", i-b[0], b[0], b[1], framingKeep)
			}
		}
		total += b[1]
	}
	n := 0
	for _, h := range have {
		if h {
			n++
		}
	}
	// The 10,000, 3,000 and 5,000-byte bodies lose all but 32 bytes (less
	// what shares a packet with kept bytes in stretches under 256).
	if left := len(z.b) - n; left < 17000 {
		t.Errorf("%d of %d stream bytes left out, want most of the three large bodies (%d body bytes in all)", left, len(z.b), total)
	}
	if st.Elided != uint64(len(z.b)-n) {
		t.Errorf("kernel counted %d bytes left out, the records %d", st.Elided, len(z.b)-n)
	}
	if st.Unframed != 0 {
		t.Errorf("%d flows given up", st.Unframed)
	}
	var ring uint64
	for _, s := range segs {
		ring += uint64(hdrLen + len(s.Payload))
	}
	if st.RingBytes != ring {
		t.Errorf("kernel counted %d ring bytes, the records hold %d", st.RingBytes, ring)
	}
	for _, s := range segs {
		if s.Piece && s.PacketLen != 14+20+20+s.PayloadLen {
			t.Errorf("piece at seq %d: packet length %d, want the headers plus %d", s.Seq, s.PacketLen, s.PayloadLen)
		}
	}
}

func TestKernelFramingRetransmissionAndHoles(t *testing.T) {
	requireBPF(t)
	z := v3Stream()
	frames, offs := packets(t, z.b, nil)
	// The packet holding the 10,000-byte body's middle, by offset.
	mid := -1
	for i, o := range offs {
		if o > z.bodies[1][0]+2000 {
			mid = i
			break
		}
	}
	// Resend a packet already walked: it crosses the ring as a count.
	again := append(append([][]byte{}, frames[:mid+1]...), frames[mid])
	segs, _ := runFraming(t, again)
	last := segs[len(segs)-1]
	if len(last.Payload) != 0 || last.PayloadLen != len(frames[mid])-54 || int(last.Seq-framingISN-1) != offs[mid] {
		t.Errorf("retransmission: %+v, want no bytes kept of %d at offset %d", last, len(frames[mid])-54, offs[mid])
	}

	// A packet missing inside a body is passed over: the walk goes on and
	// the next header is still found.
	holed := append(append([][]byte{}, frames[:mid]...), frames[mid+1:]...)
	segs, st := runFraming(t, holed)
	if st.Unframed != 0 {
		t.Errorf("a hole inside a body stopped the walk")
	}
	at := map[int]segment.Segment{}
	for _, s := range segs {
		at[int(s.Seq-framingISN-1)] = s
	}
	h := z.heads[len(z.heads)-1] // the 5,000-byte frame's header
	found := false
	for off, s := range at {
		if off <= h[0] && h[0]+h[1] <= off+len(s.Payload) {
			found = true
		}
	}
	if !found {
		t.Errorf("after a hole inside a body, the header at %d was not kept", h[0])
	}

	// A packet missing where a header is: the walk cannot go on, and
	// everything after it is shipped whole.
	hdrPkt := -1
	for i := 1; i < len(offs); i++ {
		end := len(z.b)
		if i+1 < len(offs) {
			end = offs[i+1]
		}
		if offs[i] <= z.heads[4][0] && z.heads[4][0] < end {
			hdrPkt = i
		}
	}
	holed = append(append([][]byte{}, frames[:hdrPkt]...), frames[hdrPkt+1:]...)
	segs, st = runFraming(t, holed)
	if st.Unframed != 1 {
		t.Errorf("a hole at a header: %d flows given up, want 1", st.Unframed)
	}
	tail := segs[len(segs)-1]
	if tail.Piece || len(tail.Payload) != tail.PayloadLen {
		t.Errorf("after giving up, packets go whole: %+v", tail)
	}
}

func TestKernelFramingVersions(t *testing.T) {
	requireBPF(t)
	whole := func(t *testing.T, stream []byte, wantUnframed uint64) {
		t.Helper()
		frames, _ := packets(t, stream, nil)
		segs, st := runFraming(t, frames)
		have := kept(t, segs, stream)
		for i, h := range have {
			if !h {
				t.Fatalf("byte %d left out of a stream the kernel cannot follow", i)
			}
		}
		if st.Unframed != wantUnframed || st.Elided != 0 {
			t.Errorf("unframed %d (want %d), elided %d", st.Unframed, wantUnframed, st.Elided)
		}
	}

	// ZMTP 2.0: signature, revision 1, socket type, then the identity
	// frame (shipped whole) and frames without a COMMAND flag.
	z := &zmtpStream{b: []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 8}}
	z.frame(0, pattern(300, 9)) // identity
	z.frame(0, pattern(4000, 6))
	z.frame(0, []byte("x"))
	frames, _ := packets(t, z.b, []int{5})
	segs, st := runFraming(t, frames)
	have := kept(t, segs, z.b)
	for i := 0; i < 12+2+300; i++ {
		if !have[i] {
			t.Fatalf("ZMTP 2.0: greeting or identity byte %d left out", i)
		}
	}
	if st.Elided < 3000 {
		t.Errorf("ZMTP 2.0: %d bytes left out, want most of the 4,000-byte body", st.Elided)
	}

	// ZMTP 1.0 (no signature) is not followed: shipped whole.
	v1 := append([]byte{0x01, 0x00}, bytes.Repeat([]byte{0xff, 0, 0, 0, 0, 0, 0, 0x10, 0x01, 0}, 500)...)
	whole(t, v1, 1)

	// A frame with reserved flags: the walk stops there, the rest is
	// shipped whole for the decoder to report.
	bad := v3Stream()
	bad.b = append(bad.b[:bad.heads[3][0]], 0x40, 200)
	bad.b = append(bad.b, pattern(5000, 7)...)
	frames, _ = packets(t, bad.b, nil)
	segs, st = runFraming(t, frames)
	have = kept(t, segs, bad.b)
	for i := bad.heads[3][0]; i < len(bad.b); i++ {
		if !have[i] {
			t.Fatalf("byte %d after a malformed header left out", i)
		}
	}
	if st.Unframed != 1 {
		t.Errorf("malformed header: %d flows given up, want 1", st.Unframed)
	}
}

// TestKernelFramingOff: without FrameKeep, both programs (with bpf_loop and
// CaptureBasic) ship every byte.
func TestKernelFramingOff(t *testing.T) {
	requireBPF(t)
	z := v3Stream()
	frames, _ := packets(t, z.b, nil)
	for _, full := range []bool{true, false} {
		segs, st := runProgramStats(t, Config{Ports: []uint16{7001}}, full, 14, frames,
			func(o *bpf.CaptureObjects) *ebpf.Program { return o.CaptureIngress }, -1)
		have := kept(t, segs, z.b)
		for i, h := range have {
			if !h {
				t.Fatalf("full %v: byte %d left out without framing", full, i)
			}
		}
		if st.Elided != 0 || len(segs) != len(frames) {
			t.Errorf("full %v: %d bytes left out, %d records for %d packets", full, st.Elided, len(segs), len(frames))
		}
	}
}
