package zmtp

// ResyncReason says why a direction had to find its place in the stream.
type ResyncReason uint8

// Reasons for a Resync.
const (
	// ResyncMidStream: the capture started after the direction's start,
	// so its greeting was never seen (Decoder.JoinMidStream).
	ResyncMidStream ResyncReason = iota + 1
	// ResyncGap: bytes were lost, or not captured, where the decoder could
	// not pass over them (anywhere but inside a message frame body).
	ResyncGap
)

// String returns "mid-stream" or "gap".
func (r ResyncReason) String() string {
	if r == ResyncMidStream {
		return "mid-stream"
	}
	return "gap"
}

// SyncSource says what proved the frame boundary decoding resumed at.
type SyncSource uint8

// Sources of a Resync.
const (
	// SyncSearch: the boundary search found a chain of frame headers that
	// validates over the bytes that follow (see search.go).
	SyncSearch SyncSource = iota + 1
	// SyncKernel: the capture marked the boundary (Decoder.Boundary):
	// kernel-side framing walked every frame header of the direction.
	SyncKernel
)

// String returns "search" or "kernel".
func (s SyncSource) String() string {
	if s == SyncKernel {
		return "kernel"
	}
	return "search"
}

// Resync is emitted, before any other event, when a direction that had
// lost its place (or never had it) resumes decoding at a proven frame
// boundary.
type Resync struct {
	// Header.Offset is where decoding resumes: a frame header. Len is 0.
	Header
	Reason ResyncReason
	Source SyncSource
	// Skipped counts the bytes seen but not decoded: from where the
	// direction lost its place (its first byte seen, or the end of a loss)
	// to Offset, bytes lost or not captured in between excluded.
	Skipped uint64
	// MessageStart reports that the frame at Offset is known to start a
	// message. When it is not, the frames up to the end of the message in
	// progress are decoded but that message is not emitted: its first
	// frames were never seen.
	MessageStart bool
}

// Inferred lists the facts about a direction that were inferred from its
// traffic rather than read from its greeting (a direction joined
// mid-stream).
type Inferred uint8

// Inferred facts.
const (
	// InferredVersion: commands prove ZMTP 3.x framing (2.0 has none);
	// PING, PONG, SUBSCRIBE and CANCEL prove 3.1 (RFC 37).
	InferredVersion Inferred = 1 << iota
	// InferredMechanism: CURVE MESSAGE frames prove CURVE (RFC 26).
	InferredMechanism
	// InferredSocketType: a SUBSCRIBE or CANCEL command proves a SUB or
	// XSUB sender.
	InferredSocketType
	// InferredMinor: the minor version is proven too (RFC 37 commands:
	// 3.1); without it a joined direction's Minor means nothing ("3.x").
	InferredMinor
)

// Names returns the inferred facts as words: "version", "mechanism",
// "socket_type".
func (f Inferred) Names() []string {
	var n []string
	if f&InferredVersion != 0 {
		n = append(n, "version")
	}
	if f&InferredMechanism != 0 {
		n = append(n, "mechanism")
	}
	if f&InferredSocketType != 0 {
		n = append(n, "socket_type")
	}
	// InferredMinor adds to "version", which it needs.
	return n
}

// JoinMidStream tells a fresh Decoder that its stream starts after the
// direction's start: the greeting was never seen, and the first bytes may
// be anywhere in a frame. The decoder searches for a proven frame boundary
// (or waits for Boundary) and emits a Resync before anything else. It must
// be called before the first byte is fed; later it does nothing.
func (d *Decoder) JoinMidStream() {
	if d.off != 0 || d.st != stGreeting || d.work != nil && d.greetN != 0 {
		return
	}
	d.enter()
	d.joined = true
	d.hunt(ResyncMidStream, 0)
	d.leave()
}

// Boundary tells the decoder that the next byte it is fed starts a frame
// header, as the capture marked it; msgStart says that frame starts a
// message. A decoder that lost its place resumes there (a Resync with
// SyncKernel); one at a frame boundary takes msgStart as whether a message
// is open there (it may not know after Elide); otherwise the call does
// nothing.
func (d *Decoder) Boundary(msgStart bool, emit func(Event)) {
	if d.st == d.boundary && d.major != 1 {
		// In place already (in step, or after frames left out whole:
		// Elide): the kernel, which walked every header, knows whether
		// a message is open.
		d.inMsg = !msgStart
		return
	}
	if d.st != stHunt {
		return
	}
	if emit == nil {
		emit = discard
	}
	d.enter()
	d.resume(found{off: d.off, msgStart: msgStart}, SyncKernel, emit)
	d.leave()
}

// Passes reports whether a Gap or Skip of n bytes now would be passed over
// inside a message frame body: if not, the decoder loses its place (or, for
// ZMTP 1.0, stops).
func (d *Decoder) Passes(n uint64) bool { return n == 0 || d.st == stBody && n <= d.remain }

// Searching reports whether the decoder has lost its place and is looking
// for a frame boundary.
func (d *Decoder) Searching() bool { return d.st == stHunt }

// Joined reports whether the direction was joined mid-stream.
func (d *Decoder) Joined() bool { return d.joined }

// Resyncs returns how many times the direction resumed after losing its
// place (or joining mid-stream).
func (d *Decoder) Resyncs() uint64 { return d.resyncs }

// Inferred returns the facts inferred from a joined direction's traffic.
func (d *Decoder) Inferred() Inferred { return d.inferred }

