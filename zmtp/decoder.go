package zmtp

import (
	"fmt"
	"math"
)

// Default limits, used when an Options field is zero or negative.
const (
	// DefaultMaxBody is the default Options.MaxBody.
	DefaultMaxBody = 64
	// DefaultMaxFrames is the default Options.MaxFrames.
	DefaultMaxFrames = 64
	// DefaultMaxCommand is the default Options.MaxCommand.
	DefaultMaxCommand = 4096
)

// minMaxCommand is the smallest command limit: it holds the name length
// byte and the longest command name (RFC 23: command-name = OCTET
// 1*255command-name-char), so a command name is never cut.
const minMaxCommand = 1 + 255

// Options bound what a Decoder keeps. Zero (or negative) values take the
// defaults. Memory per Decoder is at most about MaxFrames*MaxBody +
// MaxCommand bytes plus the event structures.
type Options struct {
	// MaxBody is the number of bytes of each frame body kept for display
	// (0: the default, 64; negative: none, sizes only). The rest is
	// counted and skipped, never buffered.
	MaxBody int
	// MaxFrames is the number of frames kept per message (default 64).
	// Further frames are counted in Message.FramesOmitted.
	MaxFrames int
	// MaxCommand is the number of bytes of a command body kept (default
	// 4096, at least 256 so that the command name always fits). The rest
	// is skipped and Command.Truncated set; properties are parsed from
	// what was kept, and a property cut by the limit is not listed.
	MaxCommand int
	// MaxSearch bounds the bytes a direction that lost its place holds
	// while it searches for a frame boundary (default 16 KiB): the
	// messages between the first boundary the search proves and the point
	// where it is sure are decoded from them. Its chains cost at most
	// 48 KiB more.
	MaxSearch int
}

func (o Options) withDefaults() Options {
	switch {
	case o.MaxBody == 0:
		o.MaxBody = DefaultMaxBody
	case o.MaxBody < 0:
		o.MaxBody = 0
	}
	if o.MaxFrames <= 0 {
		o.MaxFrames = DefaultMaxFrames
	}
	if o.MaxCommand <= 0 {
		o.MaxCommand = DefaultMaxCommand
	}
	o.MaxCommand = max(o.MaxCommand, minMaxCommand)
	if o.MaxSearch <= 0 {
		o.MaxSearch = DefaultMaxSearch
	}
	o.MaxSearch = max(o.MaxSearch, 2*minMaxCommand)
	return o
}

// state is where the decoder is in the byte stream.
type state uint8

const (
	stGreeting state = iota // inside the 64-byte greeting
	stFlags                 // at a frame's flags byte
	stSize                  // inside a frame's size field
	stBody                  // inside a message frame body
	stCommand               // inside a command frame body
	stV1Len                 // at a ZMTP 1.0 frame's length
	stV1Long                // inside a ZMTP 1.0 frame's 8-octet length
	stV1Flags               // at a ZMTP 1.0 frame's flags byte
	stHunt                  // lost its place: searching for a frame boundary
	stDead                  // stopped after an error
)

// String says where in the stream the state is, for error messages.
func (s state) String() string {
	switch s {
	case stGreeting:
		return "in the greeting"
	case stFlags, stV1Len:
		return "at a frame header"
	case stSize, stV1Long, stV1Flags:
		return "in a frame header"
	case stBody:
		return "past the end of a frame body"
	case stCommand:
		return "in a command body"
	case stHunt:
		return "while searching for a frame boundary"
	}
	return "after an error"
}

