package flows

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
)

// stallLog is a Consumer that logs its Stall and Close calls, with their
// times in seconds.
type stallLog struct{ log *[]string }

func (stallLog) Data(segment.Dir, []byte, *segment.Segment) {}
func (stallLog) Gap(segment.Dir, uint64, *segment.Segment)  {}
func (stallLog) Skip(segment.Dir, uint64, *segment.Segment) {}
func (l stallLog) Stall(d segment.Dir, stalled bool, seg *segment.Segment) {
	what := map[bool]string{true: "stalled", false: "recovered"}[stalled]
	*l.log = append(*l.log, fmt.Sprintf("%s %s at %g", [...]string{"c2s", "s2c"}[d], what, secs(seg.Time)))
}
func (l stallLog) Close(r segment.CloseReason, seg *segment.Segment) {
	*l.log = append(*l.log, fmt.Sprintf("%v at %g", r, secs(seg.Time)))
}

func secs(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// win returns s advertising the raw window w.
func win(w uint16, s segment.Segment) segment.Segment {
	s.Window = w
	return s
}

// wscale returns the SYN s with a window scale option of shift ws.
func wscale(ws int8, s segment.Segment) segment.Segment {
	s.WScale = ws
	return s
}

func runStalls(t *testing.T, segs []segment.Segment, end time.Time) ([]string, Stats) {
	t.Helper()
	var log []string
	a := New(Config{}, func(*Conn) Consumer { return stallLog{&log} })
	for i := range segs {
		a.Add(&segs[i])
	}
	if !end.IsZero() {
		a.Flush(end)
	}
	return log, a.Stats()
}

// handshake opens the connection at second 0: the client's stream starts at
// isnC+1, the server's at isnS+1.
func handshake() []segment.Segment {
	return []segment.Segment{
		at(0, seg(true, isnC, segment.SYN, "")),
		at(0, seg(false, isnS, segment.SYN, "", isnC+1)),
		at(0, seg(true, isnC+1, 0, "", isnS+1)),
	}
}

func TestStall(t *testing.T) {
	const psh, fin, rst = segment.PSH, segment.FIN, segment.RST
	then := func(more ...segment.Segment) []segment.Segment { return append(handshake(), more...) }
	closing := []segment.Segment{
		at(9, seg(true, isnC+11, fin, "", isnS+1)),
		at(9, seg(false, isnS+1, fin, "", isnC+12)),
		at(9, seg(true, isnC+12, 0, "", isnS+2)),
	}
	tests := []struct {
		name  string
		segs  []segment.Segment
		end   time.Time // Flush then; zero: none
		want  []string
		stats uint64 // Stats.ZeroWindows
	}{
		{"zero window with bytes outstanding", then(
			at(1, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(1, seg(true, isnC+6, psh, "world", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+6))), // "world" not acknowledged
			at(2.5, win(0, seg(false, isnS+1, 0, "", isnC+11))),
			at(3, win(100, seg(false, isnS+1, 0, "", isnC+11))),
		), time.Time{}, []string{"c2s stalled at 2", "c2s recovered at 3"}, 1},
		{"Linux zero-window probes", then(
			at(1, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+6))), // all acknowledged: no stall yet
			at(2.2, seg(true, isnC+5, 0, "", isnS+1)),        // a probe: one before the bytes acknowledged
			at(2.2, win(0, seg(false, isnS+1, 0, "", isnC+6))),
			at(2.6, seg(true, isnC+5, 0, "", isnS+1)),
			at(2.6, win(0, seg(false, isnS+1, 0, "", isnC+6))),
			at(4, win(7, seg(false, isnS+1, 0, "", isnC+6))), // the window opens
			at(4, seg(true, isnC+6, psh, "world", isnS+1)),
		), time.Time{}, []string{"c2s stalled at 2", "c2s recovered at 4"}, 1},
		{"a one-byte probe beyond the window", then(
			at(1, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+6))),
			at(3, seg(true, isnC+6, psh, "w", isnS+1)),
			at(3, win(0, seg(false, isnS+1, 0, "", isnC+6))),
			at(5, win(1000, seg(false, isnS+1, 0, "", isnC+7))),
		), time.Time{}, []string{"c2s stalled at 2", "c2s recovered at 5"}, 1},
		{"the server's direction stalled", then(
			at(1, seg(false, isnS+1, psh, "hello", isnC+1)),
			at(1, seg(false, isnS+6, psh, "!", isnC+1)),
			at(1.5, win(0, seg(true, isnC+1, 0, "", isnS+6))),
			at(2, win(0, seg(true, isnC+1, 0, "", isnS+7))),
			at(2.5, win(5, seg(true, isnC+1, 0, "", isnS+7))),
		), time.Time{}, []string{"s2c stalled at 1.5", "s2c recovered at 2.5"}, 1},
		{"a zero window nobody waits on", then(
			at(1, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+6))),
			at(3, seg(true, isnC+6, 0, "", isnS+1)), // a plain ACK, no probe
			at(4, win(50, seg(false, isnS+1, 0, "", isnC+6))),
		), time.Time{}, nil, 0},
		{"a keepalive and a retransmission are no probe", then(
			at(1, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+6))),
			at(3, seg(true, isnC+5, 0, "?", isnS+1)), // a one-byte keepalive
			at(3, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(4, win(50, seg(false, isnS+1, 0, "", isnC+6))),
		), time.Time{}, nil, 0},
		{"twice", then(
			at(1, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+3))),
			at(3, win(9, seg(false, isnS+1, 0, "", isnC+6))),
			at(4, seg(true, isnC+6, psh, "world", isnS+1)),
			at(5, win(0, seg(false, isnS+1, 0, "", isnC+8))),
			at(6, win(9, seg(false, isnS+1, 0, "", isnC+11))),
		), time.Time{}, []string{"c2s stalled at 2", "c2s recovered at 3", "c2s stalled at 5", "c2s recovered at 6"}, 2},
		{"stalled until the FINs", append(then(
			at(1, seg(true, isnC+1, psh, "helloworld", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+6))),
		), closing...), time.Time{}, []string{"c2s stalled at 2", "c2s recovered at 9", "closed at 9"}, 1},
		{"stalled until a RST", then(
			at(1, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+2))),
			at(7, seg(true, isnC+6, rst, "")),
		), time.Time{}, []string{"c2s stalled at 2", "c2s recovered at 7", "reset at 7"}, 1},
		{"stalled when the capture ends", then(
			at(1, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+2))),
		), time.Unix(8, 0), []string{"c2s stalled at 2", "c2s recovered at 8", "capture ended at 8"}, 1},
		{"picked up mid-stream", []segment.Segment{
			at(1, seg(true, isnC+1, psh, "hello", isnS+1)),
			at(2, win(0, seg(false, isnS+1, 0, "", isnC+4))),
			at(3, win(1, seg(false, isnS+1, 0, "", isnC+6))),
		}, time.Time{}, []string{"c2s stalled at 2", "c2s recovered at 3"}, 1},
		{"a zero window in the SYN-ACK is none", []segment.Segment{
			at(0, seg(true, isnC, segment.SYN, "")),
			at(0, win(0, seg(false, isnS, segment.SYN, "", isnC+1))),
			at(1, seg(true, isnC+1, 0, "", isnS+1)),
		}, time.Time{}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := runStalls(t, tt.segs, tt.end)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if st.ZeroWindows != tt.stats {
				t.Errorf("Stats.ZeroWindows %d, want %d", st.ZeroWindows, tt.stats)
			}
		})
	}
}

