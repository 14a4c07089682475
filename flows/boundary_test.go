package flows

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
)

// calls is a Consumer that logs each call of the client's direction with
// the sequence number Conn.Next gives it: "D@seq:bytes", "G@seq+n",
// "S@seq+n", "B@seq/frames" for a boundary.
type calls struct {
	conn *Conn
	log  *[]string
}

func (c *calls) add(d segment.Dir, f string, args ...any) {
	if d == segment.ClientToServer {
		*c.log = append(*c.log, fmt.Sprintf("%s@%d", f, c.conn.Next[d])+fmt.Sprint(args...))
	}
}

func (c *calls) Data(d segment.Dir, p []byte, _ *segment.Segment) { c.add(d, "D", ":", string(p)) }
func (c *calls) Gap(d segment.Dir, n uint64, _ *segment.Segment)  { c.add(d, "G", "+", n) }
func (c *calls) Skip(d segment.Dir, n uint64, _ *segment.Segment) { c.add(d, "S", "+", n) }
func (c *calls) Stall(segment.Dir, bool, *segment.Segment)        {}
func (c *calls) Close(segment.CloseReason, *segment.Segment)      {}
func (c *calls) Boundary(d segment.Dir, b segment.Boundary, _ *segment.Segment) {
	c.add(d, "B", "/", b.Frames)
}

// marked returns s with a boundary at payload offset off, frames frames
// after the direction's start.
func marked(off uint32, frames uint64, s segment.Segment) segment.Segment {
	s.Boundary = segment.Boundary{Valid: true, Offset: off, Frames: frames}
	return s
}

func runCalls(t *testing.T, segs []segment.Segment) []string {
	t.Helper()
	var log []string
	a := New(Config{}, func(c *Conn) Consumer { return &calls{conn: c, log: &log} })
	for i := range segs {
		a.Add(&segs[i])
	}
	a.Flush(time.Unix(2, 0))
	return log
}

func TestBoundary(t *testing.T) {
	const (
		syn = segment.SYN
		fin = segment.FIN
	)
	tests := []struct {
		name string
		in   []segment.Segment
		want []string
	}{
		{"at the first byte", []segment.Segment{
			seg(true, 1, syn, ""),
			marked(0, 1, seg(true, 2, 0, "abc")),
		}, []string{"B@2/1", "D@2:abc"}},
		{"inside a segment", []segment.Segment{
			seg(true, 1, syn, ""),
			marked(2, 1, seg(true, 2, 0, "abc")),
		}, []string{"D@2:ab", "B@4/1", "D@4:c"}},
		{"not valid", []segment.Segment{
			seg(true, 1, syn, ""),
			func() segment.Segment {
				s := seg(true, 2, 0, "abc")
				s.Boundary.Offset = 1
				return s
			}(),
		}, []string{"D@2:abc"}},
		{"on a SYN's data", []segment.Segment{
			marked(1, 0, seg(true, 1, syn, "ab")),
		}, []string{"D@2:a", "B@3/0", "D@3:b"}},
		{"retransmitted", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "abc"),
			marked(1, 1, seg(true, 2, 0, "abcde")),   // b delivered already
			marked(6, 2, seg(true, 2, 0, "abcdefg")), // g is new
		}, []string{"D@2:abc", "D@5:de", "D@7:f", "B@8/2", "D@8:g"}},
		{"in bytes not captured", []segment.Segment{
			seg(true, 1, syn, ""),
			marked(5, 1, cut(10, seg(true, 2, 0, "abc"))),
			seg(true, 12, 0, "z"),
		}, []string{"D@2:abc", "S@5+7", "D@12:z"}},
		{"held", []segment.Segment{
			seg(true, 1, syn, ""),
			marked(1, 3, seg(true, 6, 0, "efg")),
			seg(true, 2, 0, "abcd"),
		}, []string{"D@2:abcd", "D@6:e", "B@7/3", "D@7:fg"}},
		{"held, the earliest kept", []segment.Segment{
			seg(true, 1, syn, ""),
			marked(1, 4, seg(true, 8, 0, "gh")),
			marked(0, 3, seg(true, 6, 0, "ef")),
			seg(true, 2, 0, "abcd"),
		}, []string{"D@2:abcd", "B@6/3", "D@6:efgh"}},
		{"held, a later one appended", []segment.Segment{
			seg(true, 1, syn, ""),
			marked(1, 3, seg(true, 6, 0, "ef")),
			marked(1, 4, seg(true, 8, 0, "gh")),
			seg(true, 2, 0, "abcd"),
		}, []string{"D@2:abcd", "D@6:e", "B@7/3", "D@7:fgh"}},
		{"held copy wins", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 6, 0, "efg"),
			marked(1, 3, seg(true, 6, 0, "efg")),
			seg(true, 2, 0, "abcd"),
		}, []string{"D@2:abcd", "D@6:efg"}},
		{"filling a hole", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 6, 0, "ef"),
			marked(3, 2, seg(true, 2, 0, "abcdefg")),
		}, []string{"D@2:abc", "B@5/2", "D@5:d", "D@6:efg"}},
		{"in bytes declared lost", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 6, 0, "ef"),
			seg(false, 500, 0, "x", 6),
			marked(1, 1, seg(true, 4, 0, "cd")),
		}, []string{"D@2:ab", "G@4+2", "D@6:ef"}},
		{"past the FIN", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, fin, "ab"),
			marked(0, 1, seg(true, 4, 0, "cd")),
		}, []string{"D@2:ab"}},
		{"held, then cut by a FIN", []segment.Segment{
			seg(true, 1, syn, ""),
			marked(2, 1, seg(true, 6, 0, "efgh")),
			seg(true, 2, fin, "abcdef"),
		}, []string{"D@2:abcd", "D@6:ef"}},
		{"sequence numbers wrap", []segment.Segment{
			seg(true, 0xfffffffd, syn, ""),
			marked(3, 1, seg(true, 0xfffffffe, 0, "abcd")),
		}, []string{"D@4294967294:abc", "B@1/1", "D@1:d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, runCalls(t, tt.in)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestBoundaryNotWanted checks that a Consumer that does not implement
// BoundaryReporter gets a marked segment in one Data call.
func TestBoundaryNotWanted(t *testing.T) {
	var log []string
	n := 0
	a := New(Config{}, func(c *Conn) Consumer { return dataCounter{Consumer: &recorder{log: &log, conn: c}, n: &n} })
	for _, s := range []segment.Segment{seg(true, 1, segment.SYN, ""), marked(2, 1, seg(true, 2, 0, "abc"))} {
		a.Add(&s)
	}
	if n != 1 {
		t.Errorf("%d Data calls, want 1", n)
	}
}

type dataCounter struct {
	Consumer
	n *int
}

func (c dataCounter) Data(d segment.Dir, p []byte, s *segment.Segment) {
	*c.n++
	c.Consumer.Data(d, p, s)
}

// TestNextGapSkip checks Conn.Next at gaps and skips, in order and held.
func TestNextGapSkip(t *testing.T) {
	got := runCalls(t, []segment.Segment{
		seg(true, 1, segment.SYN, ""),
		cut(10, seg(true, 2, 0, "abc")),
		cut(5, seg(true, 16, 0, "pq")),
		seg(false, 500, 0, "x", 21),
		seg(true, 21, 0, "u"),
	})
	want := []string{"D@2:abc", "S@5+7", "G@12+4", "D@16:pq", "S@18+3", "D@21:u"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
