package zmtp

// CountedCommand names the commands a direction's Counts counts by kind: the
// ones whose rate matters on a dashboard (heartbeats and ZMTP 3.1
// subscriptions). The kernel's framing walk counts the same four.
type CountedCommand uint8

// The counted commands, in Counts.Commands order.
const (
	CountPing CountedCommand = iota
	CountPong
	CountSubscribe
	CountCancel
	// NumCounted is the number of counted commands.
	NumCounted
)

// String returns the command's name on the wire: PING, PONG, SUBSCRIBE,
// CANCEL.
func (c CountedCommand) String() string {
	switch c {
	case CountPing:
		return "PING"
	case CountPong:
		return "PONG"
	case CountSubscribe:
		return "SUBSCRIBE"
	case CountCancel:
		return "CANCEL"
	}
	return "unknown"
}

// Counted returns the CountedCommand of a command kind, and false for the
// kinds that are not counted by kind.
func Counted(k CommandKind) (CountedCommand, bool) {
	switch k {
	case KindPing:
		return CountPing, true
	case KindPong:
		return CountPong, true
	case KindSubscribe:
		return CountSubscribe, true
	case KindCancel:
		return CountCancel, true
	}
	return 0, false
}

// Counts is what one direction of a connection carried, counted by frame
// header, as the kernel's framing walk counts it: Messages are messages
// whose last frame header was read (a ZMTP 3.0 subscription, being a
// message on the wire, is one); Frames are frame headers read (message
// frames, commands and 2.0's identity); Bytes are the body bytes of message
// frames (the messages' sizes, headers and commands left out); Commands are
// the counted commands, by CountedCommand.
type Counts struct {
	Messages uint64
	Frames   uint64
	Bytes    uint64
	Commands [NumCounted]uint64
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Messages += o.Messages
	c.Frames += o.Frames
	c.Bytes += o.Bytes
	for i := range c.Commands {
		c.Commands[i] += o.Commands[i]
	}
}

// Counts returns what the decoder counted of its direction, plus what
// AddCounts added (frames the capture counted without shipping them).
func (d *Decoder) Counts() Counts {
	c := Counts{Messages: d.finals, Frames: d.headers, Bytes: d.bytes}
	for i, n := range d.cmds {
		c.Commands[i] = uint64(n)
	}
	if d.added != nil {
		c.Add(*d.added)
	}
	return c
}

// AddCounts adds to the decoder's Counts frames that it was not given but
// that were counted for it (by the kernel's framing walk, say).
// Kept apart, allocated on first use, so that a connection that never
// needs it costs nothing more; the decoder's own command counts are 32-bit
// (over 4 billion of one command on one connection wraps).
func (d *Decoder) AddCounts(c Counts) {
	if d.added == nil {
		d.added = new(Counts)
	}
	d.added.Add(c)
}
