package loader

import (
	"errors"
	"os"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Reading a Capture: Next takes the records out of the ring (ring.go) as
// Segments (record.go), dropping the copies a second interface showed
// (dedup.go), and applies interface changes between reads (follow.go).

// wakeupBytes is how much must wait in the ring before the kernel wakes the
// reader (a sixteenth of the ring, at most 2 MiB); below that it wakes the
// reader for a record that finds the ring empty, at most every 10 ms, and
// the reader polls for the rest (see PollInterval).
func wakeupBytes(ring int) uint64 { return uint64(min(ring/16, 2<<20)) }

// PollInterval is how often Next looks into the ring, while records come,
// for those the kernel did not wake it for. Each look that finds nothing
// doubles the interval, up to MaxPollInterval: an idle capture costs
// almost nothing, and the first record after a lull wakes the reader.
const PollInterval = 50 * time.Millisecond

// MaxPollInterval bounds the polling interval of an idle capture.
const MaxPollInterval = time.Second

// ErrClosed is returned by Next after Interrupt or Close.
var ErrClosed = errors.New("capture closed")

// Next blocks until the next captured segment and fills seg with it.
// seg.Payload is valid until the next call. Next returns ErrClosed once
// Interrupt or Close was called, and os.ErrDeadlineExceeded when a deadline
// set with SetDeadline passes.
//
// The kernel wakes the reader when enough records wait or a record finds
// the ring empty (see wakeupBytes); Next polls the ring for the others, at
// PollInterval while records come and less often while none do (see
// PollInterval).
func (c *Capture) Next(seg *segment.Segment) error {
	for {
		// The reader consults its deadline only when the ring is empty, so
		// it is moved only then, not once per record.
		rec, err := c.rd.read()
		if err != nil {
			if errors.Is(err, errRingClosed) {
				return ErrClosed
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.follow.apply(c) // interfaces that came or went, if any
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.woken.Swap(false) && (c.deadline.IsZero() || time.Now().Before(c.deadline)) {
				// Our own poll, not the caller's deadline: nothing came
				// since the last one, look less often.
				c.poll = min(2*c.poll, MaxPollInterval)
				c.armPoll()
				continue
			}
			return err
		}
		if c.poll != PollInterval {
			// Records again: poll at the short interval.
			c.poll = PollInterval
			c.armPoll()
		}
		if err := decodeRecord(rec, c.base, c.counting, seg); err != nil {
			return err
		}
		if !c.dedup.seen(seg) {
			return nil
		}
		if c.counting {
			c.noteCopy(seg, c.dedup.first)
		}
	}
}

// SetDeadline makes Next return os.ErrDeadlineExceeded at t, when no record
// is waiting. The zero time removes the deadline. Call it from the
// goroutine that calls Next.
func (c *Capture) SetDeadline(t time.Time) {
	c.deadline = t
	c.armPoll()
}

// armPoll sets the reader's deadline to the next poll, or to the caller's
// deadline if that comes first.
func (c *Capture) armPoll() {
	if c.poll == 0 {
		c.poll = PollInterval
	}
	poll := time.Now().Add(c.poll)
	if !c.deadline.IsZero() && c.deadline.Before(poll) {
		poll = c.deadline
	}
	c.rd.setDeadline(poll)
}

// Wake makes a pending or the next Next that finds the ring empty return
// os.ErrDeadlineExceeded now, as if its deadline had passed, so that the
// reading goroutine looks at what another asked of it (a metrics scrape).
// It is safe to call from any goroutine.
func (c *Capture) Wake() {
	if c.rd != nil {
		c.woken.Store(true)
		c.rd.setDeadline(time.Now())
	}
}

// Interrupt makes a pending or future Next return ErrClosed. It is safe to
// call from any goroutine, more than once.
func (c *Capture) Interrupt() {
	if c.rd != nil {
		c.rd.interrupt()
	}
}
