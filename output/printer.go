package output

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Printer writes one line per TCP segment or ZMTP event.
type Printer interface {
	// TCP prints a captured TCP segment (verbose mode).
	TCP(seg *capture.Segment) error
	// Event prints a ZMTP event seen at t from src to dst.
	Event(t time.Time, src, dst netip.AddrPort, ev zmtp.Event) error
	// Gap prints that n bytes from src to dst were lost.
	Gap(t time.Time, src, dst netip.AddrPort, n uint64) error
	// Flush writes out anything buffered.
	Flush() error
}

// From says which side of a connection sent an event.
type From uint8

// Senders of an event.
const (
	// FromUnknown: the printer is not told.
	FromUnknown From = iota
	// FromClient: the side that sent the connection's first SYN.
	FromClient
	// FromServer: the other side.
	FromServer
)

// DirPrinter is a Printer that can be told which side sent an event, to
// tell the two directions of a connection apart (the text printer colours
// them). Event and Gap behave as EventFrom and GapFrom with FromUnknown.
type DirPrinter interface {
	Printer
	// EventFrom prints a ZMTP event sent by from.
	EventFrom(from From, t time.Time, src, dst netip.AddrPort, ev zmtp.Event) error
	// GapFrom prints that n bytes sent by from were lost.
	GapFrom(from From, t time.Time, src, dst netip.AddrPort, n uint64) error
}

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
}
