package output

import (
	"io"
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Line is what a printer is told of an event besides the event itself:
// who sent it, when, between which endpoints, the processes owning them
// and the notes that explain it (--explain).
type Line struct {
	// From is the direction the event was sent in.
	From segment.Dir
	// Time is when the segment that completed the event was seen.
	Time time.Time
	// Src and Dst are the sender's and receiver's endpoints.
	Src, Dst netip.AddrPort
	// IPC is the ipc:// connection the event belongs to, whose ends Src
	// and Dst's synthetic addresses are (see AppendEnd); nil for TCP.
	// Printers do not change it; they keep it only until the next line.
	IPC *segment.IPC
	// Owners are the processes owning Src and Dst (nil: unknown).
	Owners *Owners
	// Notes explain the event (nil: none). The printer does not keep the
	// slice after the call.
	Notes []Note
	// Health is the connection's figures (latency, heartbeat interval,
	// time stalled, subscriptions), set on a *zmtp.Connection event only
	// (nil: none known, nothing printed of them).
	Health *diagnose.Health
}

// Printer writes what zmtpdump prints: one line per TCP segment (-v) or
// ZMTP event, the owners of a connection, a drawn ladder and the exit
// statistics. A Printer is not safe for concurrent use.
type Printer interface {
	// Packet prints a captured TCP segment (verbose mode).
	Packet(seg *segment.Segment) error
	// Event prints a ZMTP event (*zmtp.Gap and *diagnose.Problem
	// included) described by l.
	Event(l *Line, ev zmtp.Event) error
	// Owners says once per connection, when they become known, which
	// processes own its ends (l's Src and Dst are the client's and the
	// server's).
	Owners(l *Line) error
	// Drawing writes a drawn diagram (--ladder), every line ending in a
	// newline.
	Drawing(b []byte) error
	// Problems writes the exit summary of the problems seen, by kind
	// (nothing when kinds is empty): for people on Options.Stderr and,
	// in JSON, as a line {"event":"problems",...}.
	Problems(kinds []diagnose.KindCount) error
	// Stats writes the exit statistics of a live capture.
	Stats(st *Stats) error
	// Flush writes out anything buffered.
	Flush() error
}

// Both printers implement the whole contract.
var (
	_ Printer = (*Text)(nil)
	_ Printer = (*JSON)(nil)
)

// Body says how the text printer shows frame bodies.
type Body uint8

// Body display modes.
const (
	// BodyQuotedHex shows kept bytes quoted and in hex on the event line
	// (the default).
	BodyQuotedHex Body = iota
	// BodyText shows kept bytes quoted only (-A).
	BodyText
	// BodyHexDump shows kept bytes quoted on the event line, then as an
	// offset/hex/ASCII dump on indented lines after it, like tcpdump -X.
	BodyHexDump
)

// Options shape the output.
type Options struct {
	// Location is the time zone of text timestamps (default: local).
	Location *time.Location
	// Time is the format of text timestamps (default: time of day).
	Time TimeFormat
	// Body is how text lines show frame bodies.
	Body Body
	// Color adds ANSI colours to text lines.
	Color bool
	// Verbose adds detail to text lines (the greeting's signature bytes).
	Verbose bool
	// ShowSecrets prints secrets (the password of a PLAIN HELLO) instead of
	// their length.
	ShowSecrets bool
	// Stderr is where Stats writes the exit statistics for people (nil:
	// not written).
	Stderr io.Writer
}
