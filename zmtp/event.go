package zmtp

// Event is one decoded protocol unit. Its concrete type is one of *Greeting,
// *Command, *Message, *Gap or *Error. An Event and the slices it holds are
// valid only until the emit callback that received it returns.
type Event interface {
	// EventHeader returns the fields common to every event.
	EventHeader() *Header
}

// Header holds the fields common to every event.
type Header struct {
	// Offset is the stream offset of the event's first byte, counted from
	// the first byte fed to the Decoder.
	Offset uint64
	// Len is the number of stream bytes the event covers.
	Len uint64
}

// EventHeader implements Event.
func (h *Header) EventHeader() *Header { return h }

// Greeting is the ZMTP 3.x greeting (RFC 23 section "The Greeting"): the
// signature, the version, the security mechanism and the as-server flag.
type Greeting struct {
	Header
	// Signature is the 10-byte signature: 0xFF, 8 bytes of padding (libzmq
	// puts its identity length + 1 in the last one) and 0x7F.
	Signature [10]byte
	// Major and Minor are the version the peer announced (3.0, 3.1, ...).
	Major, Minor uint8
	// Mechanism is the security mechanism name with its NUL padding
	// removed, e.g. "NULL", "PLAIN" or "CURVE".
	Mechanism string
	// AsServer reports the as-server byte.
	AsServer bool
}

// Property is one metadata property of a READY (or INITIATE) command.
type Property struct {
	// Name is the property name as sent, e.g. "Socket-Type".
	Name []byte
	// Value is the property value, binary.
	Value []byte
}

// Command is a ZMTP 3.x command frame (COMMAND flag set).
type Command struct {
	Header
	// Name is the command name, e.g. "READY" or "ERROR".
	Name string
	// Size is the command frame's body size as sent on the wire (name
	// length byte, name and data).
	Size uint64
	// Data is the command data after the name, kept up to the decoder's
	// command limit; Truncated reports that bytes were left out.
	Data      []byte
	Truncated bool
	// Properties holds the metadata of READY and INITIATE, in wire order.
	Properties []Property
	// Reason is the reason text of an ERROR command.
	Reason []byte
}

// Frame is one frame of a message.
type Frame struct {
	// Size is the frame body's real size on the wire.
	Size uint64
	// Data holds the first bytes of the body, at most Options.MaxBody.
	Data []byte
	// More reports the MORE flag: another frame of the same message follows.
	More bool
}

// Truncated reports whether Data holds fewer bytes than the frame's body.
func (f *Frame) Truncated() bool { return uint64(len(f.Data)) < f.Size }

// Message is a complete multipart message: a run of frames ending with one
// whose MORE flag is clear.
type Message struct {
	Header
	// Frames are the message's frames in order, at most Options.MaxFrames.
	Frames []Frame
	// FramesOmitted counts the frames beyond Options.MaxFrames that were
	// decoded but not kept.
	FramesOmitted int
	// Bytes is the sum of all frame body sizes, omitted frames included.
	Bytes uint64
}

// Gap reports bytes of the stream that were never seen.
type Gap struct {
	Header
	// Bytes is the number of missing bytes.
	Bytes uint64
}

// Error reports a protocol violation or a loss of synchronisation. After an
// Error the Decoder emits nothing more for its direction.
type Error struct {
	Header
	// Err describes the problem; it wraps one of the package's sentinel
	// errors where one applies.
	Err error
}

// Reason returns the error text.
func (e *Error) Reason() string { return e.Err.Error() }
