package flows

import (
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// fuzzConv is the fixed conversation FuzzAssembler reorders: two streams
// cut in segments of varied sizes, sequence numbers wrapping in one.
type fuzzConv struct {
	isn    [2]uint32
	stream [2][]byte
	segs   []segment.Segment // data segments, both directions
}

func newFuzzConv() *fuzzConv {
	f := &fuzzConv{isn: [2]uint32{0xffffff80, 0x7fffff80}}
	sizes := []int{1, 7, 3, 20, 5, 13, 2, 31, 8, 1, 17, 4}
	for d := range 2 {
		for i := range 240 {
			f.stream[d] = append(f.stream[d], byte(i*7+d*3+i/251))
		}
		for off, i := 0, 0; off < len(f.stream[d]); i++ {
			n := min(sizes[(i+d*5)%len(sizes)], len(f.stream[d])-off)
			s := seg(d == 0, f.isn[d]+1+uint32(off), segment.PSH, "")
			s.Payload, s.PayloadLen = f.stream[d][off:off+n], n
			if i%3 != 2 {
				// A frame boundary marked, its stream offset as Frames.
				at := (i * 5) % n
				s.Boundary = segment.Boundary{Valid: true, Offset: uint32(at), Frames: uint64(off + at)}
			}
			f.segs = append(f.segs, s)
			off += n
		}
	}
	return f
}

// checker is a Consumer checking every byte against the true streams, and
// every skipped byte against those a segment added cut.
type checker struct {
	t      *testing.T
	f      *fuzzConv
	offset [2]uint64
	// uncaught marks, by stream offset, the bytes some segment added
	// carried without capturing them.
	uncaught [2][]bool
	// conn gives Next; marks counts the Boundary calls at each offset.
	conn   *Conn
	marks  [2]map[uint64]int
	closed bool
	// stalled is each direction's stall as the Stall calls left it.
	stalled [2]bool
}

// Boundary checks that the byte marked is the next one, that a segment
// marked it, and that it is reported once.
func (c *checker) Boundary(d segment.Dir, b segment.Boundary, _ *segment.Segment) {
	o := c.offset[d]
	if b.Frames != o || c.conn.Next[d] != c.f.isn[d]+1+uint32(o) {
		c.t.Fatalf("%v: boundary of offset %d reported at offset %d, sequence number %d", d, b.Frames, o, c.conn.Next[d])
	}
	if c.marks[d] == nil {
		c.marks[d] = map[uint64]int{}
	}
	if c.marks[d][o]++; c.marks[d][o] > 1 {
		c.t.Fatalf("%v: boundary at offset %d reported twice", d, o)
	}
}

func (c *checker) Data(d segment.Dir, p []byte, _ *segment.Segment) {
	if c.conn.Next[d] != c.f.isn[d]+1+uint32(c.offset[d]) {
		c.t.Fatalf("%v: Next %d at offset %d", d, c.conn.Next[d], c.offset[d])
	}
	for i, b := range p {
		o := c.offset[d] + uint64(i)
		if o >= uint64(len(c.f.stream[d])) || c.f.stream[d][o] != b {
			c.t.Fatalf("%v: byte %d at offset %d is wrong", d, b, o)
		}
	}
	c.offset[d] += uint64(len(p))
}

func (c *checker) Gap(d segment.Dir, n uint64, _ *segment.Segment) { c.offset[d] += n }

func (c *checker) Skip(d segment.Dir, n uint64, _ *segment.Segment) {
	for o := c.offset[d]; o < c.offset[d]+n; o++ {
		if o >= uint64(len(c.uncaught[d])) || !c.uncaught[d][o] {
			c.t.Fatalf("%v: byte at offset %d skipped, but no segment left it out", d, o)
		}
	}
	c.offset[d] += n
}

// added notes the bytes of s, a data segment of the conversation, that it
// does not carry.
func (c *checker) added(s *segment.Segment) {
	d := segment.ClientToServer
	if s.Src != cli {
		d = segment.ServerToClient
	}
	off := int(s.Seq - (c.f.isn[d] + 1))
	for o := off + len(s.Payload); o < off+s.PayloadLen; o++ {
		c.uncaught[d][o] = true
	}
}

// Stall checks that a direction's stalls begin and end in turn.
func (c *checker) Stall(d segment.Dir, stalled bool, _ *segment.Segment) {
	if c.stalled[d] == stalled {
		c.t.Fatalf("%v: Stall(%v) twice in a row", d, stalled)
	}
	c.stalled[d] = stalled
}

// Close checks that every stall ended before it.
func (c *checker) Close(segment.CloseReason, *segment.Segment) {
	if c.stalled[0] || c.stalled[1] {
		c.t.Fatalf("closed while stalled: %v", c.stalled)
	}
	c.closed = true
}

// FuzzAssembler feeds the fuzzConv's segments in an order the input picks,
// some sent twice, cut, or never, with acknowledgments and kernel losses
// between: no panic, every byte delivered is the true one at its offset,
// every byte skipped is one a segment did not capture, the bounds hold, and
// once both FINs are in, bytes, gaps and skips cover each stream exactly.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 2, 0, 3})
	f.Add([]byte{0, 5, 0, 3, 0, 1, 0, 2, 0, 0, 7, 9, 6, 0, 0, 4})
	f.Add([]byte("\x05\x10\x00\x20\x01\x11\x07\xf0\x06\x00\x02\x03\x05\x40"))
	f.Add([]byte("\x00\x03\x17\x04\x1f\x05\x02\x01\x00\x00\x0d\x02\x03\x02"))
	conv := newFuzzConv()
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := Config{MaxBufferedPerDir: 64, MaxBufferedTotal: 100, MaxHolesPerDir: 4, ConflictWindow: 16}
		ch := &checker{t: t, f: conv}
		for d := range 2 {
			ch.uncaught[d] = make([]bool, len(conv.stream[d]))
		}
		a := New(cfg, func(c *Conn) Consumer { ch.conn = c; return ch })
		var lost uint64
		add := func(s segment.Segment) {
			s.KernelLost = lost
			a.Add(&s)
			if a.stats.Buffered > cfg.MaxBufferedTotal || a.stats.Buffered < 0 {
				t.Fatalf("%d bytes held", a.stats.Buffered)
			}
			for _, c := range a.conns {
				for d := range c.dirs {
					h := &c.dirs[d]
					if h.buffered > cfg.MaxBufferedPerDir || len(h.runs) > cfg.MaxHolesPerDir {
						t.Fatalf("%v: %d bytes in %d runs", segment.Dir(d), h.buffered, len(h.runs))
					}
					held, at := 0, h.next
					for i, r := range h.runs {
						// Runs follow a hole, or a run ending with missing bytes.
						if seqLess(r.seq, at) || r.seq == at && (i == 0 || h.runs[i-1].missing == 0) || len(r.data) == 0 && r.missing == 0 {
							t.Fatalf("%v: runs out of order, empty or unjoined at %d: %+v", segment.Dir(d), at, h.runs)
						}
						held += len(r.data)
						at = r.end()
					}
					if held != h.buffered {
						t.Fatalf("%v: %d bytes held, %d counted", segment.Dir(d), held, h.buffered)
					}
				}
			}
		}
		add(seg(true, conv.isn[0], segment.SYN, ""))
		add(seg(false, conv.isn[1], segment.SYN, "", conv.isn[0]+1))
		n := len(conv.segs)
		for i := 0; i+1 < len(in); i += 2 {
			op, arg := in[i], int(in[i+1])
			switch op % 8 {
			case 0, 1, 2, 3, 4:
				add(conv.segs[arg%n])
			case 5: // a part of a segment, or cut by the capture
				s := conv.segs[arg%n]
				k := (arg / n) % max(1, len(s.Payload))
				switch op / 8 % 3 {
				case 0:
					s.Payload, s.PayloadLen = s.Payload[:k], k
				case 1:
					s.Payload, s.PayloadLen, s.Seq = s.Payload[k:], s.PayloadLen-k, s.Seq+uint32(k)
					s.Boundary.Offset -= uint32(k)
					s.Boundary.Valid = s.Boundary.Valid && int(s.Boundary.Offset) < len(s.Payload)
				case 2:
					s.Payload = s.Payload[:k]
					ch.added(&s)
				}
				add(s)
			case 6:
				lost++
			case 7:
				d := arg % 2
				switch op / 8 % 4 {
				case 0, 1: // an acknowledgment of some bytes of the other side, its window closed or open
					s := seg(d == 0, conv.isn[d]+1, 0, "", conv.isn[1-d]+1+uint32(arg/2%len(conv.stream[1-d])))
					if op/32%2 == 1 {
						s.Window = 0
					}
					add(s)
				case 2: // a RST far out of the window: ignored
					add(seg(d == 0, conv.isn[d]+1+1<<30+uint32(arg), segment.RST, ""))
				case 3: // a FIN far out of the window: ignored
					add(seg(d == 0, conv.isn[d]+1+1<<30+uint32(arg), segment.FIN, ""))
				}
			}
		}
		for d := range 2 {
			fin := seg(d == 0, conv.isn[d]+1+uint32(len(conv.stream[d])), segment.FIN, "")
			add(fin)
		}
		a.Flush(time.Unix(9, 0))
		if !ch.closed {
			t.Fatal("not closed")
		}
		for d := range 2 {
			if ch.offset[d] != uint64(len(conv.stream[d])) {
				t.Fatalf("%v: %d bytes and gaps, want %d", segment.Dir(d), ch.offset[d], len(conv.stream[d]))
			}
		}
		if st := a.Stats(); st.Buffered != 0 || st.ActiveFlows != 0 || st.Bytes+st.LostBytes+st.SkippedBytes != uint64(len(conv.stream[0])+len(conv.stream[1])) {
			t.Fatalf("stats %+v", st)
		}
	})
}

func TestFuzzConv(t *testing.T) {
	conv := newFuzzConv()
	if len(conv.segs) < 20 || !seqLess(conv.isn[0], conv.isn[0]+1+240) || conv.isn[0]+1+240 > conv.isn[0] {
		t.Fatalf("%d segments", len(conv.segs))
	}
}
