package diagnose

import (
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Refused follows connection attempts answered by RST across connections,
// and reports each burst of them as one connect-refused problem.
type Refused struct {
	cfg Config
}

// NewRefused returns an empty follower of refused attempts.
func NewRefused(cfg Config) *Refused { return &Refused{cfg: cfg.withDefaults()} }

// Segment looks at a segment carrying SYN or RST (others are ignored) and
// returns the bursts it ends.
func (r *Refused) Segment(seg *segment.Segment) []Problem { return nil }

// Flush returns the bursts that ended by now (no refused attempt for
// Config.RefusedQuiet), or, with final, all of them.
func (r *Refused) Flush(now time.Time, final bool) []Problem { return nil }
