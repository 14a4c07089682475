package zmtp

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Frame flags (RFC 23, "Framing"). Bit 0 is the least significant bit.
const (
	flagMore     = 0x01 // bit 0: more frames to follow
	flagLong     = 0x02 // bit 1: 8-octet size
	flagCommand  = 0x04 // bit 2: command frame
	flagReserved = 0xF8 // bits 7-3
)

// feedFrames starts at a flags byte. It decodes whole short message frames
// straight from p, the common case, then hands anything else to the
// byte-at-a-time header path.
func (d *Decoder) feedFrames(p []byte, emit func(Event)) []byte {
	for len(p) >= 2 && p[0]&^flagMore == 0 {
		n := int(p[1])
		if len(p) < 2+n {
			break
		}
		d.frameOff = d.off
		d.beginFrame(p[0], uint64(n))
		d.keep(p[2 : 2+n])
		d.off += uint64(2 + n)
		d.endFrame(emit)
		p = p[2+n:]
	}
	if len(p) == 0 {
		return p
	}
	f := p[0]
	// RFC 23, "Framing": "Bits 7-3 are reserved for future use and MUST be
	// zero."
	if f&flagReserved != 0 {
		d.fail(d.off, fmt.Errorf("flags byte 0x%02x at offset %d: %w", f, d.off, ErrReservedFlags), emit)
		return p
	}
	// RFC 23, "Framing", bit 0 (MORE): "This bit SHALL be zero on command
	// frames."
	if f&flagCommand != 0 && f&flagMore != 0 {
		d.fail(d.off, fmt.Errorf("flags byte 0x%02x at offset %d: %w", f, d.off, ErrCommandMore), emit)
		return p
	}
	d.frameOff = d.off
	d.flags = f
	d.hdrN = 0
	d.sizeLen = 1
	if f&flagLong != 0 {
		d.sizeLen = 8
	}
	d.st = stSize
	d.off++
	return p[1:]
}

// feedSize collects the size field, then starts the body.
func (d *Decoder) feedSize(p []byte, emit func(Event)) []byte {
	n := copy(d.hdr[d.hdrN:d.sizeLen], p)
	d.hdrN += n
	d.off += uint64(n)
	p = p[n:]
	if d.hdrN < d.sizeLen {
		return p
	}
	size := uint64(d.hdr[0])
	if d.sizeLen == 8 {
		size = binary.BigEndian.Uint64(d.hdr[:])
		// RFC 23, "Framing": "A long frame has a body of 0 to 2^63-1
		// octets." A long size below 256 is legal, if wasteful.
		if size > math.MaxInt64 {
			d.fail(d.frameOff, fmt.Errorf("long frame size %d at offset %d: %w", size, d.frameOff, ErrFrameTooLarge), emit)
			return p
		}
	}
	if d.flags&flagCommand != 0 {
		d.beginCommand(size, emit)
		return p
	}
	d.beginFrame(d.flags, size)
	if size == 0 {
		d.endFrame(emit)
	}
	return p
}

// feedBody consumes message frame body bytes, keeping the first MaxBody.
func (d *Decoder) feedBody(p []byte, emit func(Event)) []byte {
	n := len(p)
	if uint64(n) > d.remain {
		n = int(d.remain)
	}
	d.keep(p[:n])
	d.remain -= uint64(n)
	d.off += uint64(n)
	if d.remain == 0 {
		d.endFrame(emit)
	}
	return p[n:]
}

// beginFrame starts a message frame of the given flags and body size whose
// header has been read, starting a message if none is in progress.
func (d *Decoder) beginFrame(flags byte, size uint64) {
	if !d.inMsg {
		d.inMsg = true
		d.msgOff = d.frameOff
		d.msgLen = 0
		d.msgBytes = 0
		d.frames = d.frames[:0]
		d.omitted = 0
		d.arena = d.arena[:0]
	}
	d.flags = flags
	d.size = size
	d.remain = size
	hdrLen := uint64(2)
	if flags&flagLong != 0 {
		hdrLen = 9
	}
	d.msgLen = satAdd(d.msgLen, satAdd(hdrLen, size))
	d.msgBytes = satAdd(d.msgBytes, size)
	if len(d.frames) >= d.opts.MaxFrames {
		d.omitted++
		d.kept = false
		d.keepLeft = 0
	} else {
		d.frames = append(d.frames, Frame{Size: size, More: flags&flagMore != 0})
		d.kept = true
		d.keepStart = len(d.arena)
		d.keepLeft = int(min(size, uint64(d.opts.MaxBody)))
	}
	d.st = stBody
}

// keep appends body bytes to the current frame's data while under MaxBody.
func (d *Decoder) keep(b []byte) {
	if d.keepLeft == 0 {
		return
	}
	if len(b) > d.keepLeft {
		b = b[:d.keepLeft]
	}
	d.arena = append(d.arena, b...)
	d.keepLeft -= len(b)
}

// endFrame closes the current message frame and emits the message after
// its last frame.
func (d *Decoder) endFrame(emit func(Event)) {
	if d.kept {
		// A full slice expression: appending to Data cannot overwrite the
		// next frame. Should arena grow later, this slice keeps pointing at
		// the old array, whose bytes stay as they are.
		end := len(d.arena)
		d.frames[len(d.frames)-1].Data = d.arena[d.keepStart:end:end]
	}
	d.st = stFlags
	if d.flags&flagMore != 0 {
		return
	}
	d.inMsg = false
	m := &d.evMessage
	*m = Message{
		Header:        Header{Offset: d.msgOff, Len: d.msgLen},
		Frames:        d.frames,
		FramesOmitted: d.omitted,
		Bytes:         d.msgBytes,
	}
	emit(m)
}
