package session

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// fakeCounter is a capture in count mode: its kernel counts are what the
// test says, and it remembers what it was told.
type fakeCounter struct {
	now     segment.Counts // DirCounts of every direction
	ships   map[netip.AddrPort]bool
	forgot  int
	noState bool // DirCounts: not followed
}

func (f *fakeCounter) Join(loader.JoinPoint) error { return nil }
func (f *fakeCounter) CountOnly() bool             { return true }
func (f *fakeCounter) DirCounts(loader.JoinPoint) (loader.DirCounts, error) {
	if f.noState {
		return loader.DirCounts{}, loader.ErrNotFollowed
	}
	return loader.DirCounts{Counts: f.now}, nil
}
func (f *fakeCounter) ShipMessages(p loader.JoinPoint, on bool) error {
	if f.ships == nil {
		f.ships = map[netip.AddrPort]bool{}
	}
	f.ships[p.Src] = on
	return nil
}
func (f *fakeCounter) ForgetDir(loader.JoinPoint) error { f.forgot++; return nil }
func (f *fakeCounter) EachDirCounts(fn func(loader.JoinPoint, loader.DirCounts)) error {
	fn(loader.JoinPoint{Src: netip.MustParseAddrPort("127.0.0.1:40000"), Dst: netip.MustParseAddrPort("127.0.0.1:7001")}, loader.DirCounts{Counts: f.now})
	return nil
}

// countFeed feeds one direction of a session as the assembler would with
// count mode's segments: it keeps conn.Next, and each segment's Seq and
// PayloadLen.
type countFeed struct {
	t   *testing.T
	s   *session
	d   segment.Dir
	seq uint32
	at  time.Time
}

// kept delivers p, marked (a frame header starts it) if mark, as a whole
// segment with counts k.
func (f *countFeed) kept(p []byte, mark, msgStart bool, k segment.Counts) {
	seg := &segment.Segment{Time: f.at, Seq: f.seq, PayloadLen: len(p), Payload: p, Counts: k}
	f.s.conn.Next[f.d] = f.seq
	if mark {
		seg.Boundary = segment.Boundary{Valid: true, MessageStart: msgStart}
		f.s.Boundary(f.d, seg.Boundary, seg)
	}
	f.s.Data(f.d, p, seg)
	f.seq += uint32(len(p))
}

// elided delivers a segment of n bytes left out whole, with counts k.
func (f *countFeed) elided(n int, k segment.Counts) {
	k.Whole = true
	seg := &segment.Segment{Time: f.at, Seq: f.seq, PayloadLen: n, Counts: k}
	f.s.conn.Next[f.d] = f.seq
	f.s.Skip(f.d, uint64(n), seg)
	f.seq += uint32(n)
}

// lost reports n bytes lost (records the ring dropped).
func (f *countFeed) lost(n int) {
	seg := &segment.Segment{Time: f.at, Seq: f.seq}
	f.s.conn.Next[f.d] = f.seq
	f.s.Gap(f.d, uint64(n), seg)
	f.seq += uint32(n)
}

func cmdFrame(body string) []byte { return append([]byte{0x04, byte(len(body))}, body...) }

