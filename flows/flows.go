package flows

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
)

// Dir names a direction of a connection.
type Dir uint8

// Directions. The client is the endpoint that sent the SYN or, for a
// connection picked up mid-stream, the sender of the first segment seen.
const (
	ClientToServer Dir = 0
	ServerToClient Dir = 1
)

// CloseReason says why a connection ended.
type CloseReason uint8

// Reasons for Close.
const (
	Finished CloseReason = iota // both sides sent FIN
	Reset                       // a RST was seen
	Idle                        // no packet for Config.IdleTimeout
	Flushed                     // the capture ended
)

// String returns a lowercase word for the reason.
func (r CloseReason) String() string {
	switch r {
	case Finished:
		return "closed"
	case Reset:
		return "reset"
	case Idle:
		return "idle"
	}
	return "capture ended"
}

// Conn describes a connection.
type Conn struct {
	// Client and Server are the two endpoints (see Dir).
	Client, Server netip.AddrPort
	// MidStream reports that the capture started after the connection
	// had opened: its first bytes were never seen.
	MidStream bool
	// Start is the time of the first segment seen.
	Start time.Time
}

// Src returns the sender's endpoint for a direction.
func (c *Conn) Src(d Dir) netip.AddrPort {
	if d == ClientToServer {
		return c.Client
	}
	return c.Server
}

// Dst returns the receiver's endpoint for a direction.
func (c *Conn) Dst(d Dir) netip.AddrPort {
	if d == ClientToServer {
		return c.Server
	}
	return c.Client
}

// Consumer receives one connection's streams. seg is the segment being
// processed when the call is made (for its time); p is valid only during the
// call.
type Consumer interface {
	// Data delivers the next bytes of direction d, in order, each once.
	Data(d Dir, p []byte, seg *capture.Segment)
	// Gap reports that the next n bytes of direction d were lost.
	Gap(d Dir, n uint64, seg *capture.Segment)
	// Close ends the connection; no call follows it.
	Close(reason CloseReason, seg *capture.Segment)
}

// Factory makes the Consumer of a new connection.
type Factory func(c *Conn) Consumer
