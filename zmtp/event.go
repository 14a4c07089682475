package zmtp

import "github.com/zmtpdump/zmtpdump/segment"

// Event is one decoded protocol unit. Its concrete type is one of *Greeting,
// *Identity, *Command, *Message, *Gap, *Resync, *Error or (from a Conn)
// *Connection. An Event and the slices it holds are
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

// Greeting is what opens a direction: the ZMTP 3.x greeting (RFC 23 "The
// Greeting"), the ZMTP 2.0 greeting (RFC 15: signature, revision, socket
// type; the identity frame follows as an *Identity), or, for ZMTP 1.0
// (RFC 13), which has none, an empty Greeting (Len 0) that only says the
// version before the *Identity.
type Greeting struct {
	Header
	// Signature is the 10-byte signature: 0xFF, 8 bytes of padding (libzmq
	// puts its identity length + 1 there) and 0x7F. It is zero for a
	// native ZMTP 1.0 stream.
	Signature [10]byte
	// Major and Minor are the version the direction speaks: as announced
	// for 3.x (3.0, 3.1, ...), 2.0 for RFC 15, 1.0 for RFC 13.
	Major, Minor uint8
	// Revision is the version octet of a 2.0 greeting (RFC 15 revision,
	// 1; a 3.x peer that downgrades to 2.0 sends its major version, 3);
	// 0 for 3.x (see Major) and 1.0.
	Revision uint8
	// Downgraded reports a peer that announced a newer version and fell
	// back to its peer's (RFC 23 "Backwards Interoperability"). A peer
	// downgrading to 1.0 has sent only the signature, which doubles as the
	// header of its 1.0 identity frame.
	Downgraded bool
	// Mechanism is the security mechanism name with its NUL padding
	// removed, e.g. "NULL", "PLAIN" or "CURVE"; "NULL" for 1.0 and 2.0,
	// which have no security.
	Mechanism string
	// AsServer reports the as-server byte (3.x only).
	AsServer bool
	// SocketType is the socket type of a 2.0 greeting ("PUSH"...).
	SocketType string
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
	// Kind is the command, from its name: KindUnknown for a name the
	// decoder does not know. Switch on it rather than on Name.
	Kind CommandKind
	// Name is the command name as sent, e.g. "READY" or "ERROR".
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

	// Mechanism is the security mechanism of the direction, from its
	// greeting: HELLO, WELCOME, INITIATE and READY mean different things
	// under PLAIN (RFC 24) and CURVE (RFC 26).
	Mechanism string
	// TTL is a PING's time-to-live in tenths of a second; Context is the
	// PING or PONG context, 0 to 16 bytes (RFC 37 "Connection
	// Heartbeating").
	TTL     uint16
	Context []byte
	// Topic is the subscription of a SUBSCRIBE or CANCEL (RFC 37), cut at
	// the command limit.
	Topic []byte
	// Username and Password are the fields of a PLAIN HELLO (RFC 24). The
	// password is a secret: printers hide it unless asked.
	Username, Password []byte
	// CurveVersion is the version of a CURVE HELLO (RFC 26: 1.0).
	CurveVersion [2]byte
	// Key is the client's transient public key C' of a CURVE HELLO (32
	// bytes).
	Key []byte
	// Cookie is the server's cookie echoed by a CURVE INITIATE (96 bytes).
	Cookie []byte
	// Nonce is the short nonce (8 bytes) of a CURVE HELLO, INITIATE, READY
	// or MESSAGE, or the long nonce (16 bytes) of a WELCOME.
	Nonce []byte
	// BoxSize is the size of a CURVE command's encrypted box.
	BoxSize uint64
	// Encrypted reports a command whose content is an encrypted box
	// (CURVE INITIATE, READY, MESSAGE): its metadata cannot be shown.
	Encrypted bool
}