// TestCountModeSession feeds a session what count mode ships of a PUSH:
// the greeting and READY, runs of messages left out whole with the
// kernel's counts, a PING between them, a ring loss that took records, and
// the FIN's final counts read from the kernel. The messages and bytes of
// the summary, the -q row, are the kernel's, exactly; nothing prints a
// gap, a resync or an error but the loss; counts(d) adds what the kernel
// counted since.
func TestCountModeSession(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	for _, loss := range []bool{false, true} {
		var buf bytes.Buffer
		out := newSink(output.NewText(&buf, output.Options{Location: time.UTC}))
		out.collect = true
		fc := &fakeCounter{}
		s := newSession(&flows.Conn{Client: cli, Server: srv}, out, zmtp.Options{}, nil)
		s.joiner = fc
		f := &countFeed{t: t, s: s, d: segment.ClientToServer, seq: 1000, at: time.Unix(1, 0)}
		k := segment.Counts{Valid: true}
		f.kept(greeting, false, false, k)
		ready := cmdFrame("\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH")
		k.Frames++
		f.kept(ready, true, true, k)
		// 1000 messages of 64 bytes, 66 bytes a frame, in three runs.
		for i, n := range []int{400, 350, 250} {
			k.Messages += uint64(n)
			k.Frames += uint64(n)
			k.Bytes += uint64(64 * n)
			if loss && i == 1 {
				f.lost(66 * n) // the record of this run, lost
			} else {
				f.elided(66*n, k)
			}
			if i == 0 {
				k.Frames++
				k.Commands[zmtp.CountPing]++
				f.kept(cmdFrame("\x04PING\x00\x0a"), true, true, k)
			}
		}
		// A PONG after the runs: a direction that lost its place
		// resumes at its mark.
		k.Frames++
		k.Commands[zmtp.CountPong]++
		f.kept(cmdFrame("\x04PONG"), true, true, k)
		if c := s.counts(segment.ClientToServer); c.Messages != 1000 || c.Frames != 1003 || c.Bytes != 64000 {
			t.Errorf("loss %v: counts %+v, want 1000 messages, 1003 frames, 64000 bytes", loss, c)
		}
		fc.now = k
		fc.now.Messages += 5 // five more the records have not brought yet
		fc.now.Bytes += 5 * 64
		fc.now.Frames += 5
		if c := s.counts(segment.ClientToServer); c.Messages != 1005 || c.Bytes != 1005*64 || c.Commands != [4]uint64{1, 1, 0, 0} {
			t.Errorf("loss %v: counts(d) %+v, want 1005 messages of 64 bytes, a PING and a PONG", loss, c)
		}
		// The metrics (review M5): a loss the kernel's counts covered
		// is no data loss, gap or resync there (the summary keeps it).
		if st := s.metricState(func(s *session, d segment.Dir) zmtp.Counts { return s.counts(d) }); st.Gaps != [2]uint64{} || st.Lost != [2]uint64{} || st.Resyncs != [2]uint64{} {
			t.Errorf("loss %v: metrics gaps %v, lost %v, resyncs %v; want none", loss, st.Gaps, st.Lost, st.Resyncs)
		}
		s.Close(segment.Finished, &segment.Segment{Time: f.at, Src: cli, Dst: srv, Flags: segment.FIN})
		if err := out.flush(); err != nil {
			t.Fatal(err)
		}
		convs := out.conversations()
		if len(convs) != 1 {
			t.Fatalf("%d conversations", len(convs))
		}
		side := convs[0].Summary.Sides[segment.ClientToServer]
		if side.Messages != 1005 || side.MessageBytes != 1005*64 || side.Err != nil {
			t.Errorf("loss %v: summary %d messages, %d bytes, error %v; want 1005, %d, none\n%s", loss, side.Messages, side.MessageBytes, side.Err, 1005*64, buf.String())
		}
		resyncs := side.Resyncs
		if !loss && (convs[0].Gaps != [2]uint64{} || resyncs != 0) {
			t.Errorf("no loss: gaps %v, resyncs %d\n%s", convs[0].Gaps, resyncs, buf.String())
		}
		if loss && (convs[0].Gaps[0] != 1 || resyncs != 1) {
			t.Errorf("loss: gaps %v, resyncs %d: want the one loss\n%s", convs[0].Gaps, resyncs, buf.String())
		}
		if fc.forgot != 2 {
			t.Errorf("the kernel was told to forget %d directions, want 2", fc.forgot)
		}
	}
}

// TestCountModeShips checks that the kernel is told to leave out the
// messages of the senders whose messages userspace does not need (a PUSH
// here), not those of a REQ, and to ship them again (forget) at the close.
func TestCountModeShips(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	out := newSink(output.NewText(&bytes.Buffer{}, output.Options{Location: time.UTC}))
	fc := &fakeCounter{noState: true}
	s := newSession(&flows.Conn{Client: cli, Server: srv}, out, zmtp.Options{}, nil)
	s.joiner = fc
	for d, typ := range []string{"REQ", "PUSH"} {
		f := &countFeed{t: t, s: s, d: segment.Dir(d), seq: 1000, at: time.Unix(1, 0)}
		k := segment.Counts{Valid: true}
		f.kept(greeting, false, false, k)
		k.Frames++
		f.kept(cmdFrame("\x05READY\x0bSocket-Type\x00\x00\x00"+string(rune(len(typ)))+typ), true, true, k)
	}
	if on, told := fc.ships[srv]; !told || on {
		t.Errorf("the PUSH's direction: told %v, ship %v; want told to leave its messages out", told, on)
	}
	if _, told := fc.ships[cli]; told {
		t.Errorf("the REQ's direction was told: %v", fc.ships)
	}
	s.Close(segment.Finished, &segment.Segment{Time: time.Unix(2, 0)})
	if !fc.ships[srv] {
		t.Errorf("the PUSH's direction not shipped again (forgotten) at the close")
	}
}

