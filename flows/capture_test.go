package flows

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
)

// The real captures of ../testdata (see its README): one connection each.
var captures = []string{"push_pull_null.pcap", "push_pull_large.pcap", "push_pull_multipart.pcap", "push_pull_ipv6.pcap"}

// readCapture returns the segments of a capture, payloads copied.
func readCapture(t testing.TB, name string) []segment.Segment {
	t.Helper()
	segs, err := pcapfile.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// span is a gap: n bytes at stream offset off.
type span struct{ Off, N uint64 }

// streams is a Consumer keeping what it receives, bytes, gaps and skips
// apart.
type streams struct {
	conn      *Conn
	data      [2][]byte
	gaps      [2][]span
	skips     [2][]span
	offset    [2]uint64
	conflicts int
	reason    segment.CloseReason
	closes    int
}

func (s *streams) Data(d segment.Dir, p []byte, _ *segment.Segment) {
	s.data[d] = append(s.data[d], p...)
	s.offset[d] += uint64(len(p))
}

func (s *streams) Gap(d segment.Dir, n uint64, _ *segment.Segment) {
	s.gaps[d] = append(s.gaps[d], span{s.offset[d], n})
	s.offset[d] += n
}

func (s *streams) Skip(d segment.Dir, n uint64, _ *segment.Segment) {
	s.skips[d] = append(s.skips[d], span{s.offset[d], n})
	s.offset[d] += n
}

func (s *streams) Conflict(segment.Dir, uint64, int, *segment.Segment) { s.conflicts++ }

func (s *streams) Stall(segment.Dir, bool, *segment.Segment) {}

func (s *streams) Close(r segment.CloseReason, _ *segment.Segment) {
	s.reason, s.closes = r, s.closes+1
}

// assemble feeds segs to an Assembler and returns the one connection's
// streams.
func assemble(t *testing.T, cfg Config, segs []segment.Segment) *streams {
	t.Helper()
	var all []*streams
	a := New(cfg, func(c *Conn) Consumer {
		s := &streams{conn: c}
		all = append(all, s)
		return s
	})
	for i := range segs {
		a.Add(&segs[i])
	}
	a.Flush(time.Now())
	if len(all) != 1 || all[0].closes != 1 {
		t.Fatalf("%d connections", len(all))
	}
	return all[0]
}

// dataIndexes returns the indexes of the segments carrying payload.
func dataIndexes(segs []segment.Segment) []int {
	var idx []int
	for i, s := range segs {
		if s.PayloadLen > 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// TestCaptureMutated feeds real captures reordered, duplicated and with a
// segment dropped: the streams equal the clean ones, but for exactly the
// dropped bytes reported as a gap where they were.
func TestCaptureMutated(t *testing.T) {
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			orig := readCapture(t, name)
			cleanStreams := assemble(t, Config{ConflictWindow: 1 << 16}, slices.Clone(orig))
			if cleanStreams.reason != segment.Finished || cleanStreams.conn.MidStream {
				t.Fatalf("clean capture: %v, mid-stream %v", cleanStreams.reason, cleanStreams.conn.MidStream)
			}
			for d := range 2 {
				if len(cleanStreams.gaps[d]) != 0 || len(cleanStreams.data[d]) == 0 {
					t.Fatalf("clean capture, %v: %d bytes, gaps %v", segment.Dir(d), len(cleanStreams.data[d]), cleanStreams.gaps[d])
				}
			}
			same := func(t *testing.T, got *streams) {
				t.Helper()
				for d := range 2 {
					if !bytes.Equal(got.data[d], cleanStreams.data[d]) || len(got.gaps[d]) != 0 || len(got.skips[d]) != 0 {
						t.Fatalf("%v: %d bytes (want %d), gaps %v, skips %v", segment.Dir(d), len(got.data[d]), len(cleanStreams.data[d]), got.gaps[d], got.skips[d])
					}
				}
				if got.conflicts != 0 || got.reason != segment.Finished || got.conn.MidStream {
					t.Fatalf("%d conflicts, %v, mid-stream %v", got.conflicts, got.reason, got.conn.MidStream)
				}
			}
			r := rand.New(rand.NewPCG(7, uint64(len(orig))))
			t.Run("as is", func(t *testing.T) { same(t, assemble(t, Config{}, slices.Clone(orig))) })
			t.Run("shuffled", func(t *testing.T) {
				for _, w := range []int{2, 4, 8, len(orig)} {
					for i := range 50 {
						segs := shuffled(r, orig, w)
						t.Run(fmt.Sprintf("w%d/%d", w, i), func(t *testing.T) { same(t, assemble(t, Config{ConflictWindow: 1 << 16}, segs)) })
					}
				}
			})
			t.Run("duplicated", func(t *testing.T) {
				for i := range 50 {
					segs := duplicated(r, orig)
					t.Run(fmt.Sprint(i), func(t *testing.T) { same(t, assemble(t, Config{ConflictWindow: 1 << 16}, segs)) })
				}
			})
			for _, i := range dataIndexes(orig) {
				s := orig[i]
				d := segment.ClientToServer
				if s.Src != cleanStreams.conn.Client {
					d = segment.ServerToClient
				}
				off, n := uint64(s.Seq-firstSeq(orig, s.Src)), uint64(s.PayloadLen)
				dropped := append(slices.Clone(orig[:i]), orig[i+1:]...)
				lossCounted := slices.Clone(dropped)
				for j := i; j < len(lossCounted); j++ {
					lossCounted[j].KernelLost = 3
				}
				for _, m := range []struct {
					name string
					cfg  Config
					segs []segment.Segment
				}{
					{"dropped", Config{}, dropped},
					{"dropped/shuffled", Config{}, shuffled(r, dropped, 4)},
					{"dropped/duplicated", Config{}, duplicated(r, dropped)},
					{"dropped/kernel-lost", Config{NoAckLoss: true}, lossCounted},
					{"dropped/no-ack-loss", Config{NoAckLoss: true}, dropped},
				} {
					t.Run(fmt.Sprintf("%s/%d", m.name, i), func(t *testing.T) {
						got := assemble(t, m.cfg, m.segs)
						want := slices.Concat(cleanStreams.data[d][:off], cleanStreams.data[d][off+n:])
						if !bytes.Equal(got.data[d], want) {
							t.Errorf("%v: %d bytes, want %d", d, len(got.data[d]), len(want))
						}
						if diff := cmp.Diff([]span{{off, n}}, got.gaps[d]); diff != "" {
							t.Errorf("%v gaps (-want +got)\n%s", d, diff)
						}
						if !bytes.Equal(got.data[1-d], cleanStreams.data[1-d]) || len(got.gaps[1-d]) != 0 {
							t.Errorf("%v: %d bytes, gaps %v", 1-d, len(got.data[1-d]), got.gaps[1-d])
						}
						if got.reason != segment.Finished {
							t.Errorf("closed: %v", got.reason)
						}
					})
				}
			}
		})
	}
}

