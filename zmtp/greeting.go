package zmtp

import (
	"bytes"
	"fmt"
)

// Greeting layout (RFC 23, "Formal Grammar": greeting = signature version
// mechanism as-server filler).
const (
	greetingLen   = 64
	sigFirst      = 0    // %xFF
	sigLast       = 9    // %x7F
	majorAt       = 10   // version-major
	minorAt       = 11   // version-minor
	mechAt        = 12   // 20 octets, NUL-padded
	mechEnd       = 32   // end of the mechanism field
	asServerAt    = 32   // %x00 | %x01
	sigFirstValue = 0xFF // first signature octet
	sigLastValue  = 0x7F // last signature octet
)

// feedGreeting collects greeting bytes, checks the version detection octets
// as soon as they arrive and emits the Greeting once all 64 are in.
func (d *Decoder) feedGreeting(p []byte, emit func(Event)) []byte {
	base := d.off - uint64(d.greetN) // stream offset of greeting byte 0
	from := d.greetN
	n := copy(d.greet[d.greetN:], p)
	d.greetN += n
	if i, err := d.checkSignature(from, d.greetN, base); err != nil {
		d.fail(base+uint64(i), err, emit)
		return p
	}
	d.off += uint64(n)
	p = p[n:]
	if d.greetN < greetingLen {
		return p
	}
	g := &d.evGreeting
	*g = Greeting{
		Header:    Header{Offset: base, Len: greetingLen},
		Signature: [10]byte(d.greet[sigFirst : sigLast+1]),
		Major:     d.greet[majorAt],
		Minor:     d.greet[minorAt],
		Mechanism: mechanismName(d.greet[mechAt:mechEnd]),
		AsServer:  d.greet[asServerAt] != 0,
	}
	// Only NULL and PLAIN send READY and INITIATE metadata in clear; under
	// CURVE (RFC 25) and GSSAPI they are encrypted boxes.
	d.clearMeta = g.Mechanism == "NULL" || g.Mechanism == "PLAIN"
	d.st = stFlags
	emit(g)
	return p
}

// checkSignature checks the version detection octets among greeting bytes
// [from, to), following RFC 23 "Detecting ZMTP 1.0 and 2.0 Peers". On
// error it returns the offending byte's index in the greeting; base is the
// stream offset of the greeting, for messages.
func (d *Decoder) checkSignature(from, to int, base uint64) (int, error) {
	in := func(i int) bool { return from <= i && i < to }
	if in(sigFirst) {
		// "If this first octet is not %FF, then the other peer is using
		// ZMTP 1.0, and has sent us a short frame length for its identity."
		if b := d.greet[sigFirst]; b != sigFirstValue {
			return sigFirst, fmt.Errorf("greeting byte 0x%02x at offset %d is not 0xff, ZMTP 1.0 not supported yet: %w",
				b, base+sigFirst, ErrUnsupportedVersion)
		}
	}
	if in(sigLast) {
		b, off := d.greet[sigLast], base+sigLast
		// "If the least significant bit is 0, then the other peer is using
		// ZMTP 1.0 and has sent us a long length for its identity."
		if b&1 == 0 {
			return sigLast, fmt.Errorf("signature byte 0x%02x at offset %d has its low bit clear, ZMTP 1.0 not supported yet: %w",
				b, off, ErrUnsupportedVersion)
		}
		// signature = %xFF padding %x7F. The padding is "not significant":
		// it is never checked.
		if b != sigLastValue {
			return sigLast, fmt.Errorf("signature byte 0x%02x at offset %d, want 0x7f: %w", b, off, ErrBadSignature)
		}
	}
	if in(majorAt) {
		b, off := d.greet[majorAt], base+majorAt
		// "If this is 1 or 2, we have a ZMTP 2.0 peer." A 3.x peer "MUST
		// accept protocol versions greater or equal to 3.0": 3 and above
		// are decoded as 3.x.
		switch {
		case b == 1 || b == 2:
			return majorAt, fmt.Errorf("major version %d at offset %d, ZMTP 2.0 not supported yet: %w", b, off, ErrUnsupportedVersion)
		case b == 0:
			return majorAt, fmt.Errorf("major version 0 at offset %d is undefined: %w", off, ErrUnsupportedVersion)
		}
	}
	return 0, nil
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
