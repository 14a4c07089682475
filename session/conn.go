package session

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/metrics"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// session decodes one connection with a zmtp.Conn (both directions, so that
// version downgrades and mechanism mismatches are seen) and prints its
// events, then a summary when the connection ends.
type session struct {
	conn   *flows.Conn
	out    *sink
	zc     *zmtp.Conn
	seg    *segment.Segment
	first  time.Time      // time of the first segment that carried data, a gap or a skip
	last   time.Time      // time of the last one
	loss   *loss          // gaps and the bytes they lost; nil before the first
	procs  *owners        // nil: no process attribution
	own    ownerState     // what procs found
	learn  *learning      // --explain, --ladder; nil: off
	joiner joiner         // writes sync points into kernel-side framing; nil: none
	dirs   [2]dirSync     // per flows direction
	diag   *diagnose.Conn // problems and health figures; nil: --no-problems
	met    *metrics.Conn  // --metrics (session/metrics.go); nil: off
}

// loss counts a connection's gaps per direction (segment.Dir order; skips
// are not gaps) and the bytes they lost, allocated at its first gap: most
// connections never lose a byte, and a session fits its 256-byte size
// class.
type loss struct {
	gaps, lost [2]uint64
	// Count mode (review M5): of those, the ones the kernel's cumulative
	// counts covered (a record with counts came after them: the ring lost
	// records, no count), and the resyncs they caused; pending: since the
	// last record with counts.
	covered, pending lossTally
}

// lossTally is a part of a connection's losses, per direction.
type lossTally struct{ gaps, lost, resyncs [2]uint64 }

// ipc returns an ipc connection's ends as last learnt, nil for TCP. They
// are kept with the rare part of the first direction's state, so that a
// TCP session costs nothing more.
func (s *session) ipc() *segment.IPC {
	if r := s.dirs[0].rare; r != nil {
		return r.ipc
	}
	return nil
}

func newSession(c *flows.Conn, out *sink, opts zmtp.Options, procs *owners) *session {
	return &session{conn: c, out: out, zc: zmtp.NewConn(opts), procs: procs}
}

// line describes an event sent in direction d at t.
func (s *session) line(d segment.Dir, t time.Time, notes []output.Note) output.Line {
	return output.Line{From: d, Time: t, Src: s.conn.Src(d), Dst: s.conn.Dst(d), IPC: s.ipc(), Owners: s.ownersFor(d), Notes: notes}
}

func (s *session) emit(d segment.Dir, ev zmtp.Event) {
	c, summary := ev.(*zmtp.Connection) // "ZMTP events decoded": the summary is not one
	_, resync := ev.(*zmtp.Resync)      // nor a resync
	if !s.resolveOwners(s.seg.Time) {
		return // --pid/--comm: neither end matches
	}
	if o := s.ownersFor(d); o != nil && !s.own.printed && (s.own.resolved || summary) {
		s.own.printed = true
		s.out.owners(s.line(segment.ClientToServer, s.seg.Time, nil))
	}
	if r, ok := ev.(*zmtp.Resync); ok && r.Source == zmtp.SyncSearch {
		// The search found the boundary before any kernel mark: the
		// gaps held for the kernel's counts come out first, without.
		s.dirs[d].release(s, d, 0, false)
	}
	if summary {
		s.connection(d, c)
		return
	}
	if s.joiner != nil {
		switch ev.(type) {
		case *zmtp.Command, *zmtp.Greeting: // not per message: see count.go
			s.countEvent(d, ev)
		}
	}
	notes := s.learn.event(d, s.seg.Time, ev)
	s.out.sessionEvent(s, d, notes, ev, !resync)
	s.diagEvent(d, s.seg.Time, ev)
}

// connection prints the connection's summary c, sent at its end: the
// problems it shows first, then the summary with the health figures, the
// ladder and the -q table's row.
func (s *session) connection(d segment.Dir, c *zmtp.Connection) {
	s.countedSides(c)
	s.diagEvent(d, s.seg.Time, c)
	h := s.health()
	notes := s.learn.event(d, s.seg.Time, c)
	s.out.connection(s.line(d, s.seg.Time, notes), c, h)
	if l := s.learn.drawn(); l != nil {
		l.SetHealth(h)
		l.SetIPC(s.ipc())
		s.out.drawing(l.AppendTo)
	}
	conv := output.NewConversation(s.conn.Src(segment.ClientToServer), s.conn.Dst(segment.ClientToServer), s.first, s.seg.Time, c)
	if s.loss != nil {
		conv.Gaps, conv.Lost = s.loss.gaps, s.loss.lost
	}
	conv.Health, conv.IPC = h, s.ipc()
	s.out.conversation(conv)
}

