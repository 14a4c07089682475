package flows

import (
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Reassembler is what a capture pipeline needs of flows: the
// single-goroutine Assembler or the Sharded front end, driven the same way.
type Reassembler interface {
	// Add hands over one captured segment.
	Add(seg *segment.Segment)
	// Expire closes connections idle at now.
	Expire(now time.Time)
	// Flush closes every connection, as at the end of a capture at now.
	Flush(now time.Time)
	// Stats returns the counts so far.
	Stats() Stats
	// Send hands partial batches to their goroutines (Sharded; a no-op for
	// an Assembler), when segments stop coming for a while.
	Send()
	// Close stops the goroutines (Sharded; a no-op for an Assembler).
	Close()
	// Each calls a function with the Consumer of every open connection,
	// on the goroutines that own them, and returns once it has (see
	// Assembler.Each, Sharded.Each).
	Each(f func(Consumer))
}

var (
	_ Reassembler = (*Assembler)(nil)
	_ Reassembler = (*Sharded)(nil)
)

// Send implements Reassembler: an Assembler holds no batches.
func (*Assembler) Send() {}

// Close implements Reassembler: an Assembler runs no goroutines.
func (*Assembler) Close() {}
