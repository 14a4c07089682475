package session

import (
	"bytes"

	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Kernel counting (loader.Config.CountOnly). In count mode the kernel
// leaves the message frames of the directions it follows out whole,
// headers included, and every segment of such a direction carries the
// direction's cumulative counts at its end (segment.Counts). A session
// keeps each direction's decoder exact with them: the bytes left out
// whole are passed with zmtp.Conn.Elide (the decoder stays in place: the
// next kept byte is a marked frame header), and once a segment's last byte
// was given to the decoder, what the kernel counted and the decoder did
// not is added to the decoder's counts (zmtp.Decoder.AddCounts). The
// counts being cumulative, a ring loss takes records, never counts: the
// next segment brings the decoder up to the kernel's count again.
//
// The kernel counts from where it began to follow the direction: its SYN
// (counts from 0, as the decoder's), or a join point (Capture.Join), from
// which on the kernel counts what the decoder had not: the decoder's
// counts at the join are the base the kernel's add to (dirRare.kbase).
//
// Which directions' message frames still reach userspace: the kernel ships
// every direction's until its READY names a sender whose messages are not
// needed (shipsMessages; the kernel reads the Socket-Type itself when it
// can, see ready_quiet in bpf/count.h, and the session tells it too:
// countEvent), so that none that is needed goes by unseen.

// kernelCounter is what a session asks of the capture in count mode.
type kernelCounter interface {
	CountOnly() bool
	DirCounts(p loader.JoinPoint) (loader.DirCounts, error)
	ShipMessages(p loader.JoinPoint, on bool) error
	ForgetDir(p loader.JoinPoint) error
}

// counter returns the capture's kernel counting when count mode is on,
// else nil.
func (s *session) counter() kernelCounter {
	if kc, ok := s.joiner.(kernelCounter); ok && kc.CountOnly() {
		return kc
	}
	return nil
}

// skip passes n bytes of direction d that seg left out: frames left out
// whole (count mode) are elided, the rest skipped.
func (s *session) skip(d segment.Dir, n uint64, seg *segment.Segment) {
	if seg.Counts.Whole {
		s.zc.Elide(d, n, s.emit)
	} else {
		s.zc.Skip(d, n, s.emit)
	}
	if seg.Counts.Valid {
		s.kernelCounted(d, n, seg)
	}
}

// kernelCounted brings the decoder of d up to the kernel's counts of seg
// once the call that gave it n bytes of seg (starting at s.conn.Next[d])
// reached seg's end: the kernel's counts are those of the direction up to
// there.
//
// Only at a frame boundary of the decoder (review C1): the kernel counts a
// command at its header and a message at its flags byte, the decoder at
// the end of the command's body and of the message's size field; a record
// ending between the two would have the unit counted twice. The kernel
// gives counts (COUNT_VALID) only to records whose end they are of (the
// packet's last piece, no late bytes: ship_piece in bpf/capture.c).
func (s *session) kernelCounted(d segment.Dir, n uint64, seg *segment.Segment) {
	s.coverLoss(d)
	if s.conn.Next[d]+uint32(n) != seg.Seq+uint32(seg.PayloadLen) || !s.zc.Decoder(d).AtBoundary() {
		return
	}
	s.syncCounts(d, &seg.Counts)
}

// coverLoss notes that the losses of direction d since its last record
// with counts cost no count (review M5): the kernel still walks the
// direction, and its counts are cumulative. The metrics leave them out of
// zmtp_gaps_total, zmtp_lost_bytes_total and zmtp_resyncs_total (the ring
// drops count in zmtpdump_ring_drops_total); the summary keeps them.
func (s *session) coverLoss(d segment.Dir) {
	if s.loss == nil {
		return
	}
	c, p := &s.loss.covered, &s.loss.pending
	c.gaps[d] += p.gaps[d]
	c.lost[d] += p.lost[d]
	c.resyncs[d] += p.resyncs[d]
	p.gaps[d], p.lost[d], p.resyncs[d] = 0, 0, 0
}

// syncCounts adds to the decoder of d what the kernel counted in k beyond
// it.
func (s *session) syncCounts(d segment.Dir, k *segment.Counts) {
	ds := &s.dirs[d]
	ds.counted = true
	want := kernelTotal(ds, k)
	dec := s.zc.Decoder(d)
	if diff, ok := beyond(want, dec.Counts()); ok {
		dec.AddCounts(diff)
		// Among the messages seen at once, for the live status line
		// (which count mode keeps on a terminal).
		s.out.addCounted(diff.Messages)
	}
}

// kernelTotal returns the counts k of the kernel as the decoder counts:
// from the direction's start, the base of a join added.
func kernelTotal(ds *dirSync, k *segment.Counts) zmtp.Counts {
	c := zmtp.Counts{Messages: k.Messages, Frames: k.Frames, Bytes: k.Bytes}
	for i := range c.Commands {
		c.Commands[i] = k.Commands[i]
	}
	if ds.rare != nil {
		c.Add(ds.rare.kbase)
	}
	return c
}

// beyond returns what want holds beyond have, field by field (0 where
// have is ahead: the decoder counted a command the kernel could not
// classify, say), and whether that is anything.
func beyond(want, have zmtp.Counts) (zmtp.Counts, bool) {
	sub := func(a, b uint64) uint64 {
		if a > b {
			return a - b
		}
		return 0
	}
	diff := zmtp.Counts{Messages: sub(want.Messages, have.Messages), Frames: sub(want.Frames, have.Frames), Bytes: sub(want.Bytes, have.Bytes)}
	any := diff.Messages|diff.Frames|diff.Bytes != 0
	for i := range diff.Commands {
		diff.Commands[i] = sub(want.Commands[i], have.Commands[i])
		any = any || diff.Commands[i] != 0
	}
	return diff, any
}

// noteJoin keeps, as direction d is joined, the decoder's counts: the
// kernel counts from the join point on. In count mode the direction's
// messages are left out from there: its READY was never seen (a joined
// REQ/REP has no round trips measured).
func (s *session) noteJoin(d segment.Dir) {
	s.dirs[d].more().kbase = s.zc.Decoder(d).Counts()
	s.elide(d)
}

// counts returns the exact counts of direction d now: the decoder's (what
// it decoded, and what the kernel counted that it was not given), and, in
// count mode, what the kernel has counted of the direction since the last
// segment the session handled (records still in the ring), read from the
// kernel's state. For METRICS: called on the pipeline's goroutine.
func (s *session) counts(d segment.Dir) zmtp.Counts {
	c := s.zc.Decoder(d).Counts()
	kc := s.counter()
	if kc == nil || !s.dirs[d].counted {
		return c
	}
	now, err := kc.DirCounts(s.point(d))
	if err != nil {
		return c // no longer followed: what the records said is all
	}
	if diff, ok := beyond(kernelTotal(&s.dirs[d], &now.Counts), c); ok {
		c.Add(diff)
	}
	return c
}

// point names direction d for the kernel: on the interface of the
// connection's first segment (flows.Conn.Ifindex).
func (s *session) point(d segment.Dir) loader.JoinPoint {
	return loader.JoinPoint{Ifindex: int(s.conn.Ifindex), Src: s.conn.Src(d), Dst: s.conn.Dst(d)}
}

// shipsMessages reports whether, in count mode, the message frames sent by
// a socket of type sender must still reach userspace (headers and the
// kernel's kept body bytes): REQ, REP, DEALER and ROUTER for the request
// round trips, SUB and XSUB for ZMTP 3.0 subscriptions, which are
// messages. CURVE needs nothing here: its messages are MESSAGE commands,
// which the kernel ships whole.
func shipsMessages(sender string) bool {
	switch sender {
	case "REQ", "REP", "DEALER", "ROUTER", "SUB", "XSUB":
		return true
	}
	return false
}

// countEvent looks, in count mode, at the events that tell a direction's
// sender's socket type: a READY (3.x) or a 2.0 greeting. The kernel ships
// every direction's message frames until told otherwise (so that none it
// needs goes by before the READY reaches userspace): unless they must
// reach userspace (shipsMessages), it is told to leave them out from now
// on, and to forget at the close.
func (s *session) countEvent(d segment.Dir, ev zmtp.Event) {
	var sender []byte
	switch e := ev.(type) {
	case *zmtp.Command:
		if e.Kind != zmtp.KindReady {
			return
		}
		for _, p := range e.Properties {
			if bytes.EqualFold(p.Name, []byte("Socket-Type")) {
				sender = p.Value
			}
		}
	case *zmtp.Greeting:
		sender = []byte(e.SocketType) // 2.0's; "" for 3.x, which says it in READY
	default:
		return
	}
	if len(sender) == 0 || shipsMessages(string(sender)) {
		return
	}
	s.elide(d)
}

// elide tells the kernel, in count mode, to leave direction d's message
// frames out whole from now on.
func (s *session) elide(d segment.Dir) {
	kc := s.counter()
	if kc == nil || s.dirs[d].elided {
		return
	}
	if kc.ShipMessages(s.point(d), false) == nil {
		s.dirs[d].elided = true
	}
}

// countClose ends the connection's kernel counting: the final counts
// reach the decoders (the kernel keeps a direction's state after its FIN
// or RST for this: read here, also when the ring lost their records; a
// closing segment's own counts otherwise), and the kernel forgets the
// directions. Not for a connection whose ports a new one took
// (segment.Reused): the kernel's state is the new connection's since its
// SYN (review C2), only the closing segment's counts are this one's.
func (s *session) countClose(r segment.CloseReason, seg *segment.Segment) {
	if seg != nil && seg.Counts.Valid {
		d := segment.ServerToClient
		if seg.Src == s.conn.Src(segment.ClientToServer) {
			d = segment.ClientToServer
		}
		s.syncCounts(d, &seg.Counts)
	}
	kc := s.counter()
	if kc == nil {
		return
	}
	for d := range s.dirs {
		ds := &s.dirs[d]
		p := s.point(segment.Dir(d))
		if r == segment.Reused {
			// The new connection's session is made after this close:
			// its directions ship until its READYs say otherwise.
			if ds.elided {
				_ = kc.ShipMessages(p, true)
				ds.elided = false
			}
			continue
		}
		if now, err := kc.DirCounts(p); err == nil && ds.counted {
			s.coverLoss(segment.Dir(d))
			s.syncCounts(segment.Dir(d), &now.Counts)
			// Whether the direction ends inside a message (diagnosis's
			// reset-mid-message) is the kernel's to say after frames
			// left out whole: the decoder knows what it was before.
			if dec := s.zc.Decoder(segment.Dir(d)); !dec.Searching() && !dec.Done() {
				dec.Boundary(!now.InMessage, nil)
			}
		}
		_ = kc.ForgetDir(p) // gone already (evicted) is no error
		if ds.elided {
			_ = kc.ShipMessages(p, true) // forgets the entry
			ds.elided = false
		}
	}
}

// countForget has the kernel forget, in count mode, the directions of a
// connection that was never fed (no payload: a probe, a scan; review C3),
// unless a new connection took its ports (segment.Reused: the entries are
// the new one's).
func (s *session) countForget(r segment.CloseReason) {
	kc := s.counter()
	if kc == nil || r == segment.Reused {
		return
	}
	for d := range s.dirs {
		_ = kc.ForgetDir(s.point(segment.Dir(d)))
	}
}

// addCounted counts n messages the kernel counted and userspace never
// decoded among the messages of the exit statistics (output.Stats), which
// are then the messages seen: decoded or counted.
func (s *sink) addCounted(n uint64) {
	s.mu.Lock()
	s.messages += n
	s.mu.Unlock()
}

// countedSides puts the exact counts of the directions the kernel counted
// into the summary c: its Messages and MessageBytes come from the events
// decoded, which leave out the messages the kernel counted; those count in
// the exit statistics' messages too.
func (s *session) countedSides(c *zmtp.Connection) {
	for d := range s.dirs {
		if !s.dirs[d].counted {
			continue
		}
		dec := s.zc.Decoder(segment.Dir(d))
		n := dec.Counts()
		// What syncCounts added is among the messages seen already;
		// decoded messages a summary leaves out are added now.
		if decoded := dec.MessageIndex(); decoded > c.Sides[d].Messages {
			s.out.addCounted(decoded - c.Sides[d].Messages)
		}
		c.Sides[d].Messages = max(c.Sides[d].Messages, n.Messages)
		c.Sides[d].MessageBytes = max(c.Sides[d].MessageBytes, n.Bytes)
	}
}

// countModeText is what the start-up line says of count mode: on, or
// asked for and refused (and why), or nothing.
func countModeText(c *loader.Capture) string {
	if c.CountOnly() {
		return ", kernel counts messages (count mode)"
	}
	if n := c.CountModeNote(); n != "" {
		return " (" + n + ")"
	}
	return ""
}

// kernelCounts is the kernel's counts of every direction it follows, read
// in one pass (loader.Capture.EachDirCounts: batches of 4,096 entries a bpf(2) call): for a scrape, which then
// asks countsIn per open connection direction instead of one lookup each.
type kernelCounts map[loader.JoinPoint]segment.Counts

// eachDirCounter is the batch read of a capture in count mode.
type eachDirCounter interface {
	EachDirCounts(fn func(loader.JoinPoint, loader.DirCounts)) error
}

// kernelCounts reads the kernel's counts of every direction, nil when the
// capture does not count (or the read fails: counts then come from the
// records alone). Call it on the pipeline's goroutine, before countsIn.
func (p *Pipeline) kernelCounts() kernelCounts {
	kc, ok := p.joiner.(interface {
		kernelCounter
		eachDirCounter
	})
	if !ok || !kc.CountOnly() {
		return nil
	}
	all := kernelCounts{}
	if err := kc.EachDirCounts(func(p loader.JoinPoint, c loader.DirCounts) { all[p] = c.Counts }); err != nil {
		return nil
	}
	return all
}

// countsIn is counts(d) with the kernel's state read already (kc, from
// Pipeline.kernelCounts; nil: the records' counts alone).
func (s *session) countsIn(d segment.Dir, kc kernelCounts) zmtp.Counts {
	c := s.zc.Decoder(d).Counts()
	if kc == nil || !s.dirs[d].counted {
		return c
	}
	if now, ok := kc[s.point(d)]; ok {
		if diff, ok := beyond(kernelTotal(&s.dirs[d], &now), c); ok {
			c.Add(diff)
		}
	}
	return c
}
