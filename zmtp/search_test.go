package zmtp

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
)

// manyMessages is a ZMTP 3.1 NULL stream: greeting, READY, then n
// messages "0", "1", ... and where offsets of each message start.
func manyMessages(n int) (stream []byte, starts []uint64) {
	stream = prefix()
	for i := range n {
		starts = append(starts, uint64(len(stream)))
		body := []byte{byte('0' + i%10), byte('a' + i%26)}
		if i%7 == 3 {
			stream = append(stream, frame(flagMore, []byte("part"))...)
		}
		stream = append(stream, frame(0, body)...)
	}
	return stream, starts
}

func TestResyncAfterGap(t *testing.T) {
	stream, starts := manyMessages(60)
	clean := run(Options{}, stream)
	for _, tc := range []struct {
		name     string
		at, n    uint64
		wantOff  uint64
		wantSkip uint64
	}{
		// Lost: message 3 whole. The chain from message 4 on needs 24
		// bits before it believes a message start, 64 to be accepted.
		{name: "at a frame boundary", at: starts[3], n: starts[4] - starts[3]},
		{name: "in a frame header", at: starts[10] + 1, n: 1},
		{name: "from a body into the next header", at: starts[20] + 3, n: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{1, 7, len(stream)} {
				r := runGap(chunk, stream[:tc.at], tc.n, stream[tc.at+tc.n:])
				i := resyncAt(r.Events)
				if i < 0 {
					t.Fatalf("chunk %d: no resync: %d events, searching %v", chunk, len(r.Events), r.Searching)
				}
				rs := r.Events[i].(*Resync)
				if rs.Reason != ResyncGap || rs.Source != SyncSearch || !rs.MessageStart {
					t.Errorf("chunk %d: %+v, want a gap, found by search, at a message start", chunk, rs)
				}
				// Found within a few messages of the loss.
				if rs.Offset-(tc.at+tc.n) > 40 || rs.Skipped != rs.Offset-(tc.at+tc.n) {
					t.Errorf("chunk %d: resync at %d skipping %d, loss ends at %d", chunk, rs.Offset, rs.Skipped, tc.at+tc.n)
				}
				checkResynced(t, clean, r.Events[i:], tc.at+tc.n)
				// Every message from the resync on is there.
				n := 0
				for _, s := range starts {
					if s >= rs.Offset {
						n++
					}
				}
				if got := countMessages(r.Events[i:]); got != n {
					t.Errorf("chunk %d: %d messages after the resync at %d, want %d", chunk, got, rs.Offset, n)
				}
			}
		})
	}
}

func countMessages(events []Event) int {
	n := 0
	for _, e := range events {
		if _, ok := e.(*Message); ok {
			n++
		}
	}
	return n
}

// joinAt joins stream s mid-stream at offset cut, fed at once, and returns
// the events, their offsets counted from the stream's start, and the
// decoder.
func joinAt(s []byte, cut int) ([]Event, *Decoder) {
	d := NewDecoder(Options{})
	d.JoinMidStream()
	var got []Event
	d.Feed(s[cut:], func(e Event) {
		e = cloneEvent(e)
		e.EventHeader().Offset += uint64(cut)
		got = append(got, e)
	})
	return got, d
}

func TestJoinMidStream(t *testing.T) {
	stream, _ := manyMessages(40)
	clean := run(Options{}, stream)
	for cut := 0; cut < len(stream)-300; cut++ {
		got, d := joinAt(stream, cut)
		i := resyncAt(got)
		if i != 0 {
			t.Fatalf("cut %d: resync at event %d of %d", cut, i, len(got))
		}
		if rs := got[0].(*Resync); rs.Reason != ResyncMidStream || rs.Offset-uint64(cut) > 300 {
			t.Fatalf("cut %d: %+v", cut, rs)
		}
		checkResynced(t, clean, got, uint64(cut))
		if !d.Joined() || d.Resyncs() != 1 {
			t.Errorf("cut %d: Joined() %v, Resyncs() %d", cut, d.Joined(), d.Resyncs())
		}
	}
}

// TestJoinInfers checks what a joined direction infers from its traffic,
// and that nothing else is claimed.
func TestJoinInfers(t *testing.T) {
	var s []byte
	for range 20 {
		s = append(s, command("PING", hx("00 0a"))...)
		s = append(s, frame(0, []byte("m"))...)
	}
	s = append(s, command("SUBSCRIBE", []byte("topic"))...)
	c := NewConn(Options{})
	c.JoinMidStream(segment.ClientToServer)
	c.JoinMidStream(segment.ServerToClient)
	c.Feed(segment.ClientToServer, s[3:], nil)
	var sum *Connection
	c.Close(segment.Finished, func(_ segment.Dir, e Event) {
		if x, ok := e.(*Connection); ok {
			sum = x
		}
	})
	side := sum.Sides[segment.ClientToServer]
	if !side.Joined || side.Greeted || side.Major != 3 || side.Minor != 1 || side.SocketType != "SUB|XSUB" || side.Mechanism != "" {
		t.Errorf("client side %+v: want joined, 3.1 and SUB|XSUB inferred, mechanism unknown", side)
	}
	if diff := cmp.Diff([]string{"version", "socket_type"}, side.Inferred.Names()); diff != "" {
		t.Errorf("inferred (-want +got):\n%s", diff)
	}
	if o := sum.Sides[segment.ServerToClient]; !o.Joined || o.Major != 0 || o.Inferred != 0 {
		t.Errorf("silent server side %+v: want joined, nothing inferred", o)
	}
}