// MessageIndex returns how many messages' last frame headers the decoder
// has read: the count kernel-side framing keeps (segment.Boundary.Messages),
// less the messages of a loss. A message whose last frame was cut by a loss
// does not count.
func (d *Decoder) MessageIndex() uint64 { return d.finals }

// Headers returns how many frame headers the decoder has begun to read.
func (d *Decoder) Headers() uint64 { return d.headers }

// NextHeader returns the stream offset of the next frame header when the
// decoder knows it: at a frame boundary, or inside a frame body or command
// (the end of the frame). inMessage says whether that frame continues a
// multipart message. ok is false in the greeting, inside a header, while
// searching, after an error and for ZMTP 1.0.
func (d *Decoder) NextHeader() (off uint64, inMessage, ok bool) {
	if d.major == 1 {
		return 0, false, false
	}
	switch d.st {
	case stFlags:
		return d.off, d.inMsg, true
	case stBody:
		if d.identity {
			return satAdd(d.off, d.remain), false, true
		}
		return satAdd(d.off, d.remain), d.more, true
	case stCommand:
		return satAdd(d.off, d.remain), d.inMsg, true
	}
	return 0, false, false
}

// InMessage reports whether the direction stopped inside a unit: a frame
// header, a frame or command body, or between the frames of a multipart
// message. A direction in its greeting, searching for a boundary or
// stopped after an error is not in one (a close there loses no message
// it could tell).
func (d *Decoder) InMessage() bool {
	switch d.st {
	case stSize, stBody, stCommand, stV1Long, stV1Flags:
		return true
	case stFlags, stV1Len:
		return d.inMsg
	}
	return false
}

// V2Framing reports whether the direction speaks ZMTP 2.0 framing (no
// COMMAND flag).
func (d *Decoder) V2Framing() bool { return d.major == 2 }

// hunt makes the decoder look for a frame boundary from offset from on.
func (d *Decoder) hunt(reason ResyncReason, from uint64) {
	if d.st == stBody && !d.more && d.inMsg && !d.identity && !d.dropMsg && d.finals > 0 {
		d.finals-- // the message's last frame was cut: it is never emitted
	}
	d.st = stHunt
	d.inMsg = false
	d.identity = false
	d.wantIdent = false
	d.search = newSearcher(reason, from, d.reserved, int(d.opts.MaxSearch))
}

// feedHunt searches p for a frame boundary and, once one is proven,
// decodes from there.
// It searches at most half of Options.MaxSearch at a time, so that the
// bytes held stay within it whatever the size of p, and returns the bytes
// of p after the point a boundary was proven at, to be decoded from there.
// A search that proves nothing in searchGiveUp bytes stops: only a
// boundary the capture marks (Boundary) can then resume decoding.
func (d *Decoder) feedHunt(p []byte, emit func(Event)) []byte {
	for len(p) > 0 {
		n := min(len(p), int(d.opts.MaxSearch/2))
		d.off += uint64(n)
		f, ok := d.search.add(p[:n])
		p = p[n:]
		if ok {
			d.resume(f, SyncSearch, emit)
			return p
		}
		if !d.search.stopped && d.search.scanned() >= searchGiveUp {
			d.search.stop()
		}
	}
	return nil
}

// resume ends the search: decoding goes on at f.off, replaying the bytes
// held from there.
func (d *Decoder) resume(f found, src SyncSource, emit func(Event)) {
	s := d.search
	d.search = nil
	end := d.off
	var rest []byte
	if f.off < end {
		rest = s.held(f.off)
	}
	d.resyncs++
	d.st = d.boundary
	d.inMsg = false
	d.dropMsg = !f.msgStart
	d.off = f.off
	r := &d.evResync
	*r = Resync{Header: Header{Offset: f.off}, Reason: s.reason, Source: src, Skipped: s.skipped(f.off), MessageStart: f.msgStart}
	emit(r)
	if d.st == stDead {
		return
	}
	d.Feed(rest, emit)
}

// infer notes what a joined direction's command proves.
func (d *Decoder) inferCommand(c *Command) {
	if d.greeted {
		return
	}
	if d.major == 0 {
		d.major = 3 // 2.0 framing has no commands
		d.inferred |= InferredVersion
	}
	switch c.Kind {
	case KindPing, KindPong, KindSubscribe, KindCancel:
		// RFC 37 commands: only a 3.1 peer sends them.
		d.minor = max(d.minor, 1)
		d.inferred |= InferredVersion | InferredMinor
	}
	if (c.Kind == KindSubscribe || c.Kind == KindCancel) && d.sockType == "" {
		d.sockType = "SUB|XSUB"
		d.subs = true
		d.inferred |= InferredSocketType
	}
}

// inferMessage notes a CURVE MESSAGE in a joined direction: a frame whose
// body starts %x07 "MESSAGE" and holds a nonce and a box (RFC 26).
func (d *Decoder) inferMessage(m *Message) {
	if d.greeted || d.curve || len(m.Frames) != 1 {
		return
	}
	h := d.firstBytes(m)
	if m.Frames[0].Size >= uint64(len(curveMessagePrefix))+curveMessageMin && len(h) >= len(curveMessagePrefix)+8 &&
		string(h[:len(curveMessagePrefix)]) == curveMessagePrefix {
		d.curve = true
		d.mech = "CURVE"
		d.inferred |= InferredMechanism
		if d.major == 0 {
			d.major = 3
			d.inferred |= InferredVersion
		}
	}
}