// TestWindowScale checks Conn.Window: the server's window for the
// client, scaled when both SYNs carried a shift.
func TestWindowScale(t *testing.T) {
	s2c := func(w uint16, syn bool, segs ...segment.Segment) uint32 {
		t.Helper()
		var conn *Conn
		a := New(Config{}, func(c *Conn) Consumer { conn = c; return discard{} })
		for i := range segs {
			a.Add(&segs[i])
		}
		return conn.Window(segment.ServerToClient, w, syn)
	}
	syn, synAck := seg(true, isnC, segment.SYN, ""), seg(false, isnS, segment.SYN, "", isnC+1)
	data := seg(true, isnC+1, 0, "x", isnS+1)
	for _, c := range []struct {
		name string
		syn  bool
		segs []segment.Segment
		want uint32
	}{
		{"both shifts", false, []segment.Segment{wscale(7, syn), wscale(2, synAck), data}, 3 << 2},
		{"the SYN-ACK's shift, the SYN unseen", false, []segment.Segment{wscale(2, synAck), data}, 3 << 2},
		{"the SYN's shift only", false, []segment.Segment{wscale(7, syn), synAck, data}, 3},
		{"the SYN's shift, the SYN-ACK unseen", false, []segment.Segment{wscale(7, syn), data}, 3},
		{"shift 0", false, []segment.Segment{wscale(0, syn), wscale(0, synAck), data}, 3},
		{"mid-stream: as is", false, []segment.Segment{data}, 3},
		{"a SYN's window: never scaled", true, []segment.Segment{wscale(7, syn), wscale(2, synAck)}, 3},
	} {
		if got := s2c(3, c.syn, c.segs...); got != c.want {
			t.Errorf("%s: window 3 from the server is %d bytes, want %d", c.name, got, c.want)
		}
	}
	// The client's direction: its shift counts only with the server's.
	var conn *Conn
	a := New(Config{}, func(c *Conn) Consumer { conn = c; return discard{} })
	for _, s := range []segment.Segment{wscale(7, syn), wscale(2, synAck)} {
		a.Add(&s)
	}
	if got := conn.Window(segment.ClientToServer, 3, false); got != 3<<7 || conn.WScale != [2]int8{7, 2} {
		t.Errorf("window 3 from the client is %d bytes (shifts %v), want %d", got, conn.WScale, 3<<7)
	}
}

// stallCount counts Stall calls.
type stallCount struct {
	discard
	n *int
}

func (c stallCount) Stall(segment.Dir, bool, *segment.Segment) { *c.n++ }

// TestStallAllocs: following windows, stalls included, allocates nothing
// per segment.
func TestStallAllocs(t *testing.T) {
	calls := 0
	a := New(Config{}, func(*Conn) Consumer { return stallCount{n: &calls} })
	hs := handshake()
	for i := range hs {
		a.Add(&hs[i])
	}
	// Four bytes, acknowledged in part with a zero window (a stall), then
	// whole, then the window opens (the end of the stall).
	segs := []segment.Segment{
		at(1, seg(true, 0, segment.PSH, "abcd", isnS+1)),
		at(2, win(0, seg(false, isnS+1, 0, "", 2))),
		at(3, win(0, seg(false, isnS+1, 0, "", 4))),
		at(4, win(9, seg(false, isnS+1, 0, "", 4))),
	}
	next := uint32(isnC + 1)
	if n := testing.AllocsPerRun(200, func() {
		segs[0].Seq = next
		segs[1].Ack, segs[2].Ack, segs[3].Ack = next+2, next+4, next+4
		for i := range segs {
			a.Add(&segs[i])
		}
		next += 4
	}); n > 0 {
		t.Errorf("%v allocations per stall", n)
	}
	if st := a.Stats(); st.ZeroWindows < 200 || calls != 2*int(st.ZeroWindows) {
		t.Errorf("%d stalls, %d Stall calls", st.ZeroWindows, calls)
	}
}