// TestBoundaryResumes: a boundary marked by the capture ends the search at
// once, at that byte.
func TestBoundaryResumes(t *testing.T) {
	stream, starts := manyMessages(10)
	clean := run(Options{}, stream)
	for _, msgStart := range []bool{true, false} {
		d := NewDecoder(Options{})
		var got []Event
		emit := func(e Event) { got = append(got, cloneEvent(e)) }
		d.Feed(stream[:starts[2]], emit)
		d.Gap(starts[5]-starts[2]+1, emit)
		d.Feed(stream[starts[5]+1:starts[6]], emit)
		if !d.Searching() {
			t.Fatal("not searching after the gap")
		}
		d.Boundary(msgStart, emit)
		d.Feed(stream[starts[6]:], emit)
		i := resyncAt(got)
		want := &Resync{Header: Header{Offset: starts[6]}, Reason: ResyncGap, Source: SyncKernel, Skipped: starts[6] - starts[5] - 1, MessageStart: msgStart}
		if diff := cmp.Diff(want, got[i]); diff != "" {
			t.Fatalf("resync (-want +got):\n%s", diff)
		}
		checkResynced(t, clean, got[i:], starts[5]+1)
		n := 10 - 6
		if !msgStart {
			n-- // the message at the boundary might be a continuation: dropped
		}
		if c := countMessages(got[i:]); c != n {
			t.Errorf("msgStart %v: %d messages after the boundary, want %d", msgStart, c, n)
		}
	}
}

// TestSearchRandom is the false-sync rate: nothing decoded from 100 MiB of
// random bytes searched in 8 MiB streams joined mid-stream; and a search
// that finds nothing stops after 16 MiB (the rest is only counted, until a
// mark), while one after a gap goes on up to that bound.
func TestSearchRandom(t *testing.T) {
	size := 100 << 20
	if testing.Short() {
		size = 8 << 20
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 64<<10)
	fill := func() {
		for i := 0; i < len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
		}
	}
	for n := 0; n < size; n += 8 << 20 {
		d := NewDecoder(Options{})
		d.JoinMidStream()
		for k := 0; k < 8<<20; k += len(buf) {
			fill()
			d.Feed(buf, func(e Event) { t.Fatalf("stream %d: %T %+v from random bytes", n>>23, e, e) })
		}
	}
	d := NewDecoder(Options{})
	d.JoinMidStream()
	g := NewDecoder(Options{})
	g.Feed(prefix(), nil)
	g.Gap(1, nil)
	events := 0
	count := func(Event) { events++ }
	for n := 0; n < 24<<20; n += len(buf) {
		fill()
		d.Feed(buf, count)
		if n < 12<<20 {
			g.Feed(buf, count)
		}
	}
	if events != 0 || !d.Searching() || !d.search.stopped || d.search.buf != nil || !g.Searching() || g.search.stopped {
		t.Fatalf("%d events; joined: searching %v, stopped %v; after a gap: searching %v, stopped %v; want no event, the joined one stopped after 16 MiB",
			events, d.Searching(), d.search.stopped, g.Searching(), g.search.stopped)
	}
	// A stopped search still resumes at a boundary the capture marks.
	var got []Event
	d.Boundary(true, func(e Event) { got = append(got, cloneEvent(e)) })
	d.Feed(frame(0, []byte("1")), func(e Event) { got = append(got, cloneEvent(e)) })
	if len(got) != 2 || countMessages(got) != 1 {
		t.Errorf("after a mark: %+v, want a resync and the message", got)
	}
}

// TestSearchCurve: CURVE MESSAGE frames carry random boxes; a join at any
// offset must decode nothing the clean stream does not have.
func TestSearchCurve(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := greeting3(3, 0, "CURVE", false)
	for range 300 {
		box := make([]byte, 17+rng.IntN(400))
		for i := range box {
			box[i] = byte(rng.Uint32())
		}
		body := append([]byte(curveMessagePrefix+"noncenon"), box...)
		f := byte(0)
		if len(body) > 255 {
			f = flagLong
		}
		s = append(s, frame(f, body)...)
	}
	clean := run(Options{}, s)
	synced := 0
	for range 500 {
		cut := 64 + rng.IntN(len(s)-64)
		got, _ := joinAt(s, cut)
		if len(got) == 0 {
			continue
		}
		synced++
		// The clean decode knew the mechanism from the greeting; the
		// joined one inferred it: the messages are equal.
		checkResynced(t, clean, got, uint64(cut))
	}
	if synced < 475 {
		t.Errorf("synced on %d of 500 cuts", synced)
	}
}