// fed reports that a byte (or a gap, or a skip) was given to zc: every
// call that feeds it starts its direction (start) right after fedAt. It
// costs no field, so that a session fits its 256-byte size class.
func (s *session) fed() bool { return s.dirs[0].started || s.dirs[1].started }

// fedAt notes that seg carried data, a gap or a skip.
func (s *session) fedAt(seg *segment.Segment) {
	if !s.fed() {
		s.first = seg.Time
	}
	s.seg, s.last = seg, seg.Time
}

// IPC implements flows.IPCReporter: an ipc connection's ends as its last
// segment (a FIN or an ACK with no byte too) names them, so that every
// line names them alike.
func (s *session) IPC(v *segment.IPC) {
	if r := s.dirs[0].rare; r == nil || r.fed != v {
		r = s.dirs[0].more()
		r.fed, r.ipc = v, s.completeIPC(v)
	}
}

// completeIPC returns v, or a copy of it naming the processes v does not
// name (ends that sent nothing yet) when the owners found them (the
// capture's other records, /proc under --pid): lines then name an end as
// its process line does.
func (s *session) completeIPC(v *segment.IPC) *segment.IPC {
	var c *segment.IPC
	for i, a := range [2]netip.AddrPort{s.conn.Client, s.conn.Server} {
		pr := s.own.ends[i]
		if pr == nil {
			continue
		}
		_, server, ok := segment.IsIPCAddr(a)
		if !ok || server && v.ServerPID > 0 || !server && v.ClientPID > 0 {
			continue
		}
		if c == nil {
			cp := *v
			c = &cp
		}
		if server {
			c.ServerPID, c.ServerComm = pr.PID, pr.Comm
		} else {
			c.ClientPID, c.ClientComm = pr.PID, pr.Comm
		}
	}
	if c == nil {
		return v
	}
	return c
}

// Data implements flows.Consumer.
func (s *session) Data(d segment.Dir, p []byte, seg *segment.Segment) {
	s.fedAt(seg)
	s.start(d)
	if !s.conn.MidStream {
		s.learn.data(d, len(p), seg)
	}
	s.traffic(d, seg)
	dec := s.zc.Decoder(d)
	h := dec.Headers()
	s.zc.Feed(d, p, s.emit)
	if seg.Counts.Valid {
		s.kernelCounted(d, uint64(len(p)), seg)
	}
	if ds := &s.dirs[d]; dec.Headers() != h && !ds.justMarked && !seg.Boundary.Valid {
		// A header the kernel did not mark.
		ds.unmarked = min(ds.unmarked+1, unmarkedMax)
		if ds.unmarked >= unmarkedMax {
			ds.marked = false
		}
	}
	s.dirs[d].justMarked = false
	if s.joiner != nil {
		s.join(d, len(p), seg)
	}
}

// start tells the decoder of d that the connection was picked up
// mid-stream if nothing of d was fed yet: it then searches for a proven
// frame boundary before it decodes anything.
func (s *session) start(d segment.Dir) {
	if s.conn.MidStream && !s.dirs[d].started {
		s.zc.JoinMidStream(d)
	}
	s.dirs[d].started = true
}

// Skip implements flows.Consumer. Bytes the capture did not keep (a
// snapshot length, frame bodies the kernel left out) are no loss: the
// frame lines show each frame's real size with the bytes kept, so nothing
// is printed and nothing counts in the conversation's gaps. Outside a
// message frame body the direction stops with an error saying so.
func (s *session) Skip(d segment.Dir, n uint64, seg *segment.Segment) {
	s.fedAt(seg)
	s.start(d)
	s.traffic(d, seg)
	if !s.conn.MidStream {
		s.learn.skip(d, n)
	}
	s.skip(d, n, seg)
}

