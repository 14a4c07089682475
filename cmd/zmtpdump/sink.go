package main

import (
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/learn"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// sink is where sessions and the reader print, and what they count. It is
// safe for concurrent use: under a sharded assembler, sessions of different
// connections run on different goroutines. The lock is taken per printed
// line, never per packet unless -v prints every packet.
type sink struct {
	mu  sync.Mutex
	out output.Printer
	// dirOut is out when it can be told which side sent an event.
	dirOut output.DirPrinter
	// quiet prints nothing (-q, -w -): events are only counted.
	quiet bool
	// packets is counted by the reader without the lock (once per packet).
	packets  atomic.Uint64
	events   uint64
	messages uint64
	// limit, when not 0, is how many messages are printed (-c): after the
	// last one, stop is called and only connection summaries are printed.
	limit uint64
	stop  func()
	// collect keeps the conversations for the -q table: the first
	// maxConvs (0: all) as rows, the others only counted in rest.
	collect  bool
	maxConvs int
	convs    []output.Conversation
	rest     output.Rest
	writeErr error
	// failed is set with writeErr, so that the reader can ask after every
	// packet without taking the lock.
	failed atomic.Bool
	// finishOnClose goes on without printing when stdout is closed,
	// instead of stopping (see stdoutClosed).
	finishOnClose bool
}

func newSink(out output.Printer) *sink {
	s := &sink{out: out}
	s.dirOut, _ = out.(output.DirPrinter)
	return s
}

func (s *sink) note(err error) {
	if err != nil && !s.stdoutClosed(err) && s.writeErr == nil {
		s.writeErr = err
		s.failed.Store(true)
	}
}

// event prints a ZMTP event sent by from, followed by its notes
// (--explain); counted says whether it counts as decoded.
func (s *sink) event(from output.From, t time.Time, src, dst netip.AddrPort, ev zmtp.Event, counted bool, o *output.Owners, notes []output.Note) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if oa, ok := s.out.(output.OwnerAware); ok {
		oa.SetOwners(o)
		defer oa.SetOwners(nil)
	}
	if counted {
		s.events++
	}
	_, isMsg := ev.(*zmtp.Message)
	if s.limit > 0 && s.messages >= s.limit && counted {
		return // past -c: only connection summaries
	}
	if isMsg {
		s.messages++
		if s.messages == s.limit && s.stop != nil {
			s.stop()
		}
	}
	if s.quiet {
		return
	}
	s.setNotes(notes)
	if s.dirOut != nil {
		s.note(s.dirOut.EventFrom(from, t, src, dst, ev))
	} else {
		s.note(s.out.Event(t, src, dst, ev))
	}
}

// gap prints a gap of the stream sent by from, with its notes, unless
// past -c.
func (s *sink) gap(from output.From, t time.Time, src, dst netip.AddrPort, g *zmtp.Gap, o *output.Owners, notes []output.Note) {
	s.mu.Lock()
	past := s.limit > 0 && s.messages >= s.limit
	s.mu.Unlock()
	if !past {
		s.event(from, t, src, dst, g, false, o, notes)
	}
}

// setNotes hands the printer the notes of the next event or gap (none: nil,
// which also drops any the printer did not print), if it takes notes.
func (s *sink) setNotes(notes []output.Note) {
	if na, ok := s.out.(output.NoteAware); ok {
		na.SetNotes(notes)
	}
}

// ladder draws a finished connection (--ladder).
func (s *sink) ladder(l *learn.Ladder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if la, ok := s.out.(output.LadderAware); ok && !s.quiet {
		s.note(la.Drawing(l.AppendTo(nil)))
	}
}

// owners prints, once per connection, which processes own its ends.
func (s *sink) owners(t time.Time, src, dst netip.AddrPort, o *output.Owners) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quiet {
		return
	}
	if oa, ok := s.out.(output.OwnerAware); ok {
		s.note(oa.PrintOwners(t, src, dst, o))
	}
}

// conversation keeps a finished connection for the -q table.
func (s *sink) conversation(c output.Conversation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.collect:
	case s.maxConvs > 0 && len(s.convs) >= s.maxConvs:
		s.rest.Add(&c)
	default:
		s.convs = append(s.convs, c)
	}
}

// count counts a captured segment.
func (s *sink) count() { s.packets.Add(1) }

// printPacket prints a captured segment when verbose.
func (s *sink) printPacket(seg *capture.Segment, verbose bool) {
	if !verbose {
		return // no lock per packet unless every packet is printed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if verbose && !s.quiet && (s.limit == 0 || s.messages < s.limit) {
		s.note(s.out.TCP(seg))
	}
}

func (s *sink) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.note(s.out.Flush())
	return s.writeErr
}

// err returns the first write error; it takes the lock only once there is
// one.
func (s *sink) err() error {
	if !s.failed.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeErr
}

// totals returns the counts and the first write error.
func (s *sink) totals() (packets, events uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets.Load(), s.events, s.writeErr
}

// messageCount returns the ZMTP messages decoded.
func (s *sink) messageCount() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messages
}

// conversations returns the conversations kept for the -q table.
func (s *sink) conversations() []output.Conversation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.convs
}

// defaultSummaryRows is --summary-rows: a conversation kept for the -q
// table costs about 460 bytes, so 10,000 rows hold about 5 MB however long
// the capture runs.
const defaultSummaryRows = 10000

// writeConversations writes the -q table: the conversations kept, and a
// line of totals for those past the row limit.
func (s *sink) writeConversations(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return output.WriteConversationsRest(w, s.convs, s.rest)
}