// A Decoder decodes one direction of a ZMTP connection, fed in stream
// order from its first byte. It is not safe for concurrent use; use one per
// direction. The emit callbacks must not call back into the Decoder.
//
// The version is detected as RFC 23 "Backwards Interoperability" says:
// ZMTP 3.x, 2.0 (RFC 15) and 1.0 (RFC 13) are decoded. Whether a peer
// downgraded to talk to an older one depends on the other direction: a
// Decoder alone assumes it did not; a Conn tells each of its two Decoders
// what the other announced.
//
// Events come out in stream order, each when its last byte arrives. An
// *Error points at the offending byte or frame (its Len is 0) and is the
// last event. A command sent between the frames of a multipart message,
// which RFC 23's grammar does not allow, is emitted when complete and the
// message goes on; the message's Len counts its own frames only. Metadata
// of READY and INITIATE is parsed into Properties under the NULL and PLAIN
// mechanisms only: CURVE and GSSAPI encrypt it.
type Decoder struct {
	// work holds what only a greeting, frame, message or command in
	// progress needs, and the events emitted: taken from a pool when
	// bytes arrive and given back whenever the direction is between
	// messages (see idle), so that an open connection between messages
	// holds no buffers. Its fields are promoted: d.arena is d.work.arena.
	*work

	peer     *Decoder // the other direction, when run by a Conn
	err      error
	mech     string // mechanism
	sockType string // sender's socket type, when known
	off      uint64 // stream bytes consumed: fed, lost and not captured
	resyncs  uint64
	finals   uint64             // last frame headers of messages read
	headers  uint64             // frame headers begun
	bytes    uint64             // body bytes of message frames begun
	cmds     [NumCounted]uint32 // counted commands read
	added    *Counts            // what AddCounts added; nil: nothing (most connections)
	opts     limits

	st        state
	boundary  state // the state at a frame boundary: stFlags or stV1Len
	reserved  byte  // flag bits that must be zero (3.x or 2.0)
	major     uint8 // version spoken
	minor     uint8 //
	inferred  Inferred
	depth     uint8 // public calls in progress (they nest: resume, refeed)
	preN      uint8
	pre       [majorAt + 1]byte // the greeting's first bytes, for the peer (prefix)
	clearMeta bool              // the mechanism sends READY/INITIATE metadata in clear
	forced    bool              // decide the version without waiting for the peer
	greeted   bool              // the greeting was decoded
	down      bool              // downgraded
	wantIdent bool              // the next frame is the 1.0/2.0 identity
	identity  bool              // the current frame is the identity
	curve     bool              // the mechanism is CURVE
	subs      bool              // the sender is a SUB or XSUB: look for subscriptions
	needHead  bool              // MaxBody is too small for head to be frame data
	more      bool              // the MORE flag of the current message frame
	inMsg     bool              // a message is in progress
	joined    bool              // joined mid-stream: the greeting was never seen
	dropMsg   bool              // the message in progress began before a resync: not emitted
}

// limits are a Decoder's Options with the defaults applied, in 32 bits.
type limits struct {
	MaxBody, MaxFrames, MaxCommand, MaxSearch int32
}

// options returns l as Options.
func (l limits) options() Options {
	return Options{MaxBody: int(l.MaxBody), MaxFrames: int(l.MaxFrames), MaxCommand: int(l.MaxCommand), MaxSearch: int(l.MaxSearch)}
}

// work is the part of a Decoder that only a unit in progress needs: the
// greeting bytes, the frame header, the message's frames and kept bodies,
// the command body, the search of a direction that lost its place, and
// the events, reused. Its capacity grows to at most
// about MaxFrames*MaxBody + MaxCommand bytes and is shared, through
// workPool, by the directions that are between messages.
type work struct {
	search *searcher // while searching for a boundary (stHunt)

	// Greeting.
	greet  [greetingLen]byte
	greetN int

	head     [16]byte // first bytes of a message's first frame
	headN    int      //
	headOpen bool     // the current frame is the first of its message
	kept     bool     // the current frame is in frames
	flags    byte
	hdr      [8]byte
	hdrN     int
	sizeLen  int // 1, or 8 for a long frame

	// Frame being read.
	frameOff uint64 // offset of its flags byte (length byte in 1.0)
	hdrLen   uint64 // header length of the current frame
	size     uint64
	remain   uint64 // body bytes still to come

	// Message being assembled.
	msgOff    uint64
	msgLen    uint64
	msgBytes  uint64
	frames    []Frame
	omitted   int
	arena     []byte // kept bodies of the message's frames
	keepStart int    // where the current frame's data starts in arena
	keepLeft  int    // body bytes of the current frame still to keep

	// Command being assembled.
	cmdBuf   []byte
	props    []Property
	cmdFrame [1]Frame // the frame of a command-form CURVE MESSAGE

	// Emitted events, reused.
	evGreeting Greeting
	evIdentity Identity
	evCommand  Command
	evMessage  Message
	evError    Error
	evResync   Resync
}

// NewDecoder returns a Decoder for a stream starting with a ZMTP greeting
// (or, for ZMTP 1.0, an identity frame).
func NewDecoder(opts Options) *Decoder {
	d := &Decoder{}
	d.init(opts)
	return d
}

// init sets up a fresh Decoder with opts.
func (d *Decoder) init(opts Options) {
	o := opts.withDefaults()
	clamp := func(n int) int32 { return int32(min(n, math.MaxInt32)) }
	d.opts = limits{MaxBody: clamp(o.MaxBody), MaxFrames: clamp(o.MaxFrames), MaxCommand: clamp(o.MaxCommand), MaxSearch: clamp(o.MaxSearch)}
	d.boundary, d.reserved = stFlags, flagReserved
	d.needHead = o.MaxBody < len(curveMessagePrefix)+8
}