// Frame is one frame of a message.
type Frame struct {
	// Size is the frame body's real size on the wire.
	Size uint64
	// Data holds the first bytes of the body, at most Options.MaxBody;
	// fewer when body bytes were lost or not captured (Decoder.Gap,
	// Decoder.Skip): Data is those seen before.
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

	// Subscription is set on a one-frame message %x01 + topic (subscribe)
	// or %x00 + topic (cancel) sent by a SUB or XSUB peer: the subscription
	// form of ZMTP 2.0 and 3.0 (RFC 15, RFC 23). Topic is the rest of the
	// body, as far as it was kept.
	Subscription Subscription
	Topic        []byte
	// Encrypted reports a CURVE MESSAGE (RFC 26): a frame whose body is
	// %x07 "MESSAGE", a short nonce (8 bytes) and a box of BoxSize bytes
	// (libzmq sends it as a message frame, RFC 26 as a command).
	Encrypted bool
	Mechanism string // the direction's mechanism, set when Encrypted
	Nonce     []byte
	BoxSize   uint64
}

// Gap reports bytes of the stream that were never seen.
type Gap struct {
	Header
	// Bytes is the number of missing bytes.
	Bytes uint64
	// Messages is how many messages the gap took, when MessagesKnown: the
	// capture counted the direction's messages (kernel-side framing) on
	// both sides of the loss.
	Messages      uint64
	MessagesKnown bool
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

// Subscription says what a subscription message or command asks for.
type Subscription uint8

// Subscription actions.
const (
	// NoSubscription marks an ordinary message.
	NoSubscription Subscription = iota
	// Subscribe is a message %x01 + topic from a SUB or XSUB peer (RFC 15
	// "Publish-Subscribe", RFC 23), or a SUBSCRIBE command (RFC 37).
	Subscribe
	// Cancel is a message %x00 + topic from a SUB or XSUB peer, or a
	// CANCEL command.
	Cancel
)

// String returns "subscribe", "cancel" or "".
func (s Subscription) String() string {
	switch s {
	case Subscribe:
		return "subscribe"
	case Cancel:
		return "cancel"
	}
	return ""
}

// Identity is the identity frame that opens a ZMTP 1.0 (RFC 13) or 2.0
// (RFC 15) stream, right after the 2.0 greeting. An empty identity is
// anonymous.
type Identity struct {
	Header
	// Size is the identity's real size on the wire.
	Size uint64
	// Data holds the identity, at most 255 bytes of it.
	Data []byte
}

// Truncated reports whether Data holds fewer bytes than the identity.
func (i *Identity) Truncated() bool { return uint64(len(i.Data)) < i.Size }

// Side summarises what one peer sent on a connection.
type Side struct {
	// Greeted reports that the peer's greeting was decoded: Major, Minor
	// and Mechanism are only meaningful then.
	Greeted bool
	// Major and Minor are the version the peer spoke (3.1, 3.0, 2.0, 1.0).
	Major, Minor uint8
	// Downgraded reports a peer that fell back to its peer's older version.
	Downgraded bool
	// Mechanism is the security mechanism ("NULL" for 1.0 and 2.0).
	Mechanism string
	// SocketType is the peer's socket type from its 2.0 greeting or its
	// Socket-Type property, "" when unknown (1.0, CURVE, GSSAPI).
	SocketType string
	// Identity is the peer's identity (1.0/2.0 identity frame or Identity
	// property), at most 255 bytes.
	Identity []byte
	// Messages and MessageBytes count the complete messages and their body
	// bytes; Commands counts the commands.
	Messages, MessageBytes, Commands uint64
	// StreamBytes counts the stream bytes, lost and not captured ones
	// included.
	StreamBytes uint64
	// Err is the error that stopped decoding the direction, or nil.
	Err error
	// Joined reports a direction picked up mid-stream: its greeting was
	// never seen, and Major, Minor, Mechanism and SocketType hold only what
	// its traffic proved (Inferred), zero or "" where nothing did.
	Joined bool
	// Resyncs counts the times decoding resumed at a proven boundary after
	// the direction lost its place (or joined).
	Resyncs uint64
	// Inferred lists the facts inferred rather than read from a greeting.
	Inferred Inferred
}

// Connection is the summary a Conn emits when it is closed.
type Connection struct {
	Header
	// End says why the connection ended, as given to Conn.Close; printers
	// show its String ("closed", "reset", ...).
	End segment.CloseReason
	// Sides are the two peers, indexed by the segment.Dir of what they sent.
	Sides [2]Side
}
