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

// Options shape the output.
type Options struct {
	// Location is the time zone of text timestamps (default: local).
	Location *time.Location
	// Verbose adds detail to text lines (the greeting's signature bytes).
	Verbose bool
	// ShowSecrets prints secrets (the password of a PLAIN HELLO) instead of
	// their length.
	ShowSecrets bool
}
