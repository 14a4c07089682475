package zmtp

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
	dec   [2]*Decoder
	fwd   [2]func(Event) // per-direction observers, made once
	emit  func(Dir, Event)
	sides [2]Side
	ident [2][maxIdentity]byte
	ev    Connection
}

// NewConn returns a Conn whose Decoders use opts.
func NewConn(opts Options) *Conn {
	c := &Conn{}
	c.dec[0], c.dec[1] = NewDecoder(opts), NewDecoder(opts)
	c.dec[0].peer, c.dec[1].peer = c.dec[1], c.dec[0]
	c.fwd[0] = func(e Event) { c.observe(ClientToServer, e) }
	c.fwd[1] = func(e Event) { c.observe(ServerToClient, e) }
	return c
}

// Decoder returns the Decoder of direction d, for its Offset and Err.
func (c *Conn) Decoder(d Dir) *Decoder { return c.dec[d&1] }

// Feed consumes p, the next bytes of direction d, and calls emit for each
// event completed, in order, with the direction it belongs to: the bytes of
// d may let the other direction decide its version and emit its held
// events. emit may be nil.
func (c *Conn) Feed(d Dir, p []byte, emit func(Dir, Event)) {
	c.begin(emit)
	d &= 1
	c.dec[d].Feed(p, c.fwd[d])
	c.dec[d^1].poke(c.fwd[d^1])
	c.emit = nil
}

// Gap tells direction d that its next n bytes were lost (see Decoder.Gap).
func (c *Conn) Gap(d Dir, n uint64, emit func(Dir, Event)) {
	c.pass(d, n, false, emit)
}

// Skip tells direction d that its next n bytes were sent but not captured
// (see Decoder.Skip). Like Gap, a skip that stops d (in its greeting, for
// one) lets the other direction, if it was waiting for d's greeting to
// decide its version, decide without it.
func (c *Conn) Skip(d Dir, n uint64, emit func(Dir, Event)) {
	c.pass(d, n, true, emit)
}

// pass runs Gap or Skip (uncaptured) on direction d, then lets the other
// direction decide its version if d's state allows it now.
func (c *Conn) pass(d Dir, n uint64, uncaptured bool, emit func(Dir, Event)) {
	c.begin(emit)
	d &= 1
	c.dec[d].pass(n, uncaptured, c.fwd[d])
	c.dec[d^1].poke(c.fwd[d^1])
	c.emit = nil
}

// Passes reports whether a Gap or Skip of n bytes in direction d now would
// be passed over inside a frame body (see Decoder.Passes).
func (c *Conn) Passes(d Dir, n uint64) bool { return c.dec[d&1].Passes(n) }

// JoinMidStream tells direction d that the capture started after its
// start (see Decoder.JoinMidStream). Call it before d's first byte.
func (c *Conn) JoinMidStream(d Dir) { c.dec[d&1].JoinMidStream() }

// Boundary tells direction d that its next byte starts a frame header the
// capture marked (see Decoder.Boundary).
func (c *Conn) Boundary(d Dir, msgStart bool, emit func(Dir, Event)) {
	c.begin(emit)
	d &= 1
	c.dec[d].Boundary(msgStart, c.fwd[d])
	c.emit = nil
}

// Stop ends decoding of direction d with an *Error wrapping err (see
// Decoder.Stop); later bytes of d are only counted.
func (c *Conn) Stop(d Dir, err error, emit func(Dir, Event)) {
	c.begin(emit)
	d &= 1
	c.dec[d].Stop(err, c.fwd[d])
	c.dec[d^1].poke(c.fwd[d^1])
	c.emit = nil
}

// Close ends the connection: a direction still waiting for the other's
// greeting decides without it, then a *Connection summary is emitted as an
// event of ClientToServer. end says why the connection ended (e.g.
// "closed", "reset"); it is copied into Connection.End. The Conn must not be
// used afterwards.
func (c *Conn) Close(end string, emit func(Dir, Event)) {
	c.begin(emit)
	for d := range c.dec {
		c.dec[d].forced = true
		c.dec[d].poke(c.fwd[d])
	}
	ev := &c.ev
	*ev = Connection{End: end}
	for d, dec := range c.dec {
		s := &c.sides[d]
		s.Greeted = dec.greeted
		s.Major, s.Minor, s.Downgraded, s.Mechanism = dec.major, dec.minor, dec.down, dec.mech
		s.SocketType = dec.sockType
		s.StreamBytes = dec.off
		s.Err = dec.err
		s.Joined, s.Resyncs, s.Inferred = dec.joined, dec.resyncs, dec.inferred
		ev.Sides[d] = *s
	}
	c.emit(ClientToServer, ev)
	c.emit = nil
}

func (c *Conn) begin(emit func(Dir, Event)) {
	if emit == nil {
		emit = discardDir
	}
	c.emit = emit
}

func discardDir(Dir, Event) {}

// observe counts an event of direction d and passes it on.
func (c *Conn) observe(d Dir, e Event) {
	s := &c.sides[d]
	switch e := e.(type) {
	case *Message:
		s.Messages++
		s.MessageBytes = satAdd(s.MessageBytes, e.Bytes)
	case *Command:
		s.Commands++
		for _, p := range e.Properties {
			if isProperty(p.Name, "Identity") {
				c.setIdentity(d, p.Value)
			}
		}
	case *Identity:
		c.setIdentity(d, e.Data)
	}
	c.emit(d, e)
}

// setIdentity keeps up to 255 bytes of d's identity, without allocating.
func (c *Conn) setIdentity(d Dir, id []byte) {
	n := copy(c.ident[d][:], id)
	c.sides[d].Identity = c.ident[d][:n:n]
}
