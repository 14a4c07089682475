package learn

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// A Ladder draws one connection as a sequence diagram (--ladder): the two
// endpoints side by side and, between them, one arrow per greeting piece,
// command or run of messages, like Wireshark's flow graph but in text:
//
//	ladder: 127.0.0.1:43758 -> 127.0.0.1:17001, ZMTP 3.1 NULL, closed
//	 time (s)  127.0.0.1:43758 (PUSH)             127.0.0.1:17001 (PULL)
//	    0.000  |<-- greeting 1/3: signature (10 bytes) ------------|
//	    0.200  |--- 3 messages (3 bytes) ------------------------->|
//
// Consecutive messages in one direction share a row. At most MaxRows rows
// are kept; later events are only counted ("... N more events"), except
// the end of the connection. It is not safe for concurrent use; one Ladder
// serves one connection.
type Ladder struct {
	client, server netip.AddrPort
	ipc            *segment.IPC // an ipc connection's ends (nil: TCP)
	max            int
	start          time.Time
	rows           []ladderRow
	more           uint64 // events not kept
	fed            [2]int // greeting-area bytes per side
	greet          [2]ladderGreeting
	end            *ladderRow
	summary        zmtp.Connection // Sides without Identity
	latency        string          // request/reply latency, "" when unknown
}

// DefaultLadderRows is the row cap of NewLadder when given 0.
const DefaultLadderRows = 60

// ladderGreeting is what the ladder knows of a side's greeting.
type ladderGreeting struct {
	known bool
	g     zmtp.Greeting // without slices: Signature is an array
}

type rowKind uint8

const (
	rowEvent    rowKind = iota
	rowPiece            // a segment of the first 64 bytes of a side
	rowGreeting         // replaced by the side's pieces when there are any
	rowMessages         // a run of messages
	rowEnd              // the connection's end
)

// ladderRow is one row; side is 0 for client to server, 1 the other way.
type ladderRow struct {
	t         time.Time
	kind      rowKind
	side      int
	label     string
	off, n    int    // rowPiece
	count     uint64 // rowMessages
	bytes     uint64
	encrypted bool
}

// NewLadder returns the Ladder of a connection from client (the side that
// sent the first SYN) to server, keeping at most maxRows rows (0:
// DefaultLadderRows).
func NewLadder(client, server netip.AddrPort, maxRows int) *Ladder {
	if maxRows <= 0 {
		maxRows = DefaultLadderRows
	}
	return &Ladder{client: client, server: server, max: maxRows}
}

func (l *Ladder) push(r ladderRow) {
	if l.start.IsZero() {
		l.start = r.t
	}
	if len(l.rows) >= l.max {
		l.more++
		return
	}
	l.rows = append(l.rows, r)
}

// Data records that n bytes sent by from arrived at t in one TCP segment:
// the segments of a greeting become rows of their own. Call it before the
// events those bytes complete.
func (l *Ladder) Data(from segment.Dir, t time.Time, n int) {
	i := sideIndex(from)
	if l.fed[i] >= greetingSize || n <= 0 {
		return
	}
	off := l.fed[i]
	l.fed[i] = min(greetingSize, off+n)
	l.push(ladderRow{t: t, kind: rowPiece, side: i, off: off, n: l.fed[i] - off})
}

// Skip records that n bytes sent by from, following those of the last Data
// call, were not captured (a payload cut short by the capture). They are no
// loss and draw nothing: they only move the offsets of the greeting pieces
// that follow on.
func (l *Ladder) Skip(from segment.Dir, n uint64) {
	i := sideIndex(from)
	l.fed[i] = int(min(uint64(greetingSize), uint64(l.fed[i])+n))
}

// Gap records that n bytes sent by from were lost at t.
func (l *Ladder) Gap(from segment.Dir, t time.Time, n uint64) {
	i := sideIndex(from)
	l.fed[i] = greetingSize
	l.push(ladderRow{t: t, side: i, label: "gap: " + output.Plural(n, "byte") + " lost"})
}

// Event records ev, sent by from at t. The *zmtp.Connection summary ends
// the ladder.
func (l *Ladder) Event(from segment.Dir, t time.Time, ev zmtp.Event) {
	i := sideIndex(from)
	switch e := ev.(type) {
	case *zmtp.Greeting:
		l.greet[i] = ladderGreeting{known: true, g: *e}
		l.push(ladderRow{t: t, kind: rowGreeting, side: i})
	case *zmtp.Message:
		l.message(i, t, e)
	case *zmtp.Connection:
		l.summary = *e
		for s := range l.summary.Sides {
			l.summary.Sides[s].Identity = nil
		}
		if l.start.IsZero() {
			l.start = t
		}
		l.end = &ladderRow{t: t, kind: rowEnd, label: e.End.String()}
	default:
		l.push(ladderRow{t: t, side: i, label: eventLabel(ev)})
	}
}

