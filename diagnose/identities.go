package diagnose

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Identities follows the identities clients announce to each server
// endpoint, across connections, and reports duplicates.
type Identities struct {
	cfg Config
}

// NewIdentities returns an empty follower of identities.
func NewIdentities(cfg Config) *Identities { return &Identities{cfg: cfg.withDefaults()} }

// Event looks at an event decoded from direction d of the connection from
// client to server (feed it every event, as Conn.Event) and returns the
// duplicate it shows, if any.
func (i *Identities) Event(client, server netip.AddrPort, d segment.Dir, t time.Time, ev zmtp.Event) []Problem {
	return nil
}

// Close forgets the connection from client to server.
func (i *Identities) Close(client, server netip.AddrPort) {}
