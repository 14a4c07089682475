package zmtp

import (
	"bytes"
	"fmt"
)

// Greeting layout (RFC 23, "Formal Grammar": greeting = signature version
// mechanism as-server filler; RFC 15: greeting = signature revision
// socket-type identity).
const (
	greetingLen   = 64
	greeting2Len  = 12   // RFC 15 signature, revision and socket type
	v2FlagBits    = 0x03 // RFC 15: MORE and LONG; the other flag bits MUST be zero
	sigFirst      = 0    // %xFF
	sigLast       = 9    // %x7F
	majorAt       = 10   // version-major (RFC 15: revision)
	minorAt       = 11   // version-minor (RFC 15: socket-type)
	mechAt        = 12   // 20 octets, NUL-padded
	mechEnd       = 32   // end of the mechanism field
	asServerAt    = 32   // %x00 | %x01
	sigFirstValue = 0xFF // first signature octet
	sigLastValue  = 0x7F // last signature octet
)

// feedGreeting collects up to 64 bytes of the stream's start and decides the
// version as soon as the bytes (and, under a Conn, the peer's) allow. Bytes
// collected past the greeting are then decoded as frames.
func (d *Decoder) feedGreeting(p []byte, emit func(Event)) []byte {
	n := copy(d.greet[d.greetN:], p)
	d.greetN += n
	d.off += uint64(n)
	d.resolve(emit)
	return p[n:]
}

// poke lets a decoder waiting for its peer's version decide now that the
// peer has been fed.
func (d *Decoder) poke(emit func(Event)) {
	if d.st == stGreeting && d.greetN > 0 {
		d.resolve(emit)
	}
}

// peerV1 reports whether the peer is known to speak ZMTP 1.0 (RFC 23,
// "Detecting ZMTP 1.0 and 2.0 Peers"), and whether that is known yet.
func (d *Decoder) peerV1() (v1, known bool) {
	p := d.peer
	if p == nil || p.st == stDead && !p.greeted {
		// A peer that failed in its greeting may hold bytes past the
		// failure: they prove nothing.
		return false, false
	}
	g := p.prefix()
	switch {
	case len(g) >= 1 && g[sigFirst] != sigFirstValue:
		return true, true
	case len(g) > sigLast:
		return g[sigLast]&1 == 0, true
	}
	return false, false
}

// peerMajor returns the version octet the peer sent after its signature,
// when it has been seen.
func (d *Decoder) peerMajor() (uint8, bool) {
	p := d.peer
	if p == nil || len(p.prefix()) <= majorAt || p.st == stDead && !p.greeted {
		return 0, false
	}
	if v1, _ := d.peerV1(); v1 {
		return 0, false
	}
	return p.prefix()[majorAt], true
}

// resolve decides the version from the greeting bytes collected so far. It
// waits (returns without deciding) while the answer depends on the peer's
// greeting not yet seen, unless the peer cannot tell any more, the 64-byte
// buffer is full or the decoder was forced (no peer, or closing).
func (d *Decoder) resolve(emit func(Event)) {
	g := d.greet[:d.greetN]
	force := d.forced || d.peer == nil || d.peer.st == stDead || d.peer.st == stHunt || len(g) == greetingLen
	if len(g) == 0 {
		return
	}
	// "If this first octet is not %FF, then the other peer is using ZMTP
	// 1.0, and has sent us a short frame length for its identity."
	if g[sigFirst] != sigFirstValue {
		d.startV1(false, emit)
		return
	}
	if len(g) <= sigLast {
		return
	}
	// "If the least significant bit is 0, then the other peer is using
	// ZMTP 1.0 and has sent us a long length for its identity."
	if g[sigLast]&1 == 0 {
		d.startV1(false, emit)
		return
	}
	// signature = %xFF padding %x7F. The padding is "not significant": it
	// is never checked.
	if b := g[sigLast]; b != sigLastValue {
		d.fail(sigLast, fmt.Errorf("signature byte 0x%02x at offset %d, want 0x7f (RFC 23 signature = %%xFF padding %%x7F): %w",
			b, sigLast, ErrBadSignature), emit)
		return
	}
	// "When we have detected a ZMTP 1.0 peer, we have already sent 10
	// octets, which the other peer interprets as the start of an identity
	// frame. We continue by sending the body of the identity frame."
	v1, known := d.peerV1()
	if known && v1 {
		d.startV1(true, emit)
		return
	}
	if !known && !force || len(g) <= majorAt {
		return
	}
	major := g[majorAt]
	switch {
	case major == 0:
		d.fail(majorAt, fmt.Errorf("version octet 0 at offset %d is undefined (RFC 23: 1 or 2 is ZMTP 2.0, 3 or more ZMTP 3.x): %w",
			majorAt, ErrUnsupportedVersion), emit)
		return
	case major <= 2:
		// "If this is 1 or 2, we have a ZMTP 2.0 peer."
		if len(g) >= greeting2Len {
			d.startV2(false, emit)
		}
		return
	}
	// A 3.x peer facing a 2.0 one: "If the peer version number is 1 or 2,
	// the peer is using ZMTP 2.0, so send the ZMTP 2.0 socket type and
	// identity and continue with ZMTP 2.0."
	pm, known := d.peerMajor()
	if known && (pm == 1 || pm == 2) {
		switch {
		case len(g) > greeting2Len && g[greeting2Len]&^v2FlagBits != 0:
			// No identity frame follows the socket type: its flags
			// would have reserved bits set (RFC 15). The peer did not
			// downgrade, it goes on with its 3.x greeting (a 3.x-only
			// implementation, such as go-zeromq's zmq4, facing a 2.0
			// one): decode it as 3.x.
		case len(g) > greeting2Len || force && len(g) == greeting2Len:
			d.startV2(true, emit)
			return
		default:
			return // the byte after the socket type tells
		}
	}
	if !known && !force || len(g) < greetingLen {
		return
	}
	d.start3(emit)
}