// Gap implements flows.Consumer. A gap the decoder passes over inside a
// frame body is printed at once. One that makes it lose its place, on a
// direction the kernel marks frame boundaries of, is held until the
// decoder resumes at the next mark: the kernel's message counts then tell
// how many messages the loss took.
func (s *session) Gap(d segment.Dir, n uint64, seg *segment.Segment) {
	s.fedAt(seg)
	s.diagGap(d, seg.Time, n)
	if s.loss == nil {
		s.loss = new(loss)
	}
	s.loss.gaps[d]++
	s.loss.lost[d] += n
	s.start(d)
	dec := s.zc.Decoder(d)
	if dec.Done() {
		s.zc.Gap(d, n, s.emit) // counted, not printed
		return
	}
	g := zmtp.Gap{Header: zmtp.Header{Offset: dec.Offset()}, Bytes: n}
	if s.dirs[d].counted {
		p := &s.loss.pending
		p.gaps[d]++
		p.lost[d] += n
		if dec.Searching() || !s.zc.Passes(d, n) {
			p.resyncs[d]++ // it loses its place, to resume at a mark
		}
	}
	if ds := &s.dirs[d]; ds.marked && (dec.Searching() || !s.zc.Passes(d, n)) {
		ds.hold(g, seg.Time)
	} else {
		// Passed over inside one frame body, it took no message, as the
		// kernel's marks prove where it walks.
		g.MessagesKnown = ds.marked && s.zc.Passes(d, n)
		s.printGap(d, seg.Time, &g)
	}
	s.zc.Gap(d, n, s.emit)
}

// printGap prints a gap of direction d.
func (s *session) printGap(d segment.Dir, t time.Time, g *zmtp.Gap) {
	if s.own.skip {
		return
	}
	s.out.gap(s.line(d, t, s.learn.gap(d, t, g.Bytes)), g)
}

// Boundary implements flows.BoundaryReporter: the kernel marked a frame
// header. A direction that lost its place resumes there; the kernel's
// message counts on both sides of the loss say how many messages it took.
func (s *session) Boundary(d segment.Dir, b segment.Boundary, seg *segment.Segment) {
	s.fedAt(seg)
	s.start(d)
	dec := s.zc.Decoder(d)
	ds := &s.dirs[d]
	ds.marked, ds.unmarked, ds.justMarked = true, 0, true
	if dec.Searching() {
		lost, known := uint64(0), ds.baseOK
		if known {
			if seen := ds.base + dec.MessageIndex(); b.Messages > seen {
				lost = b.Messages - seen
			}
			if !b.MessageStart {
				lost++ // the message in progress at the mark is not shown
			}
		}
		ds.release(s, d, lost, known)
		s.zc.Boundary(d, b.MessageStart, s.emit)
	} else {
		ds.release(s, d, 0, false)
	}
	if !dec.Searching() && !dec.Done() {
		// In step with the kernel from here: its count less ours is
		// constant until the next loss.
		ds.base, ds.baseOK = b.Messages-dec.MessageIndex(), true
	}
}

// Stall implements flows.Consumer: see session/diagnose.go (stallReport),
// which hands it to the connection's diagnosis.
func (s *session) Stall(d segment.Dir, stalled bool, seg *segment.Segment) {
	s.stallReport(d, stalled, seg)
}

// Close implements flows.Consumer: it prints the connection summary, at
// the FIN or RST that ended it, or, for a connection that went idle or was
// still open when the capture ended, at its last data (so that reading a
// file always prints the same times).
func (s *session) Close(r segment.CloseReason, seg *segment.Segment) {
	defer s.closeMetrics(r) // after the decoders emitted all they held
	if !s.fed() {
		// No payload either way: nothing ZMTP to sum up; in count mode
		// the kernel's entries of the directions go (review C3).
		if s.joiner != nil {
			s.countForget(r)
		}
		return
	}
	at := seg
	if r == segment.Idle || r == segment.Flushed || seg == nil {
		at = &segment.Segment{Time: s.last}
	}
	s.seg = at
	for d := range s.dirs {
		s.dirs[d].release(s, segment.Dir(d), 0, false)
	}
	if s.joiner != nil {
		s.countClose(r, seg)
	}
	s.diagClose(r, at.Time)
	s.zc.Close(r, s.emit)
	s.diagForget()
}
