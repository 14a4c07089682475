package zmtp

import "sync"

// workPool shares the work of Decoders between the directions that need
// one: a direction holds a work only while it is inside a greeting, a
// frame, a message or a command, so that thousands of open connections
// between messages cost a few hundred bytes each, not a frame arena each.
// The pool holds no state a caller can see: a work is cleared before use.
var workPool = sync.Pool{New: func() any { return new(work) }}

// enter starts a public call: it makes sure the Decoder holds a work.
// Calls nest (resume and refeed feed the Decoder again); the outermost
// leave gives the work back.
func (d *Decoder) enter() {
	if d.work == nil {
		w := workPool.Get().(*work)
		// Cleared, keeping the buffers' capacity: nothing of the last
		// user's state survives.
		*w = work{frames: w.frames[:0], arena: w.arena[:0], cmdBuf: w.cmdBuf[:0], props: w.props[:0]}
		d.work = w
	}
	d.depth++
}

// leave ends a public call. At the outermost one it keeps the first
// greeting bytes for the peer and, if the direction is between messages,
// gives its work back to the pool.
func (d *Decoder) leave() {
	d.depth--
	if d.depth > 0 || d.work == nil {
		return
	}
	if n := min(d.greetN, len(d.pre)); n > int(d.preN) {
		d.preN = uint8(copy(d.pre[:], d.greet[:n]))
	}
	if !d.idle() {
		return
	}
	d.search = nil // a search that gave up (stDead) is dropped with it
	workPool.Put(d.work)
	d.work = nil
}

// idle reports whether the direction holds nothing in progress: between
// two frames of no message, stopped, or in a greeting of which nothing
// arrived. A direction searching for a boundary keeps its work, which
// holds the search.
func (d *Decoder) idle() bool {
	switch d.st {
	case stDead:
		return true
	case stGreeting:
		return d.greetN == 0
	case stFlags, stV1Len:
		return !d.inMsg
	}
	return false
}

// prefix returns the first greeting bytes seen (at most 11: the
// signature and the version octet), which is what the peer's version
// detection reads of this direction (peerV1, peerMajor), held or not.
func (d *Decoder) prefix() []byte {
	if d.work != nil && d.st == stGreeting {
		return d.greet[:min(d.greetN, len(d.pre))]
	}
	return d.pre[:d.preN]
}

// pokeHeld is poke for a direction that may hold no work: one that holds
// none has no greeting bytes waiting for the peer.
func (d *Decoder) pokeHeld(emit func(Event)) {
	if d.work != nil {
		d.enter()
		d.poke(emit)
		d.leave()
	}
}