// TestCountsIn reads the kernel's counts of a scrape from one batch.
func TestCountsIn(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	s := newSession(&flows.Conn{Client: cli, Server: srv}, newSink(output.NewText(&bytes.Buffer{}, output.Options{})), zmtp.Options{}, nil)
	f := &countFeed{t: t, s: s, d: segment.ClientToServer, seq: 1000, at: time.Unix(1, 0)}
	k := segment.Counts{Valid: true}
	k.Frames, k.Messages, k.Bytes = 11, 10, 640
	fc := &fakeCounter{now: segment.Counts{Valid: true, Frames: 21, Messages: 20, Bytes: 1280}}
	s.joiner = fc
	f.kept(greeting, false, false, segment.Counts{Valid: true})
	f.elided(660, k)
	kc := (&Pipeline{joiner: fc}).kernelCounts()
	if c := s.countsIn(segment.ClientToServer, kc); c.Messages != 20 || c.Bytes != 1280 {
		t.Errorf("countsIn %+v, want 20 messages, 1280 bytes", c)
	}
	if c := s.countsIn(segment.ClientToServer, nil); c.Messages != 10 {
		t.Errorf("countsIn without the kernel's %+v, want the records' 10 messages", c)
	}
}

// TestCountModeReordered runs count mode's segments through the
// assembler, two runs of frames left out whole arriving in the wrong
// order (as when the kernel walked the later packet first and shipped the
// earlier one as bytes it had passed over): no gap, no resync, and the
// kernel's counts: those of the held segment reach the session at the
// close, read from the kernel's state (the assembler hands held bytes over
// with the segment that filled the hole).
func TestCountModeReordered(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	var buf bytes.Buffer
	out := newSink(output.NewText(&buf, output.Options{Location: time.UTC}))
	out.collect = true
	fc := &fakeCounter{now: segment.Counts{Valid: true, Messages: 200, Frames: 201, Bytes: 12800}}
	asm := flows.New(flows.Config{}, func(c *flows.Conn) flows.Consumer {
		s := newSession(c, out, zmtp.Options{}, nil)
		s.joiner = fc
		return s
	})
	at := time.Unix(1, 0)
	const isn = 5000
	mk := func(seq uint32, flags uint8, p []byte, n int, k segment.Counts) *segment.Segment {
		return &segment.Segment{Time: at, Src: cli, Dst: srv, Seq: seq, Ack: 1, Flags: flags | segment.ACK, Window: 512, WScale: -1,
			PayloadLen: n, Payload: p, Counts: k}
	}
	asm.Add(&segment.Segment{Time: at, Src: cli, Dst: srv, Seq: isn, Flags: segment.SYN, WScale: -1})
	asm.Add(&segment.Segment{Time: at, Src: srv, Dst: cli, Seq: 900, Ack: isn + 1, Flags: segment.SYN | segment.ACK, WScale: -1})
	ready := cmdFrame("\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH")
	hs := append(append([]byte{}, greeting...), ready...)
	seq := uint32(isn + 1)
	asm.Add(mk(seq, segment.PSH, hs, len(hs), segment.Counts{Valid: true, Frames: 1}))
	seq += uint32(len(hs))
	whole := segment.Counts{Valid: true, Whole: true}
	a, b := whole, whole
	a.Messages, a.Frames, a.Bytes = 100, 101, 6400
	b.Messages, b.Frames, b.Bytes = 200, 201, 12800
	first, second := mk(seq, 0, nil, 6600, a), mk(seq+6600, segment.PSH, nil, 6600, b)
	asm.Add(second)
	asm.Add(first)
	fin := mk(seq+13200, segment.FIN, nil, 0, b)
	fin.Counts.Whole = false
	asm.Add(fin)
	asm.Add(&segment.Segment{Time: at, Src: srv, Dst: cli, Seq: 901, Ack: seq + 13201, Flags: segment.FIN | segment.ACK, WScale: -1})
	asm.Flush(at.Add(time.Hour))
	if err := out.flush(); err != nil {
		t.Fatal(err)
	}
	convs := out.conversations()
	if len(convs) != 1 {
		t.Fatalf("%d conversations\n%s", len(convs), buf.String())
	}
	side := convs[0].Summary.Sides[segment.ClientToServer]
	if side.Messages != 200 || side.MessageBytes != 12800 || side.Resyncs != 0 || side.Err != nil || convs[0].Gaps != [2]uint64{} {
		t.Errorf("summary %+v, gaps %v: want 200 messages, 12800 bytes, no resync, error or gap\n%s", side, convs[0].Gaps, buf.String())
	}
}

