package zmtp

import "github.com/zmtpdump/zmtpdump/segment"

// Elide tells the decoder that the next n bytes of the stream are whole
// frames (or the rest of frames) the capture left out, headers included,
// and counted for it (see AddCounts): kernel-side count mode. At a frame
// boundary, or after earlier elided bytes, the decoder passes them and
// stays in place: the next byte it is fed starts a frame header, and the
// Boundary call before it says whether a message is open there (without
// one, it assumes what it knew before the elided frames). Nothing is emitted and no resync
// counted: nothing was lost. Anywhere else (inside a frame it was
// decoding, or while searching) they are passed as Skip passes bytes. The
// offset always advances by n. emit may be nil.
func (d *Decoder) Elide(n uint64, emit func(Event)) {
	if n == 0 {
		return
	}
	if d.st == d.boundary && d.major != 1 && d.st != stDead {
		d.off += n // wraps only past 2^64 stream bytes
		return
	}
	d.pass(n, true, emit)
}

// Elide tells direction d that its next n bytes are frames left out whole
// (see Decoder.Elide).
func (c *Conn) Elide(d segment.Dir, n uint64, emit func(segment.Dir, Event)) {
	if dec := &c.dec[d&1]; dec.st == dec.boundary && dec.major != 1 {
		dec.Elide(n, nil)
		return
	}
	c.pass(d, n, true, emit)
}

// AtBoundary reports whether the decoder stands at a frame boundary: every
// frame, command and message it was given is whole and counted, none begun.
// Count mode brings a decoder up to the kernel's counts only there: the
// kernel counts a unit at its header's first bytes, the decoder at the end
// of the header (a message) or of the body (a command).
func (d *Decoder) AtBoundary() bool { return d.st == d.boundary && d.st != stDead }