// BenchmarkSearch is the search's cost per byte scanned, on random bytes
// (no boundary to be found) and on a message stream joined mid-stream.
func BenchmarkSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := make([]byte, 1<<20)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	b.Run("random", func(b *testing.B) {
		d := NewDecoder(Options{})
		d.JoinMidStream()
		b.SetBytes(int64(len(random)))
		for b.Loop() {
			d.Feed(random, nil)
		}
	})
	zeros := make([]byte, 1<<20)
	b.Run("zeros", func(b *testing.B) {
		d := NewDecoder(Options{})
		d.JoinMidStream()
		b.SetBytes(int64(len(zeros)))
		for b.Loop() {
			d.Feed(zeros, nil)
		}
	})
}

// FuzzResync builds a valid ZMTP 3.1 stream from the input (its bytes pick
// frame kinds and sizes), loses a stretch of it and checks that every event
// after the resync equals the clean decode's event at that offset: no
// garbage, ever. The first four bytes pick where the loss starts and how
// long it is.
func FuzzResync(f *testing.F) {
	f.Add([]byte{10, 0, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte{0, 1, 40, 0, 0xff, 0x80, 0x41, 0x05, 0x10, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 4 {
			return
		}
		s := prefix()
		for i, b := range data[4:] {
			body := make([]byte, int(b)%40)
			for j := range body {
				body[j] = byte(i*31 + j*7) // binary bodies, zeros and flag-like bytes included
			}
			switch b >> 6 {
			case 0:
				s = append(s, frame(0, body)...)
			case 1:
				s = append(s, frame(flagMore, body)...)
			case 2:
				s = append(s, command("PING", hx("00 0a"))...)
			default:
				s = append(s, frame(flagLong, append(body, make([]byte, 256)...))...)
			}
		}
		// The stream may end inside a multipart message: that is fine.
		at := (int(data[0]) | int(data[1])<<8) % len(s)
		n := (int(data[2]) | int(data[3])<<8) % (len(s) - at + 1)
		whole := run(Options{}, s)
		r := runGap(len(s), s[:at], uint64(n), s[at+n:])
		if r.Err != nil {
			t.Fatalf("error after a loss in a valid stream: %v", r.Err)
		}
		if i := resyncAt(r.Events); i >= 0 {
			checkResynced(t, whole, r.Events[i:], uint64(at+n))
		}
		r1 := runGap(1, s[:at], uint64(n), s[at+n:])
		diffResults(t, "bytewise", r, r1)
	})
}

// TestSearchStructuredBodies joins streams whose bodies are structured the
// way real payloads are (little integers, UTF-16 text, zero padding), at
// random offsets inside a large body and before a multipart message whose
// later frames must never be shown as a whole message: only events of the
// clean decode, at their offsets, may come out.
func TestSearchStructuredBodies(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	bodies := map[string]func(n int) []byte{
		"le-uint32": func(n int) []byte {
			b := make([]byte, 0, n)
			for len(b) < n {
				b = binary.LittleEndian.AppendUint32(b, uint32(rng.IntN(200)))
			}
			return b[:n]
		},
		"be-uint32": func(n int) []byte {
			b := make([]byte, 0, n)
			for len(b) < n {
				b = binary.BigEndian.AppendUint32(b, uint32(rng.IntN(200)))
			}
			return b[:n]
		},
		"be-uint16": func(n int) []byte {
			b := make([]byte, 0, n)
			for len(b) < n {
				b = binary.BigEndian.AppendUint16(b, uint16(rng.Uint32()))
			}
			return b[:n]
		},
		"utf16be": func(n int) []byte {
			b := make([]byte, 0, n)
			for len(b) < n {
				b = append(b, 0, byte('a'+rng.IntN(26)))
			}
			return b[:n]
		},
		"zero-padded": func(n int) []byte {
			b := make([]byte, n)
			for i := 0; i < n; i += 16 {
				b[i] = byte(rng.IntN(256))
			}
			return b
		},
	}
	for name, gen := range bodies {
		t.Run(name, func(t *testing.T) {
			s := prefix()
			big := len(s)
			s = append(s, frame(flagLong, gen(4096))...)
			for i := range 30 {
				if i%3 == 0 {
					// A multipart message with a structured first frame.
					s = append(s, frame(flagMore|flagLong, gen(300))...)
					s = append(s, frame(flagMore, []byte("second"))...)
					s = append(s, frame(0, []byte("third"))...)
				} else {
					s = append(s, frame(0, gen(1+rng.IntN(60)))...)
				}
			}
			clean := run(Options{}, s)
			synced := 0
			defer func() {
				// The search must still find the real frames after the body.
				if synced < 150 {
					t.Errorf("synced on %d of 300 cuts", synced)
				}
			}()
			for range 300 {
				cut := big + 9 + rng.IntN(4096)
				got, d := joinAt(s, cut)
				if d.Err() != nil {
					t.Fatalf("cut %d: %v", cut, d.Err())
				}
				if resyncAt(got) == 0 {
					synced++
				}
				checkResynced(t, clean, got, uint64(cut))
			}
		})
	}
}
