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

// countStream is a ZMTP 3.1 stream for count mode: greeting, READY, then
// messages (a multipart one among them) with PINGs, a SUBSCRIBE, a
// CANCEL, a PONG and a command of another name between them.
func countStream() (z *zmtpStream, want segment.Counts) {
	z = &zmtpStream{b: greeting3()}
	z.frame(0x04, []byte("\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH"))
	z.frame(0, []byte("hello"))
	z.frame(0, pattern(10000, 1))
	z.frame(0x04, []byte("\x04PING\x00\x0a"))
	z.frame(0x01, []byte("abc"))
	z.frame(0x01, pattern(3000, 2))
	z.frame(0, pattern(200, 3))
	z.frame(0x04, []byte("\x09SUBSCRIBEtopic"))
	for i := 0; i < 50; i++ {
		z.frame(0, pattern(64, i))
	}
	z.frame(0x04, []byte("\x06CANCELtopic"))
	z.frame(0x04, []byte("\x04PONG\x00"))
	z.frame(0x04, []byte("\x05ERROR\x03bad"))
	z.frame(0x02, pattern(40, 4)) // a long header for a short body
	z.frame(0, pattern(5000, 5))
	z.frame(0x04, []byte("\x04PING\x00\x0a"))
	want = segment.Counts{Valid: true, Messages: 55, Frames: 64, Bytes: 5 + 10000 + 3 + 3000 + 200 + 50*64 + 40 + 5000,
		Commands: [4]uint64{2, 1, 1, 1}}
	return z, want
}

// countDir is the direction of the test streams, as the kernel keys it
// (BPF_PROG_TEST_RUN hands packets in on interface 1).
var countDir = JoinPoint{Ifindex: 1, Src: netip.MustParseAddrPort("192.0.2.1:40000"), Dst: netip.MustParseAddrPort("192.0.2.2:7001")}

// countProgram loads count mode's program, with countDir's messages left
// out (ShipMessages false) if elide: told after the SYN (frames[0] of
// runFrames), which clears an old connection's entry.
func countProgram(t *testing.T, elide bool) (*countRun, *Capture) {
	t.Helper()
	p := loadTestProgram(t, Config{Ports: []uint16{7001}, FrameKeep: framingKeep, CountOnly: true}, true, 14, 0, 1<<16)
	c := &Capture{sets: map[int]*bpf.CaptureObjects{14: &p.objs}, first: &p.objs, counting: true}
	return &countRun{testProgram: p, c: c, elide: elide}, c
}

// countRun is count mode's program, told to leave countDir's messages out
// after the first frame it runs if elide.
type countRun struct {
	*testProgram
	c     *Capture
	elide bool
}

func (r *countRun) runFrames(t *testing.T, frames [][]byte) {
	t.Helper()
	if r.elide && len(frames) > 0 {
		r.testProgram.runFrames(t, frames[:1])
		if err := r.c.ShipMessages(countDir, false); err != nil {
			t.Fatal(err)
		}
		r.elide = false
		frames = frames[1:]
	}
	r.testProgram.runFrames(t, frames)
}

// runFrames runs p's ingress program on frames.
func (p *testProgram) runFrames(t *testing.T, frames [][]byte) {
	t.Helper()
	for _, f := range frames {
		if _, err := p.objs.CaptureIngress.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatal(err)
		}
	}
}

// runCounting runs count mode's program on frames of countDir, whose
// messages it leaves out, and returns the records and counters.
func runCounting(t *testing.T, frames [][]byte) ([]segment.Segment, Stats) {
	t.Helper()
	p, _ := countProgram(t, true)
	p.runFrames(t, frames)
	segs := p.records(t, 50*time.Millisecond)
	st, err := readCounters(&p.objs)
	if err != nil {
		t.Fatal(err)
	}
	return segs, st
}

