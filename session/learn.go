package session

import (
	"time"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/learn"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Learning mode: --explain notes under events, --ladder diagrams at the end
// of each connection.

// learning is what a session keeps for --explain and --ladder; nil parts
// are off.
type learning struct {
	explain *learn.Explainer
	ladder  *learn.Ladder
}

// newLearning returns the learning state of a new connection, or nil when
// neither --explain nor --ladder is on.
func (c *Config) newLearning(conn *flows.Conn) *learning {
	var l learning
	if c.Explain != ExplainOff {
		l.explain = learn.NewExplainer(c.Explain == ExplainAll)
		l.explain.SetIPC(conn.Ifindex == IPCIfindex)
	}
	if c.Ladder {
		l.ladder = learn.NewLadder(conn.Client, conn.Server, 0)
	}
	if l.explain == nil && l.ladder == nil {
		return nil
	}
	return &l
}

// data records a segment of direction d (greeting pieces).
func (l *learning) data(d segment.Dir, n int, seg *segment.Segment) {
	if l == nil {
		return
	}
	if l.explain != nil {
		l.explain.Data(d, n)
	}
	if l.ladder != nil {
		l.ladder.Data(d, seg.Time, n)
	}
}

// skip records n bytes of direction d not captured, right after the data
// of the same segment: not a loss, and no segment of their own, but they
// move the offsets on.
func (l *learning) skip(d segment.Dir, n uint64) {
	if l == nil {
		return
	}
	if l.explain != nil {
		l.explain.Skip(d, n)
	}
	if l.ladder != nil {
		l.ladder.Skip(d, n)
	}
}

// event records ev sent in direction d at t and returns its notes.
func (l *learning) event(d segment.Dir, t time.Time, ev zmtp.Event) []output.Note {
	if l == nil {
		return nil
	}
	if l.ladder != nil {
		l.ladder.Event(d, t, ev)
	}
	if l.explain != nil {
		return l.explain.Notes(d, ev)
	}
	return nil
}

// gap records n bytes lost in direction d at t and returns its notes.
func (l *learning) gap(d segment.Dir, t time.Time, n uint64) []output.Note {
	if l == nil {
		return nil
	}
	if l.ladder != nil {
		l.ladder.Gap(d, t, n)
	}
	if l.explain != nil {
		return l.explain.Gap(d, n)
	}
	return nil
}

// drawn returns the ladder to draw at the end of the connection, or nil.
func (l *learning) drawn() *learn.Ladder {
	if l == nil {
		return nil
	}
	return l.ladder
}
