package zmtp

import "github.com/zmtpdump/zmtpdump/segment"

// A Conn decodes both directions of one connection with two Decoders that
// know about each other, as ZMTP's version negotiation needs: a peer
// downgrades to ZMTP 2.0 or 1.0 only when the other side announced it
// (RFC 23, "Backwards Interoperability"), and both must name the same
// mechanism. A direction whose version depends on the other side's greeting
// holds at most its 64 greeting bytes until that greeting is seen, the other
// side stops, or Close is called.
//
// A Conn also counts what each side sent and, on Close, emits a
// *Connection summary. Like a Decoder it does no I/O, is not safe for
// concurrent use, and its events are valid only during the emit call. The
// emit callbacks must not call back into the Conn.
type Conn struct {
	dec    [2]Decoder
	counts [2]counts
	ident  *[2][]byte // the identities seen, if any
}

// counts are what a Conn counts of one direction's events.
type counts struct {
	messages, messageBytes, commands uint64
}

// NewConn returns a Conn whose Decoders use opts.
func NewConn(opts Options) *Conn {
	c := &Conn{}
	c.dec[0].init(opts)
	c.dec[1].init(opts)
	c.dec[0].peer, c.dec[1].peer = &c.dec[1], &c.dec[0]
	return c
}

// Decoder returns the Decoder of direction d, for its Offset and Err.
func (c *Conn) Decoder(d segment.Dir) *Decoder { return &c.dec[d&1] }

// Feed consumes p, the next bytes of direction d, and calls emit for each
// event completed, in order, with the direction it belongs to: the bytes of
// d may let the other direction decide its version and emit its held
// events. emit may be nil.
func (c *Conn) Feed(d segment.Dir, p []byte, emit func(segment.Dir, Event)) {
	emit = orDiscard(emit)
	d &= 1
	c.dec[d].Feed(p, func(e Event) { c.observe(d, e, emit) })
	c.dec[d^1].pokeHeld(func(e Event) { c.observe(d^1, e, emit) })
}

// Gap tells direction d that its next n bytes were lost (see Decoder.Gap).
func (c *Conn) Gap(d segment.Dir, n uint64, emit func(segment.Dir, Event)) {
	c.pass(d, n, false, emit)
}

// Skip tells direction d that its next n bytes were sent but not captured
// (see Decoder.Skip). Like Gap, a skip that stops d (in its greeting, for
// one) lets the other direction, if it was waiting for d's greeting to
// decide its version, decide without it.
func (c *Conn) Skip(d segment.Dir, n uint64, emit func(segment.Dir, Event)) {
	c.pass(d, n, true, emit)
}

// pass runs Gap or Skip (uncaptured) on direction d, then lets the other
// direction decide its version if d's state allows it now.
func (c *Conn) pass(d segment.Dir, n uint64, uncaptured bool, emit func(segment.Dir, Event)) {
	emit = orDiscard(emit)
	d &= 1
	c.dec[d].pass(n, uncaptured, func(e Event) { c.observe(d, e, emit) })
	c.dec[d^1].pokeHeld(func(e Event) { c.observe(d^1, e, emit) })
}

// Passes reports whether a Gap or Skip of n bytes in direction d now would
// be passed over inside a frame body (see Decoder.Passes).
func (c *Conn) Passes(d segment.Dir, n uint64) bool { return c.dec[d&1].Passes(n) }

// JoinMidStream tells direction d that the capture started after its
// start (see Decoder.JoinMidStream). Call it before d's first byte.
func (c *Conn) JoinMidStream(d segment.Dir) { c.dec[d&1].JoinMidStream() }

// Boundary tells direction d that its next byte starts a frame header the
// capture marked (see Decoder.Boundary).
func (c *Conn) Boundary(d segment.Dir, msgStart bool, emit func(segment.Dir, Event)) {
	emit = orDiscard(emit)
	d &= 1
	c.dec[d].Boundary(msgStart, func(e Event) { c.observe(d, e, emit) })
}

// Stop ends decoding of direction d with an *Error wrapping err (see
// Decoder.Stop); later bytes of d are only counted.
func (c *Conn) Stop(d segment.Dir, err error, emit func(segment.Dir, Event)) {
	emit = orDiscard(emit)
	d &= 1
	c.dec[d].Stop(err, func(e Event) { c.observe(d, e, emit) })
	c.dec[d^1].pokeHeld(func(e Event) { c.observe(d^1, e, emit) })
}

// Close ends the connection: a direction still waiting for the other's
// greeting decides without it, then a *Connection summary is emitted as an
// event of segment.ClientToServer. end says why the connection ended; it
// is copied into Connection.End. The Conn must not be used afterwards.
func (c *Conn) Close(end segment.CloseReason, emit func(segment.Dir, Event)) {
	emit = orDiscard(emit)
	for d := range c.dec {
		c.dec[d].forced = true
		c.dec[d].pokeHeld(func(e Event) { c.observe(segment.Dir(d), e, emit) })
	}
	// Made here, once per connection, rather than kept in every Conn.
	ev := &Connection{End: end}
	for d := range c.dec {
		dec, n, s := &c.dec[d], &c.counts[d], &ev.Sides[d]
		s.Greeted = dec.greeted
		s.Major, s.Minor, s.Downgraded, s.Mechanism = dec.major, dec.minor, dec.down, dec.mech
		s.SocketType = dec.sockType
		s.Messages, s.MessageBytes, s.Commands = n.messages, n.messageBytes, n.commands
		s.StreamBytes = dec.off
		s.Err = dec.err
		s.Joined, s.Resyncs, s.Inferred = dec.joined, dec.resyncs, dec.inferred
		if c.ident != nil {
			s.Identity = c.ident[d]
		}
	}
	emit(segment.ClientToServer, ev)
}

func orDiscard(emit func(segment.Dir, Event)) func(segment.Dir, Event) {
	if emit == nil {
		return discardDir
	}
	return emit
}

func discardDir(segment.Dir, Event) {}

// observe counts an event of direction d and passes it on to emit.
func (c *Conn) observe(d segment.Dir, e Event, emit func(segment.Dir, Event)) {
	n := &c.counts[d]
	switch e := e.(type) {
	case *Message:
		n.messages++
		n.messageBytes = satAdd(n.messageBytes, e.Bytes)
	case *Command:
		n.commands++
		for _, p := range e.Properties {
			if isProperty(p.Name, "Identity") {
				c.setIdentity(d, p.Value)
			}
		}
	case *Identity:
		c.setIdentity(d, e.Data)
	}
	emit(d, e)
}

// setIdentity keeps up to 255 bytes of d's identity. The first identity
// of a connection allocates; a later one reuses the space.
func (c *Conn) setIdentity(d segment.Dir, id []byte) {
	if c.ident == nil {
		c.ident = new([2][]byte)
	}
	id = id[:min(len(id), maxIdentity)]
	c.ident[d] = append(c.ident[d][:0], id...)
}