// TestCountModeLeavesMessagesOut runs count mode on a stream cut into
// packets anywhere (inside headers and command names too): only the
// greeting and the commands are shipped, every record says its left-out
// bytes are whole frames, kept commands are marked, and the counts of the
// last record are the stream's, exactly.
func TestCountModeLeavesMessagesOut(t *testing.T) {
	requireBPF(t)
	z, want := countStream()
	for _, cuts := range [][]int{nil, {11, z.heads[2][0] + 4, z.heads[3][0] + 3, z.heads[7][0] + 1, z.heads[7][0] + 5}} {
		frames, _ := packets(t, z.b, cuts)
		segs, st := runCounting(t, frames)
		have := kept(t, segs, z.b)
		for i := 0; i < 64; i++ {
			if !have[i] {
				t.Fatalf("greeting byte %d left out", i)
			}
		}
		for i, h := range z.heads {
			cmd := z.b[h[0]]&0x04 != 0
			if have[h[0]] != cmd {
				t.Errorf("cuts %v: header %d at %d (command %v) kept %v", cuts, i, h[0], cmd, have[h[0]])
			}
		}
		for _, b := range z.bodies {
			for i := b[0]; i < b[0]+b[1]; i++ {
				if have[i] {
					t.Fatalf("cuts %v: message body byte at %d kept", cuts, i)
				}
			}
		}
		starts := map[int]bool{}
		for _, h := range z.heads {
			starts[h[0]] = true
		}
		var last segment.Segment
		for _, s := range segs {
			if s.Has(segment.SYN) {
				continue
			}
			if s.PayloadLen > len(s.Payload) && !s.Counts.Whole {
				t.Errorf("record at %d leaves %d bytes out, not marked whole", s.Seq, s.PayloadLen-len(s.Payload))
			}
			if off := int(s.Seq - framingISN - 1); len(s.Payload) > 0 && starts[off] && (!s.Boundary.Valid || s.Boundary.Offset != 0) {
				t.Errorf("record of kept bytes at header %d: mark %+v", off, s.Boundary)
			}
			last = s
		}
		w := want
		if cuts != nil {
			// The first PING and the SUBSCRIBE are cut in their names.
			w.Commands[0]--
			w.Commands[2]--
			w.Unnamed = 2
		}
		got := last.Counts
		got.Whole = false
		if got != w {
			t.Errorf("cuts %v: counts %+v, want %+v", cuts, last.Counts, w)
		}
		if st.Unframed != 0 {
			t.Errorf("%d flows given up", st.Unframed)
		}
		var ring uint64
		for _, s := range segs {
			ring += uint64(hdrLenCount + len(s.Payload))
		}
		if st.RingBytes != ring || ring > uint64(len(z.b))/4 {
			t.Errorf("ring bytes: kernel %d, records %d, of a %d-byte stream", st.RingBytes, ring, len(z.b))
		}
		t.Logf("cuts %v: %d records, %d ring bytes for %d stream bytes", cuts, len(segs), ring, len(z.b))
	}
}

// TestCountModeQuietAcks checks which packets without payload count mode
// ships: not a pure ACK without news, but a zero window, the window that
// opens again, a probe (one before the next byte) and the FIN, which
// carries the direction's counts.
func TestCountModeQuietAcks(t *testing.T) {
	requireBPF(t)
	z, want := countStream()
	frames, _ := packets(t, z.b, nil)
	end := framingISN + 1 + uint32(len(z.b))
	ack := func(f frameSpec) []byte {
		f.sport, f.dport = 40000, 7001
		return buildFrame(t, f)
	}
	frames = append(frames,
		ack(frameSpec{flags: segment.ACK, seq: end}),                // quiet
		ack(frameSpec{flags: segment.ACK, seq: end, zeroWin: true}), // zero window
		ack(frameSpec{flags: segment.ACK, seq: end, zeroWin: true}), // still zero
		ack(frameSpec{flags: segment.ACK, seq: end}),                // opens
		ack(frameSpec{flags: segment.ACK, seq: end}),                // quiet
		ack(frameSpec{flags: segment.ACK, seq: end - 1}),            // probe
		ack(frameSpec{flags: segment.ACK | segment.FIN, seq: end}))  // FIN
	segs, st := runCounting(t, frames)
	var empty []segment.Segment
	for _, s := range segs {
		if s.PayloadLen == 0 && !s.Has(segment.SYN) {
			empty = append(empty, s)
		}
	}
	if len(empty) != 5 || st.QuietAcks != 2 {
		t.Fatalf("%d records without payload (want 5: two zero windows, the opening, the probe, the FIN), %d quiet ACKs (want 2)", len(empty), st.QuietAcks)
	}
	fin := empty[4]
	if !fin.Has(segment.FIN) {
		t.Fatalf("last record %+v, want the FIN", fin)
	}
	got := fin.Counts
	got.Whole = false
	if got != want {
		t.Errorf("FIN counts %+v, want %+v", fin.Counts, want)
	}
}

