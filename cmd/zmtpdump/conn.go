package main

import (
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// session decodes one connection with a zmtp.Conn (both directions, so that
// version downgrades and mechanism mismatches are seen) and prints its
// events, then a summary when the connection ends.
type session struct {
	conn   *flows.Conn
	out    *sink
	zc     *zmtp.Conn
	seg    *capture.Segment
	first  time.Time // time of the first segment that carried data, a gap or a skip
	last   time.Time // time of the last one
	fed    bool      // any byte (or gap, or skip) was given to zc
	gaps   [2]uint64 // gaps per direction (flows.Dir order); skips are not gaps
	lost   [2]uint64 // bytes they lost
	emitFn func(zmtp.Dir, zmtp.Event)
	procs  *owners    // nil: no process attribution
	own    ownerState // what procs found
	learn  *learning  // --explain, --ladder; nil: off
}

func newSession(c *flows.Conn, out *sink, opts zmtp.Options, procs *owners) *session {
	s := &session{conn: c, out: out, zc: zmtp.NewConn(opts), procs: procs}
	s.emitFn = s.emit
	return s
}

// zdir maps a flows direction to the zmtp one: both number the client's
// direction 0.
func zdir(d flows.Dir) zmtp.Dir {
	if d == flows.ClientToServer {
		return zmtp.ClientToServer
	}
	return zmtp.ServerToClient
}

func fdir(d zmtp.Dir) flows.Dir {
	if d == zmtp.ClientToServer {
		return flows.ClientToServer
	}
	return flows.ServerToClient
}

// from says which side sends in direction d.
func from(d flows.Dir) output.From {
	if d == flows.ClientToServer {
		return output.FromClient
	}
	return output.FromServer
}

func (s *session) emit(d zmtp.Dir, ev zmtp.Event) {
	c, summary := ev.(*zmtp.Connection) // "ZMTP events decoded": the summary is not one
	fd := fdir(d)
	if !s.resolveOwners(s.seg.Time) {
		return // --pid/--comm: neither end matches
	}
	if o := s.ownersFor(fd); o != nil && !s.own.printed && (s.own.resolved || summary) {
		s.own.printed = true
		s.out.owners(s.seg.Time, s.conn.Src(flows.ClientToServer), s.conn.Dst(flows.ClientToServer), s.ownersFor(flows.ClientToServer))
	}
	notes := s.learn.event(fd, s.seg.Time, ev)
	s.out.event(from(fd), s.seg.Time, s.conn.Src(fd), s.conn.Dst(fd), ev, !summary, s.ownersFor(fd), notes)
	if l := s.learn.drawn(); summary && l != nil {
		s.out.ladder(l)
	}
	if summary {
		conv := output.NewConversation(s.conn.Src(flows.ClientToServer), s.conn.Dst(flows.ClientToServer), s.first, s.seg.Time, c)
		conv.Gaps, conv.Lost = s.gaps, s.lost
		s.out.conversation(conv)
	}
}

// fedAt notes that seg carried data, a gap or a skip.
func (s *session) fedAt(seg *capture.Segment) {
	if !s.fed {
		s.first = seg.Time
	}
	s.seg, s.last, s.fed = seg, seg.Time, true
}

// Data implements flows.Consumer.
func (s *session) Data(d flows.Dir, p []byte, seg *capture.Segment) {
	s.fedAt(seg)
	zd := s.start(d)
	if !s.conn.MidStream {
		s.learn.data(d, len(p), seg)
	}
	s.zc.Feed(zd, p, s.emitFn)
}

// start returns the zmtp direction of d, first stopping it if the
// connection was picked up mid-stream and nothing of d was decoded yet.
func (s *session) start(d flows.Dir) zmtp.Dir {
	zd := zdir(d)
	if s.conn.MidStream && s.zc.Decoder(zd).Offset() == 0 && s.zc.Decoder(zd).Err() == nil {
		// Without the greeting there is no proven frame boundary: say so
		// once and leave this direction alone rather than print garbage.
		s.zc.Stop(zd, errMidStream, s.emitFn)
	}
	return zd
}

// Skip implements flows.Consumer. Bytes the capture did not keep (a
// snapshot length, frame bodies the kernel left out) are no loss: the
// frame lines show each frame's real size with the bytes kept, so nothing
// is printed and nothing counts in the conversation's gaps. Outside a
// message frame body the direction stops with an error saying so.
func (s *session) Skip(d flows.Dir, n uint64, seg *capture.Segment) {
	s.fedAt(seg)
	zd := s.start(d)
	if !s.conn.MidStream {
		s.learn.skip(d, n)
	}
	s.zc.Skip(zd, n, s.emitFn)
}

// Gap implements flows.Consumer.
func (s *session) Gap(d flows.Dir, n uint64, seg *capture.Segment) {
	s.fedAt(seg)
	s.gaps[d]++
	s.lost[d] += n
	zd := zdir(d)
	if s.zc.Decoder(zd).Done() {
		s.zc.Gap(zd, n, s.emitFn) // counted, not printed
		return
	}
	if !s.own.skip {
		s.out.gap(from(d), seg.Time, s.conn.Src(d), s.conn.Dst(d), n, s.learn.gap(d, seg.Time, n))
	}
	s.zc.Gap(zd, n, s.emitFn)
}

// Close implements flows.Consumer: it prints the connection summary, at
// the FIN or RST that ended it, or, for a connection that went idle or was
// still open when the capture ended, at its last data (so that reading a
// file always prints the same times).
func (s *session) Close(r flows.CloseReason, seg *capture.Segment) {
	if !s.fed {
		return // no payload either way: nothing ZMTP to sum up
	}
	at := seg
	if r == flows.Idle || r == flows.Flushed || seg == nil {
		at = &capture.Segment{Time: s.last}
	}
	s.seg = at
	s.zc.Close(r.String(), s.emitFn)
}
