package zmtp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// Frame flags (RFC 23, "Framing"). Bit 0 is the least significant bit.
const (
	flagMore      = 0x01 // bit 0: more frames to follow
	flagLong      = 0x02 // bit 1: 8-octet size
	flagCommand   = 0x04 // bit 2: command frame
	flagReserved  = 0xF8 // bits 7-3
	flagReserved2 = 0xFC // ZMTP 2.0 (RFC 15): bits 2-7
)

// maxIdentity is the most of a 1.0/2.0 identity kept: RFC 13 allows 1 to
// 255 octets.
const maxIdentity = 255

// curveMessagePrefix opens a CURVE MESSAGE (RFC 26: %d7 "MESSAGE").
const curveMessagePrefix = "\x07MESSAGE"

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
		d.headers++
		d.beginFrame(p[0]&flagMore != 0, uint64(n), 2)
		d.keep(p[2 : 2+n])
		d.off += uint64(2 + n)
		d.endFrame(emit)
		p = p[2+n:]
		if d.st != stFlags {
			return p
		}
	}
	if len(p) == 0 {
		return p
	}
	f := p[0]
	// RFC 23, "Framing": "Bits 7-3 are reserved for future use and MUST be
	// zero." RFC 15: "Bits 2-7 are reserved for future use and MUST be
	// zero."
	if f&d.reserved != 0 {
		rfc := "RFC 23: bits 7-3 MUST be zero"
		if d.major == 2 {
			rfc = "RFC 15: bits 2-7 MUST be zero"
		}
		d.fail(d.off, fmt.Errorf("flags byte 0x%02x at offset %d (%s): %w", f, d.off, rfc, ErrReservedFlags), emit)
		return p
	}
	// RFC 23, "Framing", bit 0 (MORE): "This bit SHALL be zero on command
	// frames."
	if f&flagCommand != 0 && f&flagMore != 0 {
		d.fail(d.off, fmt.Errorf("flags byte 0x%02x at offset %d (RFC 23: MORE SHALL be zero on command frames): %w", f, d.off, ErrCommandMore), emit)
		return p
	}
	d.frameOff = d.off
	d.headers++
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
		// octets." A long size below 256 is legal, if wasteful. RFC 15
		// sets no bound; the same one applies.
		if size > math.MaxInt64 {
			d.fail(d.frameOff, fmt.Errorf("long frame size %d at offset %d (RFC 23: a long frame has a body of 0 to 2^63-1 octets): %w",
				size, d.frameOff, ErrFrameTooLarge), emit)
			return p
		}
	}
	if d.flags&flagCommand != 0 {
		d.beginCommand(size, emit)
		return p
	}
	d.beginFrame(d.flags&flagMore != 0, size, uint64(1+d.sizeLen))
	if size == 0 {
		d.endFrame(emit)
	}
	return p
}

// feedV1Len reads the first octet of a ZMTP 1.0 frame's length (RFC 13:
// length = OCTET / (%xFF 8OCTET), counting the flags octet).
func (d *Decoder) feedV1Len(p []byte, emit func(Event)) []byte {
	d.frameOff = d.off
	d.headers++
	d.off++
	if p[0] == 0xFF {
		d.hdrN = 0
		d.sizeLen = 8
		d.st = stV1Long
		return p[1:]
	}
	d.sizeLen = 1
	d.v1Length(uint64(p[0]), emit)
	return p[1:]
}

// feedV1Long collects a ZMTP 1.0 frame's 8-octet length.
func (d *Decoder) feedV1Long(p []byte, emit func(Event)) []byte {
	n := copy(d.hdr[d.hdrN:8], p)
	d.hdrN += n
	d.off += uint64(n)
	if d.hdrN == 8 {
		d.v1Length(binary.BigEndian.Uint64(d.hdr[:]), emit)
	}
	return p[n:]
}

// v1Length checks a ZMTP 1.0 frame length and moves on to its flags.
func (d *Decoder) v1Length(length uint64, emit func(Event)) {
	// RFC 13: "The minimum valid length of a frame is 1 octet, thus a
	// length of 0 is invalid."
	if length == 0 {
		d.fail(d.frameOff, fmt.Errorf("ZMTP 1.0 frame length 0 at offset %d (RFC 13: the minimum valid length is 1 octet): %w",
			d.frameOff, ErrBadLength), emit)
		return
	}
	if length-1 > math.MaxInt64 {
		d.fail(d.frameOff, fmt.Errorf("ZMTP 1.0 frame length %d at offset %d, a body above 2^63-1 octets: %w",
			length, d.frameOff, ErrFrameTooLarge), emit)
		return
	}
	d.size = length - 1
	d.st = stV1Flags
}

// feedV1Flags reads a ZMTP 1.0 flags octet and starts the body. Bits 1-7
// "SHOULD be zero" (RFC 13) and the identity's flags "SHALL not be
// validated": only MORE is read.
func (d *Decoder) feedV1Flags(p []byte, emit func(Event)) []byte {
	d.off++
	d.beginFrame(p[0]&flagMore != 0, d.size, d.off-d.frameOff)
	if d.size == 0 {
		d.endFrame(emit)
	}
	return p[1:]
}