// TestCountModeState reads the kernel's counts of a direction it follows
// (DirCounts, EachDirCounts) and forgets it (ForgetDir).
func TestCountModeState(t *testing.T) {
	requireBPF(t)
	z, want := countStream()
	frames, _ := packets(t, z.b, nil)
	p, c := countProgram(t, true)
	p.runFrames(t, frames)
	p.records(t, 50*time.Millisecond)
	dir := countDir
	got, err := c.DirCounts(dir)
	if err != nil {
		t.Fatalf("DirCounts %v: %v", dir, err)
	}
	if got.Counts != want || got.LastNs == 0 || got.Joined || got.InMessage {
		t.Errorf("DirCounts %+v, want %+v", got, want)
	}
	n := 0
	if err := c.EachDirCounts(func(p JoinPoint, dc DirCounts) {
		n++
		if p != dir || dc.Counts != want {
			t.Errorf("EachDirCounts: %v %+v, want %v %+v", p, dc, dir, want)
		}
	}); err != nil || n != 1 {
		t.Errorf("EachDirCounts: %d directions, %v", n, err)
	}
	if err := c.ForgetDir(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DirCounts(dir); !errors.Is(err, ErrNotFollowed) {
		t.Errorf("DirCounts after ForgetDir: %v, want ErrNotFollowed", err)
	}
}

// TestCountModeReady checks who decides to leave a direction's messages
// out. Not named in the elide map, a PUSH's are shipped until its READY
// (whose Socket-Type the kernel reads), then left out from the next
// packet on; a REQ's are shipped, until userspace names the direction
// (ShipMessages false). Both are counted all along.
func TestCountModeReady(t *testing.T) {
	requireBPF(t)
	z, want := countStream()
	frames, offs := packets(t, z.b, nil)
	p, c := countProgram(t, false)
	p.runFrames(t, frames)
	have := kept(t, p.records(t, 50*time.Millisecond), z.b)
	for _, h := range z.heads {
		if inFirst := h[0] < offs[2]; have[h[0]] != (inFirst || z.b[h[0]]&0x04 != 0) {
			t.Errorf("PUSH: header at %d kept %v: want the first packet's and the commands'", h[0], have[h[0]])
		}
	}
	if got, err := c.DirCounts(countDir); err != nil || got.Counts != want {
		t.Errorf("PUSH: counts %+v, %v; want %+v", got, err, want)
	}

	req := &zmtpStream{b: greeting3()}
	req.frame(0x04, []byte("\x05READY\x0bSocket-Type\x00\x00\x00\x03REQ"))
	for i := 0; i < 30; i++ {
		req.frame(0x01, nil)
		req.frame(0, pattern(100, i))
	}
	frames, _ = packets(t, req.b, nil)
	p, c = countProgram(t, false)
	p.runFrames(t, frames)
	have = kept(t, p.records(t, 50*time.Millisecond), req.b)
	for _, h := range req.heads {
		if !have[h[0]] {
			t.Errorf("REQ: header at %d left out", h[0])
		}
	}
	if err := c.ShipMessages(countDir, false); err != nil {
		t.Fatal(err)
	}
	more := buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.ACK | segment.PSH,
		seq: framingISN + 1 + uint32(len(req.b)), payload: "\x01\x00\x00\x03abc"})
	p.runFrames(t, [][]byte{more})
	segs := p.records(t, 50*time.Millisecond)
	if len(segs) != 1 || len(segs[0].Payload) != 0 || !segs[0].Counts.Whole || segs[0].Counts.Messages != 31 {
		t.Errorf("REQ named in the elide map: %+v, want its message left out whole, and counted", segs)
	}
}