// TestCountSplitUnits (review C1): the kernel counts a command at its
// header and a message at its flags byte, the decoder a command at the end
// of its body and a message at the end of its size field. A record that
// ends between the two must not bring the decoder up to the kernel's
// counts (it would count the unit again when the rest comes): a SUBSCRIBE
// split after its name and a 300-byte message whose 9-byte header is split
// after the flags byte are each counted once.
func TestCountSplitUnits(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	out := newSink(output.NewText(&bytes.Buffer{}, output.Options{Location: time.UTC}))
	s := newSession(&flows.Conn{Client: cli, Server: srv}, out, zmtp.Options{}, nil)
	s.joiner = &fakeCounter{noState: true}
	f := &countFeed{t: t, s: s, d: segment.ClientToServer, seq: 1000, at: time.Unix(1, 0)}
	k := segment.Counts{Valid: true}
	f.kept(greeting, false, false, k)
	k.Frames++
	f.kept(cmdFrame("\x05READY\x0bSocket-Type\x00\x00\x00\x03SUB"), true, true, k)
	sub := cmdFrame("\x09SUBSCRIBE" + string(bytes.Repeat([]byte("t"), 200)))
	k.Frames++
	k.Commands[zmtp.CountSubscribe]++
	f.kept(sub[:12], true, true, k) // the name, not the topic
	f.kept(sub[12:], false, false, k)
	msg := append([]byte{0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x2c}, bytes.Repeat([]byte("m"), 300)...)
	k.Frames++
	k.Messages++
	k.Bytes += 300
	f.kept(msg[:1], true, true, k) // the flags byte alone
	f.kept(msg[1:], false, false, k)
	c := s.zc.Decoder(segment.ClientToServer).Counts()
	if c.Messages != 1 || c.Frames != 3 || c.Bytes != 300 || c.Commands[zmtp.CountSubscribe] != 1 {
		t.Errorf("counts %+v, want 1 message, 3 frames, 300 bytes, 1 SUBSCRIBE", c)
	}
}

// TestCountCloseReasons (review C2, C3): a connection whose ports a new
// one took (Reused) leaves the kernel's entries alone (they are the new
// connection's since its SYN), its messages shipped again; one that was
// never fed (a probe: connect and close) has its directions forgotten.
func TestCountCloseReasons(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	out := newSink(output.NewText(&bytes.Buffer{}, output.Options{Location: time.UTC}))
	fc := &fakeCounter{now: segment.Counts{Valid: true, Messages: 7, Frames: 8, Bytes: 70}}
	s := newSession(&flows.Conn{Client: cli, Server: srv}, out, zmtp.Options{}, nil)
	s.joiner = fc
	f := &countFeed{t: t, s: s, d: segment.ServerToClient, seq: 1000, at: time.Unix(1, 0)}
	k := segment.Counts{Valid: true}
	f.kept(greeting, false, false, k)
	k.Frames++
	f.kept(cmdFrame("\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB"), true, true, k)
	if on, told := fc.ships[srv]; !told || on {
		t.Fatalf("the PUB's messages not left out: %v", fc.ships)
	}
	s.Close(segment.Reused, &segment.Segment{Time: time.Unix(2, 0), Src: cli, Dst: srv, Flags: segment.SYN})
	if fc.forgot != 0 {
		t.Errorf("Reused: %d directions forgotten: the new connection's", fc.forgot)
	}
	if !fc.ships[srv] {
		t.Errorf("Reused: the PUB's direction still leaves messages out for the new connection")
	}
	if c := s.zc.Decoder(segment.ServerToClient).Counts(); c.Messages != 0 {
		t.Errorf("Reused: the new connection's counts taken: %+v", c)
	}

	fc = &fakeCounter{}
	s = newSession(&flows.Conn{Client: cli, Server: srv}, out, zmtp.Options{}, nil)
	s.joiner = fc
	s.Close(segment.Finished, &segment.Segment{Time: time.Unix(2, 0), Src: cli, Dst: srv, Flags: segment.FIN})
	if fc.forgot != 2 {
		t.Errorf("never fed: %d directions forgotten, want 2", fc.forgot)
	}
}