// beginFrame starts a message frame (or the 1.0/2.0 identity frame) whose
// header of hdrLen bytes has been read, starting a message if none is in
// progress.
func (d *Decoder) beginFrame(more bool, size, hdrLen uint64) {
	d.size = size
	d.remain = size
	d.hdrLen = hdrLen
	d.st = stBody
	if d.wantIdent {
		d.wantIdent = false
		d.identity = true
		d.arena = d.arena[:0]
		d.kept = false
		d.keepStart = 0
		d.keepLeft = int(min(size, maxIdentity))
		d.headOpen = false
		return
	}
	d.more = more
	d.headOpen = false
	if !d.inMsg {
		d.inMsg = true
		d.msgOff = d.frameOff
		d.msgLen = 0
		d.msgBytes = 0
		d.frames = d.frames[:0]
		d.omitted = 0
		d.arena = d.arena[:0]
		d.headN = 0
		d.headOpen = d.needHead
	}
	if !more {
		d.finals++
	}
	d.msgLen = satAdd(d.msgLen, satAdd(hdrLen, size))
	d.msgBytes = satAdd(d.msgBytes, size)
	d.bytes = satAdd(d.bytes, size)
	if len(d.frames) >= int(d.opts.MaxFrames) {
		d.omitted++
		d.kept = false
		d.keepLeft = 0
	} else {
		d.frames = append(d.frames, Frame{Size: size, More: more})
		d.kept = true
		d.keepStart = len(d.arena)
		d.keepLeft = int(min(size, uint64(d.opts.MaxBody)))
	}
}

// keep appends body bytes to the current frame's data while under MaxBody,
// and to head while in a message's first frame.
func (d *Decoder) keep(b []byte) {
	if d.headOpen && d.headN < len(d.head) {
		d.headN += copy(d.head[d.headN:], b)
	}
	if d.keepLeft == 0 {
		return
	}
	if len(b) > d.keepLeft {
		b = b[:d.keepLeft]
	}
	d.arena = append(d.arena, b...)
	d.keepLeft -= len(b)
}

// endFrame closes the current frame and emits the identity, or the message
// after its last frame.
func (d *Decoder) endFrame(emit func(Event)) {
	d.st = d.boundary
	d.headOpen = false
	if d.identity {
		d.identity = false
		id := &d.evIdentity
		*id = Identity{
			Header: Header{Offset: d.frameOff, Len: satAdd(d.hdrLen, d.size)},
			Size:   d.size,
			Data:   d.arena[:len(d.arena):len(d.arena)],
		}
		emit(id)
		return
	}
	if d.kept {
		// A full slice expression: appending to Data cannot overwrite the
		// next frame. Should arena grow later, this slice keeps pointing at
		// the old array, whose bytes stay as they are.
		end := len(d.arena)
		d.frames[len(d.frames)-1].Data = d.arena[d.keepStart:end:end]
	}
	if d.more {
		return
	}
	d.inMsg = false
	if d.dropMsg {
		// Its first frames came before a resync: never shown.
		d.dropMsg = false
		return
	}
	m := &d.evMessage
	// Field by field, not a whole new Message: the classified fields are
	// cleared only when the last message set them (classify sets Topic
	// only with Subscription, the rest only with Encrypted), which spares
	// every ordinary message the clearing of them all.
	m.Header = Header{Offset: d.msgOff, Len: d.msgLen}
	m.Frames = d.frames
	m.FramesOmitted = d.omitted
	m.Bytes = d.msgBytes
	if m.Subscription != NoSubscription || m.Encrypted {
		m.Subscription, m.Topic = NoSubscription, nil
		m.Encrypted, m.Mechanism, m.Nonce, m.BoxSize = false, "", nil, 0
	}
	if !d.greeted {
		d.inferMessage(m)
	}
	if d.subs || d.curve {
		d.classify(m)
	}
	emit(m)
}

// firstBytes returns the first bytes of a message's first frame that were
// seen: up to 16 (fewer if the frame is shorter or a gap took them).
func (d *Decoder) firstBytes(m *Message) []byte {
	if d.needHead {
		return d.head[:d.headN]
	}
	return m.Frames[0].Data
}

// classify marks subscription messages of a SUB or XSUB sender and CURVE
// MESSAGEs.
func (d *Decoder) classify(m *Message) {
	h := d.firstBytes(m)
	f := &m.Frames[0]
	if d.curve && f.Size >= uint64(len(curveMessagePrefix)+8) && len(h) >= len(curveMessagePrefix)+8 &&
		bytes.HasPrefix(h, []byte(curveMessagePrefix)) {
		// RFC 26: message = %d7 "MESSAGE" message-nonce message-box.
		m.Encrypted = true
		m.Mechanism = d.mech
		m.Nonce = h[len(curveMessagePrefix) : len(curveMessagePrefix)+8 : len(curveMessagePrefix)+8]
		m.BoxSize = f.Size - uint64(len(curveMessagePrefix)+8)
		return
	}
	// RFC 15 "Publish-Subscribe": "A SUB socket sends a subscription
	// message as one byte %x01 followed by the subscription body, and
	// unsubscription messages as one byte %x00 followed by the
	// subscription body."
	if d.subs && len(m.Frames) == 1 && m.FramesOmitted == 0 && f.Size >= 1 && len(h) >= 1 && h[0] <= 1 {
		m.Subscription = Cancel
		if h[0] == 1 {
			m.Subscription = Subscribe
		}
		if len(f.Data) > 0 {
			m.Topic = f.Data[1:]
		}
	}
}

// feedBody consumes frame body bytes, keeping the first MaxBody.
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