// TestCountModeReordered hands the program a packet inside a long message
// body before the one ahead of it: it passes the missing bytes over
// (counting a gap), and ships the late packet as bytes left out whole,
// so that userspace fills the hole without losing its place.
func TestCountModeReordered(t *testing.T) {
	requireBPF(t)
	z, want := countStream()
	frames, offs := packets(t, z.b, nil)
	mid := -1 // the first packet that starts inside the 10,000-byte body
	for i, o := range offs {
		if o > z.bodies[1][0] {
			mid = i
			break
		}
	}
	frames[mid], frames[mid+1] = frames[mid+1], frames[mid]
	segs, st := runCounting(t, frames)
	if st.Unframed != 0 {
		t.Fatalf("the walk gave up")
	}
	late := segs[mid+1] // records follow packets, one each here (the SYN first)
	if int(late.Seq-framingISN-1) != offs[mid] || len(late.Payload) != 0 || !late.Counts.Whole {
		t.Errorf("the late packet's record %+v: want its %d bytes left out whole", late, len(frames[mid])-54)
	}
	last := segs[len(segs)-1].Counts
	last.Whole = false
	if last != want {
		t.Errorf("counts %+v, want %+v", last, want)
	}
}

// TestCountRecordsAtTheirEnd (review C1): a record's counts (COUNT_VALID)
// are the direction's up to the record's end, never past it: a packet's
// earlier pieces (kept bytes before a run left out whole, or before a
// header past MAX_PAYLOAD) and bytes the walk passed over (a late packet)
// carry none, since userspace brings its decoder up to a record's counts
// at the record's end. Shipping and eliding, cut anywhere, one packet late.
func TestCountRecordsAtTheirEnd(t *testing.T) {
	requireBPF(t)
	z, _ := countStream()
	// at returns the frames and messages whose header starts before off:
	// what the kernel has counted there.
	at := func(off int) (frames, messages uint64) {
		for _, h := range z.heads {
			if h[0] < off {
				frames++
				if f := z.b[h[0]]; f&0x04 == 0 && f&0x01 == 0 {
					messages++
				}
			}
		}
		return
	}
	cuts := []int{11, z.heads[2][0] + 4, z.heads[3][0] + 3, z.heads[7][0] + 1, z.heads[7][0] + 5}
	for _, elide := range []bool{false, true} {
		for _, late := range []bool{false, true} {
			frames, offs := packets(t, z.b, cuts)
			lateSeq := uint32(0)
			if late {
				for i, o := range offs {
					if o > z.bodies[1][0] {
						frames[i], frames[i+1] = frames[i+1], frames[i]
						lateSeq = framingISN + 1 + uint32(o)
						break
					}
				}
			}
			p, _ := countProgram(t, elide)
			p.runFrames(t, frames)
			segs := p.records(t, 50*time.Millisecond)
			valid := 0
			for _, s := range segs {
				if s.Has(segment.SYN) {
					continue
				}
				if late && s.Seq == lateSeq && s.Counts.Valid {
					t.Errorf("elide %v: the late packet's record has counts %+v: they are not of its end", elide, s.Counts)
				}
				if !s.Counts.Valid {
					continue
				}
				valid++
				f, m := at(int(s.Seq - framingISN - 1 + uint32(s.PayloadLen)))
				if s.Counts.Frames != f || s.Counts.Messages != m {
					t.Errorf("elide %v late %v: record [%d,+%d) counts %d frames %d messages, want %d, %d (those up to its end)",
						elide, late, s.Seq-framingISN-1, s.PayloadLen, s.Counts.Frames, s.Counts.Messages, f, m)
				}
			}
			if valid == 0 {
				t.Errorf("elide %v late %v: no record with counts", elide, late)
			}
		}
	}
}

