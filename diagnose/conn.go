package diagnose

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Conn follows one connection's problems and figures. It is not safe for
// concurrent use.
type Conn struct {
	client, server netip.AddrPort
	cfg            Config
}

// NewConn returns the diagnosis of a connection from client to server.
func NewConn(client, server netip.AddrPort, cfg Config) *Conn {
	return &Conn{client: client, server: server, cfg: cfg.withDefaults()}
}

// Event judges an event decoded from direction d at time t, and returns the
// problems it shows (nil, almost always).
func (c *Conn) Event(d segment.Dir, t time.Time, ev zmtp.Event) []Problem {
	return nil
}

// Traffic records that direction d carried payload at time t.
func (c *Conn) Traffic(d segment.Dir, t time.Time) {}

// Stall records that the sender of direction d became stalled (stalled) or
// recovered at time t, and returns the problems it shows.
func (c *Conn) Stall(d segment.Dir, stalled bool, t time.Time) []Problem {
	return nil
}

// Close ends the connection: end is why, t when, midMessage whether a
// message or a frame was in progress. It returns the problems the end shows.
func (c *Conn) Close(end segment.CloseReason, t time.Time, midMessage bool) []Problem {
	return nil
}

// Health returns the connection's figures, nil when there are none.
func (c *Conn) Health() *Health { return nil }
