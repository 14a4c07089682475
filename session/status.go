package session

import (
	"fmt"
	"io"
	"time"
)

// status is the live status line on stderr: rewritten in place about once
// a second, cleared at the end. A nil *status does nothing.
type status struct {
	w             io.Writer
	last          time.Time
	packets, msgs uint64
	shown         bool
}

func newStatus(w io.Writer, now time.Time) *status { return &status{w: w, last: now} }

// due reports whether a second has passed since the line was drawn.
func (s *status) due(now time.Time) bool {
	return s != nil && now.Sub(s.last) >= time.Second
}

// show redraws the line with the totals and the rates since the last one.
func (s *status) show(now time.Time, packets, msgs, drops uint64) {
	if s == nil {
		return
	}
	secs := now.Sub(s.last).Seconds()
	fmt.Fprintf(s.w, "\r%d packets (%.0f/s), %d ZMTP messages (%.0f/s), %d dropped by kernel\x1b[K",
		packets, float64(packets-s.packets)/secs, msgs, float64(msgs-s.msgs)/secs, drops)
	s.last, s.packets, s.msgs, s.shown = now, packets, msgs, true
}

// clear erases the line.
func (s *status) clear() {
	if s != nil && s.shown {
		fmt.Fprint(s.w, "\r\x1b[K")
		s.shown = false
	}
}