// TestCountAliases (review C4): with several interfaces (-i any) the
// kernel follows a direction on each it passes; ForgetDir forgets it on
// every interface its packets' copies came from, and ShipMessages leaves
// its messages out on each, one seen later too.
func TestCountAliases(t *testing.T) {
	requireBPF(t)
	p, c := countProgram(t, false)
	c.dedup = newDedup(true)
	_ = p
	on := func(ifx int) JoinPoint { q := countDir; q.Ifindex = ifx; return q }
	for _, ifx := range []int{1, 2, 3} {
		if err := join(c.first.Flowstate, on(ifx)); err != nil {
			t.Fatal(err)
		}
	}
	seg := &segment.Segment{Src: countDir.Src, Dst: countDir.Dst, Ifindex: 2}
	c.noteCopy(seg, 1) // dedup dropped interface 2's copy of 1's
	if err := c.ShipMessages(countDir, false); err != nil {
		t.Fatal(err)
	}
	seg.Ifindex = 3
	c.noteCopy(seg, 1) // interface 3 seen after the direction was left out
	has := func(m *ebpf.Map, ifx int) bool {
		k, _ := joinKey(on(ifx))
		var v []byte
		return m.Lookup(&k, &v) == nil
	}
	for _, ifx := range []int{1, 2, 3} {
		if !has(c.first.Elide, ifx) {
			t.Errorf("interface %d: messages not left out", ifx)
		}
	}
	if err := c.ForgetDir(countDir); err != nil {
		t.Fatal(err)
	}
	if err := c.ShipMessages(countDir, true); err != nil {
		t.Fatal(err)
	}
	for _, ifx := range []int{1, 2, 3} {
		if has(c.first.Flowstate, ifx) || has(c.first.Elide, ifx) {
			t.Errorf("interface %d: flowstate %v, elide %v after ForgetDir: want both gone", ifx, has(c.first.Flowstate, ifx), has(c.first.Elide, ifx))
		}
	}
	if len(c.aliases.m) != 0 {
		t.Errorf("%d directions still noted", len(c.aliases.m))
	}
}

// TestCountSynShips (review C2): a SYN clears its ports' elide entry, an
// old connection's that userspace had not forgotten yet (the new SYN's
// record is what closes it there): the new connection ships its messages
// until its READY is read.
func TestCountSynShips(t *testing.T) {
	requireBPF(t)
	p, c := countProgram(t, false)
	if err := c.ShipMessages(countDir, false); err != nil {
		t.Fatal(err)
	}
	frames, _ := packets(t, greeting3(), nil)
	p.runFrames(t, frames[:1])
	k, _ := joinKey(countDir)
	var v []byte
	if err := c.first.Elide.Lookup(&k, &v); err == nil {
		t.Errorf("the elide entry outlived a SYN of its ports")
	}
}

// TestEachDirCountsBatch (review M6): a scrape reads the kernel's state in
// batches (BPF_MAP_LOOKUP_BATCH), more entries than a batch holds, each
// once.
func TestEachDirCountsBatch(t *testing.T) {
	requireBPF(t)
	_, c := countProgram(t, false)
	const n = countBatch + 904
	for i := range n {
		q := countDir
		q.Src = netip.AddrPortFrom(q.Src.Addr(), uint16(10000+i))
		k, err := joinKey(q)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.first.Flowstate.Update(&k, bpf.CaptureFlowState{Mode: modeFrames, Frames: uint64(i)}, ebpf.UpdateAny); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint16]bool{}
	if err := c.EachDirCounts(func(p JoinPoint, dc DirCounts) {
		if seen[p.Src.Port()] || dc.Frames != uint64(p.Src.Port()-10000) {
			t.Errorf("%v: %+v (seen before: %v)", p, dc, seen[p.Src.Port()])
		}
		seen[p.Src.Port()] = true
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != n || c.noBatch {
		t.Errorf("%d of %d directions read; batches refused: %v", len(seen), n, c.noBatch)
	}
}
