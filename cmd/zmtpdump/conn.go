package main

import (
	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// session decodes one connection: a ZMTP decoder per direction, events to
// the printer.
type session struct {
	conn   *flows.Conn
	out    output.Printer
	dec    [2]*zmtp.Decoder
	skip   [2]bool // direction not decoded (joined mid-stream)
	counts *counters
	seg    *capture.Segment
	dir    flows.Dir
	emitFn func(zmtp.Event)
}

// counters are the pipeline's totals.
type counters struct {
	packets  uint64
	events   uint64
	writeErr error
}

func newSession(c *flows.Conn, out output.Printer, opts zmtp.Options, n *counters) *session {
	s := &session{conn: c, out: out, counts: n}
	s.dec[0] = zmtp.NewDecoder(opts)
	s.dec[1] = zmtp.NewDecoder(opts)
	s.emitFn = s.emit
	return s
}

func (s *session) emit(ev zmtp.Event) {
	s.counts.events++
	if err := s.out.Event(s.seg.Time, s.conn.Src(s.dir), s.conn.Dst(s.dir), ev); err != nil && s.counts.writeErr == nil {
		s.counts.writeErr = err
	}
}

// Data implements flows.Consumer.
func (s *session) Data(d flows.Dir, p []byte, seg *capture.Segment) {
	if s.skip[d] {
		return
	}
	s.seg, s.dir = seg, d
	if s.conn.MidStream && s.dec[d].Offset() == 0 {
		// Without the greeting there is no proven frame boundary: say so
		// once and leave this direction alone rather than print garbage.
		s.skip[d] = true
		s.emit(&zmtp.Error{Err: errMidStream})
		return
	}
	s.dec[d].Feed(p, s.emitFn)
}

// Gap implements flows.Consumer.
func (s *session) Gap(d flows.Dir, n uint64, seg *capture.Segment) {
	if s.skip[d] {
		return
	}
	s.seg, s.dir = seg, d
	if err := s.out.Gap(seg.Time, s.conn.Src(d), s.conn.Dst(d), n); err != nil && s.counts.writeErr == nil {
		s.counts.writeErr = err
	}
	s.dec[d].Gap(n, s.emitFn)
}

// Close implements flows.Consumer.
func (s *session) Close(flows.CloseReason, *capture.Segment) {}