// Feed consumes all of p, the next bytes of the stream, and calls emit for
// each event completed, in stream order. An event and its slices are valid
// only during the emit call. After an error (an *Error event), Feed only
// counts the bytes. emit may be nil.
func (d *Decoder) Feed(p []byte, emit func(Event)) {
	if emit == nil {
		emit = discard
	}
	if len(p) == 0 {
		return
	}
	d.enter()
	defer d.leave()
	for len(p) > 0 {
		switch d.st {
		case stGreeting:
			p = d.feedGreeting(p, emit)
		case stFlags:
			p = d.feedFrames(p, emit)
		case stSize:
			p = d.feedSize(p, emit)
		case stBody:
			p = d.feedBody(p, emit)
		case stCommand:
			p = d.feedCommand(p, emit)
		case stV1Len:
			p = d.feedV1Len(p, emit)
		case stV1Long:
			p = d.feedV1Long(p, emit)
		case stV1Flags:
			p = d.feedV1Flags(p, emit)
		case stHunt:
			p = d.feedHunt(p, emit)
		default: // stDead
			d.off += uint64(len(p))
			return
		}
	}
}

// Stop ends decoding of the direction, emitting an *Error wrapping err at
// the current offset, unless the decoder had already stopped. A Conn peer
// waiting for this direction's version then decides without it.
func (d *Decoder) Stop(err error, emit func(Event)) {
	if emit == nil {
		emit = discard
	}
	if d.st != stDead {
		d.enter()
		d.fail(d.off, err, emit)
		d.leave()
	}
}

// Gap tells the decoder that the next n bytes of the stream were lost. Inside
// a message frame body that has at least n bytes left, the bytes are skipped:
// the frame keeps the data seen before the gap and its real Size, and a frame
// completed by the gap is emitted. Anywhere else the decoder has lost its
// place: the message in progress is dropped and the decoder searches the
// bytes that follow for a proven frame boundary (or waits for Boundary),
// then emits a *Resync and goes on from there. For ZMTP 1.0, which the
// search does not cover, it emits an *Error wrapping ErrOutOfSync and stops.
// The offset always advances by n. emit may be nil.
func (d *Decoder) Gap(n uint64, emit func(Event)) {
	d.pass(n, false, emit)
}

// Skip tells the decoder that the next n bytes of the stream were sent but
// not captured: the capture kept only a prefix of a segment's payload, cut
// by its snapshot length or left out on purpose inside frame bodies. They
// are passed over as Gap passes lost bytes: inside a message frame body
// that has at least n bytes left, the frame keeps the data seen before them
// (its Data, and what Message fields are read from it, stay a prefix of the
// body) and its real Size, and a frame completed by the skip is emitted.
// Anywhere else, a command body included (commands are decoded whole), the
// decoder has lost its place, as after a Gap. The offset always advances by
// n. emit may be nil.
func (d *Decoder) Skip(n uint64, emit func(Event)) {
	d.pass(n, true, emit)
}

// pass moves past n bytes never fed, lost or (uncaptured) not captured,
// for Gap and Skip.
func (d *Decoder) pass(n uint64, uncaptured bool, emit func(Event)) {
	if emit == nil {
		emit = discard
	}
	start := d.off
	d.off += n // wraps only past 2^64 stream bytes
	if n == 0 || d.st == stDead {
		return
	}
	d.enter()
	defer d.leave()
	if d.st == stHunt {
		d.search.pass(n)
		return
	}
	if d.st == stBody && n <= d.remain {
		d.remain -= n
		d.keepLeft = 0     // Data stays a prefix of the body
		d.headOpen = false // and so does head
		if d.remain == 0 {
			d.endFrame(emit)
		}
		return
	}
	if d.major != 1 {
		d.hunt(ResyncGap, d.off)
		return
	}
	var err error
	if uncaptured {
		err = fmt.Errorf("%d bytes not captured at offset %d %s: %w", n, start, d.st, ErrOutOfSync)
	} else {
		err = fmt.Errorf("lost %d bytes at offset %d %s: %w", n, start, d.st, ErrOutOfSync)
	}
	d.fail(start, err, emit)
}

// Offset returns the number of stream bytes consumed so far: fed, lost and
// not captured.
// During an emit call it is the offset just past the emitted event.
func (d *Decoder) Offset() uint64 { return d.off }

// Err returns the first fatal error, or nil. Once set it never changes.
func (d *Decoder) Err() error { return d.err }

// Done reports whether the decoder stopped after an error.
func (d *Decoder) Done() bool { return d.st == stDead }

// fail records err, emits it as an *Error at stream offset off and stops
// the decoder.
func (d *Decoder) fail(off uint64, err error, emit func(Event)) {
	d.err = err
	d.st = stDead
	d.evError = Error{Header: Header{Offset: off}, Err: err}
	emit(&d.evError)
}

func discard(Event) {}

// satAdd returns a+b, or the largest uint64 if the sum would wrap: frame
// sizes of up to 2^63-1 can be passed over with Gap or Skip, so a sum of them can
// overflow.
func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}