// refeed decodes the greeting buffer's bytes from from on as frames.
func (d *Decoder) refeed(from int, emit func(Event)) {
	rest := d.greet[from:d.greetN]
	d.off = uint64(from)
	d.Feed(rest, emit)
}

// startV1 switches to ZMTP 1.0 framing from the stream's first byte: the
// whole stream is frames, the first being the identity. downgraded says the
// sender announced a newer version with a signature that doubles as the
// identity frame's header.
func (d *Decoder) startV1(downgraded bool, emit func(Event)) {
	d.setVersion(1, 0, downgraded)
	d.boundary = stV1Len
	d.st = stV1Len
	d.wantIdent = true
	g := &d.evGreeting
	*g = Greeting{Major: 1, Downgraded: downgraded, Mechanism: "NULL"}
	if downgraded {
		g.Signature = [10]byte(d.greet[sigFirst : sigLast+1])
	}
	emit(g)
	d.refeed(0, emit)
}

// startV2 decodes a ZMTP 2.0 greeting (RFC 15): signature, revision, socket
// type; then the identity frame and messages in 2.0 framing.
func (d *Decoder) startV2(downgraded bool, emit func(Event)) {
	d.setVersion(2, 0, downgraded)
	d.reserved = flagReserved2
	d.st = stFlags
	d.wantIdent = true
	d.sockType = socketType2(d.greet[minorAt])
	d.subs = d.sockType == "SUB" // RFC 15: XSUB is SUB on the wire
	g := &d.evGreeting
	*g = Greeting{
		Header:     Header{Offset: 0, Len: greeting2Len},
		Signature:  [10]byte(d.greet[sigFirst : sigLast+1]),
		Major:      2,
		Revision:   d.greet[majorAt],
		Downgraded: downgraded,
		Mechanism:  "NULL",
		SocketType: d.sockType,
	}
	emit(g)
	d.refeed(greeting2Len, emit)
}

// start3 decodes a ZMTP 3.x greeting and checks its mechanism against the
// peer's.
func (d *Decoder) start3(emit func(Event)) {
	d.setVersion(d.greet[majorAt], d.greet[minorAt], false)
	d.mech = mechanismName(d.greet[mechAt:mechEnd])
	// Only NULL and PLAIN send READY and INITIATE metadata in clear; under
	// CURVE (RFC 26) and GSSAPI they are encrypted boxes.
	d.clearMeta = d.mech == "NULL" || d.mech == "PLAIN"
	d.curve = d.mech == "CURVE"
	d.st = stFlags
	g := &d.evGreeting
	*g = Greeting{
		Header:    Header{Offset: 0, Len: greetingLen},
		Signature: [10]byte(d.greet[sigFirst : sigLast+1]),
		Major:     d.major,
		Minor:     d.minor,
		Mechanism: d.mech,
		AsServer:  d.greet[asServerAt] != 0,
	}
	emit(g)
	if p := d.peer; p != nil && p.greeted && p.major >= 3 && p.mech != d.mech {
		d.fail(mechAt, fmt.Errorf("mechanism %q at offset %d, the peer announced %q (RFC 23: if the mechanism received does not exactly match the mechanism sent, the peer MUST close the connection): %w",
			d.mech, mechAt, p.mech, ErrMechanismMismatch), emit)
		return
	}
	d.refeed(greetingLen, emit)
}

func (d *Decoder) setVersion(major, minor uint8, downgraded bool) {
	d.greeted = true
	d.major, d.minor, d.down = major, minor, downgraded
	d.mech = "NULL"
}

// mechanismName returns the mechanism field up to its NUL padding, without
// allocating for the mechanisms the RFCs define.
func mechanismName(field []byte) string {
	if i := bytes.IndexByte(field, 0); i >= 0 {
		field = field[:i]
	}
	switch string(field) {
	case "NULL":
		return "NULL"
	case "PLAIN":
		return "PLAIN"
	case "CURVE":
		return "CURVE"
	case "GSSAPI":
		return "GSSAPI"
	}
	return string(field)
}
