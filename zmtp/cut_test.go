package zmtp_test

import (
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// stream is one direction of a real capture: its bytes and where its
// segments end.
type stream struct {
	name string
	data []byte
	ends []int // stream offsets where a segment's payload ended
}

// collector gathers the directions of a capture's connections.
type collector struct {
	streams *[]*stream
	name    string
	dirs    [2]*stream
}

func (c *collector) Data(d segment.Dir, p []byte, _ *segment.Segment) {
	s := c.dirs[d]
	if s == nil {
		s = &stream{name: c.name + []string{" c>s", " s>c"}[d]}
		c.dirs[d] = s
		*c.streams = append(*c.streams, s)
	}
	s.data = append(s.data, p...)
	s.ends = append(s.ends, len(s.data))
}
func (c *collector) Gap(segment.Dir, uint64, *segment.Segment)   {}
func (c *collector) Skip(segment.Dir, uint64, *segment.Segment)  {}
func (c *collector) Stall(segment.Dir, bool, *segment.Segment)   {}
func (c *collector) Close(segment.CloseReason, *segment.Segment) {}

// captureStreams reassembles every direction of the real captures in
// testdata/ (the ZMTP 1.0 one aside: the search does not cover 1.0).
func captureStreams(t *testing.T) []*stream {
	t.Helper()
	files, err := filepath.Glob("../testdata/*.pcap")
	lossy, err2 := filepath.Glob("../testdata/lossy/*.pcap")
	if err != nil || err2 != nil || len(files) == 0 || len(lossy) == 0 {
		t.Fatalf("no captures: %v, %v", err, err2)
	}
	files = append(files, lossy...)
	var out []*stream
	for _, f := range files {
		if filepath.Base(f) == "downgrade_zmtp10.pcap" {
			continue
		}
		r, err := pcapfile.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		asm := flows.New(flows.Config{}, func(*flows.Conn) flows.Consumer {
			return &collector{streams: &out, name: filepath.Base(f)}
		})
		var seg segment.Segment
		for {
			err := r.Next(&seg)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			asm.Add(&seg)
		}
		asm.Flush(seg.Time)
		r.Close()
	}
	return out
}

// clean decodes a whole direction alone, as the reference.
func clean(s []byte) map[uint64]zmtp.Event {
	d := zmtp.NewDecoder(zmtp.Options{})
	events := map[uint64]zmtp.Event{}
	d.Feed(s, func(e zmtp.Event) {
		if m, ok := e.(*zmtp.Message); ok {
			events[e.EventHeader().Offset] = copyMessage(m)
		}
	})
	return events
}

func copyMessage(m *zmtp.Message) *zmtp.Message {
	c := *m
	c.Frames = nil
	for _, f := range m.Frames {
		f.Data = slices.Clone(f.Data)
		c.Frames = append(c.Frames, f)
	}
	c.Topic, c.Nonce = slices.Clone(m.Topic), slices.Clone(m.Nonce)
	return &c
}

// cutOffsets are the offsets a direction is cut at: every offset of its
// first segments and of three segments in its middle.
func cutOffsets(s *stream) []int {
	var cuts []int
	add := func(from, to int) {
		for c := max(from, 1); c < min(to, len(s.data)); c++ {
			cuts = append(cuts, c)
		}
	}
	first := 0
	if len(s.ends) > 3 {
		first = s.ends[3]
	}
	add(0, max(first, 2048))
	if m := len(s.ends) / 2; m >= 5 && m+2 < len(s.ends) {
		add(s.ends[m-1], s.ends[m+2])
	}
	return cuts
}

// after counts the messages of ref that start after cut, within the
// window decoded.
func after(ref map[uint64]zmtp.Event, cut int) int {
	n := 0
	for off := range ref {
		if off > uint64(cut) && off < uint64(cut+syncWindow/2) {
			n++
		}
	}
	return n
}

// syncWindow bounds the bytes decoded after each cut: what matters is the
// sync and the messages right after it.
const syncWindow = 16 << 10

// TestCutRealCaptures joins every direction of the real captures (the
// committed ones and the Ethernet-sized ones in testdata/lossy) at every
// offset of several segments, fed in the segments it was captured in:
// every message decoded after the resync is the clean decode's message at
// that offset, equal in every field, and the bytes it takes to sync are
// reported.
func TestCutRealCaptures(t *testing.T) {
	var synced, cuts, total, worst int
	var hist [5]int // bytes to sync: <128, <256, <512, <1024, more
	for _, s := range captureStreams(t) {
		ref := clean(s.data)
		if len(ref) == 0 {
			continue // no message in this direction: nothing to check
		}
		sc, ss := 0, 0
		defer func() {
			if testing.Verbose() && sc > 0 {
				t.Logf("%s: %d of %d cuts synced (%d bytes, %d messages)", s.name, ss, sc, len(s.data), len(ref))
			}
		}()
		for _, cut := range cutOffsets(s) {
			if after(ref, cut) < 16 {
				continue // too few frames left to prove a boundary with
			}
			cuts++
			sc++
			d := zmtp.NewDecoder(zmtp.Options{})
			d.JoinMidStream()
			var resync *zmtp.Resync
			prev := cut
			for _, end := range s.ends {
				if end <= cut {
					continue
				}
				if end > cut+syncWindow {
					break
				}
				d.Feed(s.data[prev:end], func(e zmtp.Event) {
					off := e.EventHeader().Offset + uint64(cut)
					switch e := e.(type) {
					case *zmtp.Resync:
						r := *e
						resync = &r
					case *zmtp.Message:
						w, ok := ref[off]
						if !ok {
							t.Fatalf("%s cut at %d: a message at %d the clean decode does not have", s.name, cut, off)
						}
						m := copyMessage(e)
						m.Offset = off
						// The joined direction infers CURVE; its messages
						// must say all the clean ones say.
						if !reflect.DeepEqual(w, m) {
							t.Fatalf("%s cut at %d: message at %d\n got %+v\nwant %+v", s.name, cut, off, m, w)
						}
					case *zmtp.Error:
						t.Fatalf("%s cut at %d: %v", s.name, cut, e.Err)
					}
				})
				prev = end
			}
			if resync != nil {
				synced++
				ss++
				n := int(resync.Offset)
				total += n
				worst = max(worst, n)
				switch {
				case n < 128:
					hist[0]++
				case n < 256:
					hist[1]++
				case n < 512:
					hist[2]++
				case n < 1024:
					hist[3]++
				default:
					hist[4]++
				}
			}
		}
	}
	if cuts == 0 || synced < cuts*99/100 {
		t.Fatalf("%d cuts with 16 messages or more after them, %d synced", cuts, synced)
	}
	t.Logf("%d cuts of the real captures, %d synced; bytes from the cut to the resync: mean %d, worst %d; "+
		"under 128: %d, 256: %d, 512: %d, 1024: %d, more: %d", cuts, synced, total/synced, worst, hist[0], hist[1], hist[2], hist[3], hist[4])
}
