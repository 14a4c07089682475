package flows

import "time"

// Each calls f with the Consumer of every open connection, on the caller's
// goroutine (an Assembler's Consumers run on it), in no particular order.
// f must not call back into the Assembler.
func (a *Assembler) Each(f func(Consumer)) {
	for _, c := range a.conns {
		if c.consumer != nil {
			f(c.consumer)
		}
	}
}

// Each has every shard call f with the Consumer of each of its open
// connections, after the segments added so far, and waits until they all
// have. f runs on the shard goroutines, on several at once: it must be
// safe for concurrent use, and must not call back into the Sharded. Like
// every other method of Sharded, Each is called from one goroutine.
func (s *Sharded) Each(f func(Consumer)) {
	for _, sh := range s.shards {
		sh.each = f
		s.queue(sh, opEach, time.Time{})
		s.send(sh)
	}
	for _, sh := range s.shards {
		<-sh.eachDone
		sh.each = nil
	}
}