func (l *Ladder) message(i int, t time.Time, m *zmtp.Message) {
	if m.Subscription != zmtp.NoSubscription {
		l.push(ladderRow{t: t, side: i, label: m.Subscription.String() + " " + short(m.Topic)})
		return
	}
	if n := len(l.rows); n > 0 && l.more == 0 {
		r := &l.rows[n-1]
		if r.kind == rowMessages && r.side == i && r.encrypted == m.Encrypted {
			r.count++
			r.bytes += m.Bytes
			return
		}
	}
	l.push(ladderRow{t: t, kind: rowMessages, side: i, label: messageLabel(m), count: 1, bytes: m.Bytes, encrypted: m.Encrypted})
}

// maxLabel is the widest label drawn; longer ones are cut.
const maxLabel = 70

// short quotes at most 16 bytes of p.
func short(p []byte) string {
	if len(p) > 16 {
		return string(output.AppendQuoted(nil, p[:16])) + "..."
	}
	return string(output.AppendQuoted(nil, p))
}

func messageLabel(m *zmtp.Message) string {
	if m.Encrypted {
		return "MESSAGE (encrypted, " + output.Plural(m.Bytes, "byte") + ")"
	}
	var b strings.Builder
	b.WriteString("message ")
	for i := range m.Frames {
		if i > 0 {
			b.WriteString(" | ")
		}
		f := &m.Frames[i]
		b.WriteString(short(f.Data))
		if f.Truncated() && len(f.Data) <= 16 {
			b.WriteString("...")
		}
	}
	if m.FramesOmitted > 0 {
		fmt.Fprintf(&b, " | (%d more frames)", m.FramesOmitted)
	}
	if m.Bytes > 16 {
		b.WriteString(" (" + output.Plural(m.Bytes, "byte") + ")")
	}
	return b.String()
}

// SetHealth records the connection's health figures (nil: none), to be
// called before AppendTo: the title line shows the request/reply latency.
func (l *Ladder) SetHealth(h *diagnose.Health) { l.latency = output.LatencyText(h) }

// eventLabel is the label of a command, identity, gap, error or problem.
func eventLabel(ev zmtp.Event) string {
	switch e := ev.(type) {
	case *diagnose.Problem:
		return "problem: " + string(output.AppendEscaped(nil, e.Kind.String()))
	case *zmtp.Command:
		return commandLabel(e)
	case *zmtp.Identity:
		if e.Size == 0 {
			return "identity (anonymous)"
		}
		return "identity " + short(e.Data)
	case *zmtp.Gap:
		if e.MessagesKnown {
			return "gap: " + output.Plural(e.Bytes, "byte") + " lost (" + output.Plural(e.Messages, "message") + ")"
		}
		return "gap: " + output.Plural(e.Bytes, "byte") + " lost"
	case *zmtp.Resync:
		return "resync (" + e.Reason.String() + ", " + e.Source.String() + ")"
	case *zmtp.Error:
		for _, s := range []error{zmtp.ErrMalformedCommand, zmtp.ErrMechanismMismatch, zmtp.ErrBadSignature,
			zmtp.ErrReservedFlags, zmtp.ErrCommandMore, zmtp.ErrFrameTooLarge, zmtp.ErrOutOfSync,
			zmtp.ErrUnsupportedVersion, zmtp.ErrBadLength} {
			if errors.Is(e.Err, s) {
				return "error: " + s.Error()
			}
		}
		return "error: " + string(output.AppendEscaped(nil, e.Reason()))
	}
	return fmt.Sprintf("%T", ev)
}

func commandLabel(c *zmtp.Command) string {
	var b strings.Builder
	b.WriteString(string(output.AppendToken(nil, []byte(c.Name))))
	switch {
	case c.Mechanism == "CURVE" && c.Nonce != nil:
		fmt.Fprintf(&b, " (CURVE, %s", output.Plural(c.Size, "byte"))
		if c.Encrypted {
			b.WriteString(", encrypted")
		}
		b.WriteByte(')')
	case c.Kind == zmtp.KindHello && c.Mechanism == "PLAIN":
		b.WriteString(" (PLAIN) user " + short(c.Username))
	case c.Kind == zmtp.KindPing:
		fmt.Fprintf(&b, " ttl %d.%ds", c.TTL/10, c.TTL%10)
	case c.Kind == zmtp.KindSubscribe || c.Kind == zmtp.KindCancel:
		b.WriteString(" " + short(c.Topic))
	case c.Kind == zmtp.KindError:
		b.WriteString(" " + short(c.Reason))
	case len(c.Properties) > 0:
		for _, p := range c.Properties {
			b.WriteByte(' ')
			b.Write(output.AppendToken(nil, p.Name))
			b.WriteByte('=')
			if isWord(p.Value) {
				b.Write(p.Value)
			} else {
				b.WriteString(short(p.Value))
			}
		}
	case c.Kind == zmtp.KindPong || c.Kind == zmtp.KindWelcome:
	default:
		b.WriteString(" (" + output.Plural(c.Size, "byte") + ")")
	}
	return b.String()
}

// isWord reports a short printable value without spaces or quotes.
func isWord(p []byte) bool {
	if len(p) == 0 || len(p) > 16 {
		return false
	}
	for _, c := range p {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