// TestCaptureSnapped feeds real captures with every payload cut to a
// snapshot length, in order and reordered: the bytes captured are the clean
// stream's, and exactly the bytes cut are skipped, where they were; nothing
// is lost.
func TestCaptureSnapped(t *testing.T) {
	const snap = 50
	for _, name := range captures {
		t.Run(name, func(t *testing.T) {
			orig := readCapture(t, name)
			clean := assemble(t, Config{}, slices.Clone(orig))
			cutSegs := slices.Clone(orig)
			var want [2][]byte
			var wantSkips [2][]span
			for i := range cutSegs {
				s := &cutSegs[i]
				if len(s.Payload) <= snap {
					continue
				}
				d := segment.ClientToServer
				if s.Src != clean.conn.Client {
					d = segment.ServerToClient
				}
				off := uint64(s.Seq - firstSeq(orig, s.Src))
				wantSkips[d] = append(wantSkips[d], span{off + snap, uint64(s.PayloadLen - snap)})
				s.Payload = s.Payload[:snap]
			}
			for d := range 2 {
				slices.SortFunc(wantSkips[d], func(a, b span) int { return int(a.Off) - int(b.Off) })
				at := uint64(0)
				for _, sk := range wantSkips[d] {
					want[d] = append(want[d], clean.data[d][at:sk.Off]...)
					at = sk.Off + sk.N
				}
				want[d] = append(want[d], clean.data[d][at:]...)
			}
			if len(wantSkips[0])+len(wantSkips[1]) == 0 {
				t.Fatalf("no payload above %d bytes", snap)
			}
			r := rand.New(rand.NewPCG(3, uint64(len(orig))))
			for i := range 20 {
				segs := cutSegs
				if i > 0 {
					segs = shuffled(r, cutSegs, 4)
				}
				got := assemble(t, Config{ConflictWindow: 1 << 16}, segs)
				for d := range 2 {
					if !bytes.Equal(got.data[d], want[d]) || len(got.gaps[d]) != 0 {
						t.Fatalf("order %d, %v: %d bytes (want %d), gaps %v", i, segment.Dir(d), len(got.data[d]), len(want[d]), got.gaps[d])
					}
					if diff := cmp.Diff(wantSkips[d], got.skips[d]); diff != "" {
						t.Fatalf("order %d, %v skips (-want +got)\n%s", i, segment.Dir(d), diff)
					}
				}
				if got.conflicts != 0 || got.reason != segment.Finished {
					t.Fatalf("order %d: %d conflicts, %v", i, got.conflicts, got.reason)
				}
			}
		})
	}
}

// firstSeq returns the sequence number of the first payload byte src sent.
func firstSeq(segs []segment.Segment, src interface{ String() string }) uint32 {
	for _, s := range segs {
		if s.Has(segment.SYN) && s.Src.String() == src.String() {
			return s.Seq + 1
		}
	}
	panic("no SYN")
}

// shuffled returns segs reordered within a window of w, the handshake kept
// first, in an order a capture point can see (see causalOrder).
func shuffled(r *rand.Rand, segs []segment.Segment, w int) []segment.Segment {
	const hs = 3
	return append(slices.Clone(segs[:hs]), causalOrder(segs[hs:], shuffleWindow(r, len(segs)-hs, w))...)
}

// duplicated returns segs with each payload segment also sent again a few
// segments later, some cut to overlap only in part.
func duplicated(r *rand.Rand, segs []segment.Segment) []segment.Segment {
	later := make([][]segment.Segment, len(segs)+4)
	var out []segment.Segment
	for i, s := range segs {
		out = append(out, s)
		if s.PayloadLen > 0 {
			if cut := r.IntN(3); cut > 0 && s.PayloadLen > 2 {
				k := r.IntN(s.PayloadLen - 1)
				if cut == 1 { // the head
					s.Payload, s.PayloadLen = s.Payload[:k+1], k+1
				} else { // the tail
					s.Payload, s.PayloadLen, s.Seq = s.Payload[k:], s.PayloadLen-k, s.Seq+uint32(k)
				}
			}
			j := i + r.IntN(4)
			later[j] = append(later[j], s)
		}
		out = append(out, later[i]...)
	}
	for _, l := range later[len(segs):] {
		out = append(out, l...)
	}
	return out
}
