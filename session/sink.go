package session

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// sink is where sessions and the reader print, and what they count. It is
// safe for concurrent use when shared: under a sharded assembler, sessions
// of different connections run on different goroutines. The lock is taken
// per printed line when shared, never per packet unless -v prints every
// packet. Unshared, the pipeline's one goroutine makes every call (there
// is no other in package session), and event, the call per message, goes
// without the lock: its two atomic operations were a tenth of a message's
// cost on a burst of small messages.
type sink struct {
	mu sync.Mutex
	// shared: sessions call from several goroutines (set before the
	// first call, never changed).
	shared bool
	out    output.Printer
	// line is the Line handed to out, reused (under mu): a Line made per
	// event would escape to the heap through the Printer interface.
	line output.Line
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
	// problems sums up the problems seen, printed or not (-q, past -c).
	problems diagnose.Summary
	// idents finds duplicate identities across the sessions that print
	// here (nil: --no-problems); it has its own lock.
	idents *identities
}

func newSink(out output.Printer) *sink { return &sink{out: out} }

func (s *sink) note(err error) {
	if err != nil && !s.stdoutClosed(err) && s.writeErr == nil {
		s.writeErr = err
		s.failed.Store(true)
	}
}

// event prints a ZMTP event described by l (its sender, time, endpoints,
// owners and notes); counted says whether it counts as decoded. l is
// copied, not kept.
func (s *sink) event(l *output.Line, ev zmtp.Event, counted bool) {
	s.eventFrom(nil, 0, nil, l, ev, counted)
}

// sessionEvent prints ev, sent by ss in direction d at its segment's
// time with notes, as event does; its Line is made in place, not built
// apart and copied in (the call per message).
func (s *sink) sessionEvent(ss *session, d segment.Dir, notes []output.Note, ev zmtp.Event, counted bool) {
	s.eventFrom(ss, d, notes, nil, ev, counted)
}

// eventFrom is event (ss nil, l the event's Line) and sessionEvent (l
// nil).
func (s *sink) eventFrom(ss *session, d segment.Dir, notes []output.Note, l *output.Line, ev zmtp.Event, counted bool) {
	if s.shared {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	if counted {
		s.events++
	}
	if s.limit > 0 && s.messages >= s.limit && counted {
		return // past -c: only connection summaries
	}
	if _, isMsg := ev.(*zmtp.Message); isMsg {
		s.messages++
		if s.messages == s.limit && s.stop != nil {
			s.stop()
		}
	}
	if !s.quiet {
		if ss != nil {
			ln := &s.line
			ln.From, ln.Time, ln.Src, ln.Dst = d, ss.seg.Time, ss.conn.Src(d), ss.conn.Dst(d)
			ln.Owners, ln.Notes, ln.IPC = ss.ownersFor(d), notes, ss.ipc()
		} else {
			s.line = *l
		}
		s.note(s.out.Event(&s.line, ev))
		// Nothing of the connection is kept (the rest holds no pointer
		// into it).
		s.line.Owners, s.line.Notes, s.line.Health, s.line.IPC = nil, nil, nil, nil
	}
}

// problem prints a problem described by l: counted among the events
// (not the messages) and in the exit summary, printed unless quiet or,
// as a gap, past -c.
func (s *sink) problem(l output.Line, p *diagnose.Problem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events++
	s.problems.Add(p)
	if s.quiet || s.limit > 0 && s.messages >= s.limit {
		return
	}
	s.line = l
	s.note(s.out.Event(&s.line, p))
	s.line = output.Line{}
}

// writeProblems writes the exit summary of problems, quiet or not;
// nothing when there was none.
func (s *sink) writeProblems() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.problems.Empty() {
		s.note(s.out.Problems(s.problems.Kinds()))
	}
}

// gap prints a gap described by l, unless past -c.
func (s *sink) gap(l output.Line, g *zmtp.Gap) {
	s.mu.Lock()
	past := s.limit > 0 && s.messages >= s.limit
	s.mu.Unlock()
	if !past {
		s.event(&l, g, false)
	}
}

// drawing writes the ladder of a finished connection (--ladder), drawn by
// draw (appending to its argument) only when it is printed.
func (s *sink) drawing(draw func([]byte) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.quiet {
		s.note(s.out.Drawing(draw(nil)))
	}
}

// connection prints a connection's summary described by l, with its
// health figures h (nil: none).
func (s *sink) connection(l output.Line, ev *zmtp.Connection, h *diagnose.Health) {
	l.Health = h
	s.event(&l, ev, false)
}

// owners prints, once per connection, which processes own its ends.
func (s *sink) owners(l output.Line) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.quiet {
		s.line = l
		s.note(s.out.Owners(&s.line))
		s.line = output.Line{}
	}
}

// stats writes the exit statistics, quiet or not.
func (s *sink) stats(st *output.Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.note(s.out.Stats(st))
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
func (s *sink) printPacket(seg *segment.Segment, verbose bool) {
	if !verbose {
		return // no lock per packet unless every packet is printed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if verbose && !s.quiet && (s.limit == 0 || s.messages < s.limit) {
		s.note(s.out.Packet(seg))
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

// writeConversations writes the -q table: the conversations kept, and a
// line of totals for those past the row limit.
func (s *sink) writeConversations(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return output.WriteConversationsRest(w, s.convs, s.rest)
}

// isBrokenPipe reports a write to a closed pipe (zmtpdump | head).
func isBrokenPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }

// stdoutClosed handles a write error of the printer that says its reader
// went away (zmtpdump | head -1): nothing more is printed, as tcpdump does.
// Unless the sink was told to finish (-r with -w FILE: the file still gets
// every packet of the input), the error is kept, so that the source stops
// as at -c: the -w file is closed whole, the statistics go to stderr and
// zmtpdump exits 0. It reports whether err was that. The caller holds s.mu.
func (s *sink) stdoutClosed(err error) bool {
	if !isBrokenPipe(err) {
		return false
	}
	s.quiet = true
	if !s.finishOnClose && s.writeErr == nil {
		s.writeErr = err
		s.failed.Store(true)
	}
	return true
}
