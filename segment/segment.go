package segment

import (
	"net/netip"
	"strings"
	"time"
)

// TCP header flags, as in the TCP header's flags byte.
const (
	FIN uint8 = 0x01
	SYN uint8 = 0x02
	RST uint8 = 0x04
	PSH uint8 = 0x08
	ACK uint8 = 0x10
	URG uint8 = 0x20
	ECE uint8 = 0x40
	CWR uint8 = 0x80
)

// IfDir says which way a packet crossed the interface it was seen on:
// coming in or going out. (Which end of its connection sent it is a Dir.)
type IfDir uint8

// Ways across an interface.
const (
	Ingress IfDir = iota
	Egress
	Unknown
)

// String returns "in", "out" or "?".
func (d IfDir) String() string {
	switch d {
	case Ingress:
		return "in"
	case Egress:
		return "out"
	}
	return "?"
}

// Segment is one captured TCP segment.
//
// Payload is owned by whoever produced the Segment and stays valid only until
// the producer is asked for the next one; consumers that keep bytes copy them.
type Segment struct {
	// Time is when the packet was seen.
	Time time.Time
	// Ifindex is the interface index the packet was seen on (0 if unknown).
	Ifindex int
	// IfDir is the way it crossed that interface (not the connection's
	// direction: flows finds that, a Dir).
	IfDir IfDir
	// Src and Dst are the endpoints.
	Src, Dst netip.AddrPort
	// Seq and Ack are the TCP sequence and acknowledgment numbers.
	Seq, Ack uint32
	// Flags is the TCP flags byte (FIN, SYN, ...).
	Flags uint8
	// Window is the TCP header's window field as sent: not scaled. The
	// receive window it advertises is Window << the sender's window scale
	// shift (the WScale of its SYN) when both SYNs carried the option
	// (RFC 7323 section 2.2), Window itself otherwise and on SYNs.
	Window uint16
	// WScale is the window scale shift a SYN's window scale option
	// carries (0 to 14: a larger one counts as 14, RFC 7323 section 2.3),
	// or -1 when the segment carries none: no option, or not a SYN (the
	// options of other segments are not read). Whoever makes a Segment
	// sets it: the zero value says "shift 0".
	WScale int8
	// PacketLen is the length of the whole packet as seen on the interface,
	// link-layer header included.
	PacketLen int
	// PayloadLen is the TCP payload length the IP header claims. Payload
	// bytes beyond len(Payload) exist on the wire but were not captured.
	PayloadLen int
	// Piece reports one of several segments a live capture made of one
	// packet with kernel-side framing, which keeps the headers and first
	// bytes of ZMTP frames and leaves large bodies out: Seq, PayloadLen and
	// PacketLen then describe the piece, as if it had been a packet.
	Piece bool
	// KernelLost is, for a live capture, how many records the kernel had
	// lost (ring buffer full) when this segment was captured: when it grows
	// between two segments, bytes missing at that point will never arrive.
	// Always 0 when reading files.
	KernelLost uint64
	// Boundary is the ZMTP frame boundary kernel-side framing marked in
	// this segment, if any (live captures only).
	Boundary Boundary
	// Counts are the kernel's counts of the segment's direction at its
	// end, for a live capture whose kernel walks the direction's frames.
	Counts Counts
	// Payload holds the captured payload bytes: a prefix of the TCP payload,
	// shorter than PayloadLen when the capture cut it.
	Payload []byte
	// IPC is, for a segment of an ipc:// connection (synthesized from Unix
	// stream socket sends, with IPCAddr addresses), that connection; nil
	// for TCP. Its value is shared by the connection's segments.
	IPC *IPC
}

// Boundary is where kernel-side framing, which walks the ZMTP frame headers
// of every packet of a direction it follows (those whose ring-buffer record
// was lost included), saw a frame header start in a segment. After bytes
// were lost, a decoder resumes exactly at the next marked boundary, and the
// counts tell how many frames and messages the loss took.
type Boundary struct {
	// Valid reports that the segment holds the start of a frame header the
	// kernel walked; the other fields are meaningful only then.
	Valid bool
	// MessageStart reports that the frame at Offset starts a message: no
	// message is open there (the last message frame before it had no MORE
	// flag; a command neither opens nor closes one), or it is the first
	// frame after the greeting (or 2.0's identity).
	MessageStart bool
	// Offset is the payload offset (in Segment.Payload) of the first frame
	// header that starts in the segment.
	Offset uint32
	// Frames and Messages count the frames (commands included) and the
	// complete messages the kernel walked in this direction before the
	// header at Offset, since it started following the direction (its SYN,
	// or the point userspace joined it at). A message counts once its last
	// frame's header was walked.
	Frames, Messages uint64
}

// Counts are what kernel-side framing counted of a direction it follows,
// cumulative from where it began to follow it (its SYN, or the point
// userspace joined it at) up to the end of a segment: the bytes from Seq
// to Seq+PayloadLen, those left out included. They count as zmtp.Counts
// do (see there).
type Counts struct {
	// Valid reports that the kernel follows the direction: the other
	// fields are meaningful only then.
	Valid bool
	// Whole reports that the payload bytes the segment leaves out
	// (PayloadLen beyond len(Payload)) are of frames left out whole,
	// headers included (count mode), not the rest of a frame body: a
	// decoder passes them and resumes at the next Boundary.
	Whole bool
	// Messages, Frames and Bytes: messages whose last frame header was
	// walked, frame headers walked, and the body bytes of message frames.
	Messages, Frames, Bytes uint64
	// Commands counts PING, PONG, SUBSCRIBE and CANCEL, in that order
	// (zmtp.CountedCommand order).
	Commands [4]uint64
	// Unnamed counts commands the kernel could not classify: their name
	// was not in the packet that held their header. The decoder, given
	// them whole, counts them; if their records were lost, they are
	// missing from Commands.
	Unnamed uint64
}

// Has reports whether all the given TCP flags are set.
func (s *Segment) Has(flags uint8) bool { return s.Flags&flags == flags }

// FlagNames returns the set TCP flags in tcpdump's order of importance:
// SYN, FIN, RST, PSH, ACK, URG, ECE, CWR.
func FlagNames(flags uint8) []string {
	names := make([]string, 0, 8)
	for _, f := range flagOrder {
		if flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	return names
}

// FlagString returns the set TCP flags separated by spaces, e.g. "SYN ACK".
func FlagString(flags uint8) string { return strings.Join(FlagNames(flags), " ") }

var flagOrder = [...]struct {
	bit  uint8
	name string
}{{SYN, "SYN"}, {FIN, "FIN"}, {RST, "RST"}, {PSH, "PSH"}, {ACK, "ACK"}, {URG, "URG"}, {ECE, "ECE"}, {CWR, "CWR"}}
