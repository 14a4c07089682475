package flows

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Conn describes a connection.
type Conn struct {
	// Client and Server are the two endpoints (see segment.Dir).
	Client, Server netip.AddrPort
	// MidStream reports that the capture started after the connection
	// had opened: its first bytes were never seen.
	MidStream bool
	// ServerKnown reports that the connection's first segment was a SYN
	// or a SYN-ACK, which say which end is the server. Otherwise Server is
	// only the first segment's destination: a guess.
	ServerKnown bool
	// WScale holds, for each direction, the window scale shift its
	// sender's SYN announced (segment.Segment.WScale), -1 while unknown:
	// no option, or the SYN not seen. See Window.
	WScale [2]int8
	// Ifindex is the interface index of the connection's first segment
	// (segment.Segment.Ifindex; 0 when unknown, as in files): where a live
	// capture's kernel keeps its state (loader.JoinPoint).
	Ifindex int32
	// Start is the time of the first segment seen.
	Start time.Time
	// Next holds, for each direction, the TCP sequence number of the
	// first byte of the Consumer's current Data, Gap or Skip call for that
	// direction (and, at a BoundaryReporter's Boundary call, of the byte
	// marked): the direction's next byte before the call. The Assembler
	// sets it just before each of these calls; between them it keeps the
	// value of the last one (0 before the first). During a Data call the
	// byte at p[i] has sequence number Next[d]+i, modulo 2^32.
	Next [2]uint32
}

// Window returns the receive window, in bytes, that a segment sent in
// direction d advertises with its raw window field w (Segment.Window): w
// scaled by d's sender's shift when both SYNs announced one (a SYN-ACK
// announces one only if the SYN did, RFC 7323 section 2.2: its own is
// enough), w as is otherwise: a connection picked up mid-stream, a
// window scale not negotiated, or the window of a SYN, which is never
// scaled (pass a SYN's w with syn true).
func (c *Conn) Window(d segment.Dir, w uint16, syn bool) uint32 {
	own, peer := c.WScale[d], c.WScale[1-d]
	if syn || own < 0 || peer < 0 && d != segment.ServerToClient {
		return uint32(w)
	}
	return uint32(w) << uint(own)
}

// Src returns the sender's endpoint for a direction.
func (c *Conn) Src(d segment.Dir) netip.AddrPort {
	if d == segment.ClientToServer {
		return c.Client
	}
	return c.Server
}

// Dst returns the receiver's endpoint for a direction.
func (c *Conn) Dst(d segment.Dir) netip.AddrPort {
	if d == segment.ClientToServer {
		return c.Server
	}
	return c.Client
}

// Consumer receives one connection's streams. seg is the segment being
// processed when the call is made (for its time); p is valid only during the
// call.
//
// A Consumer is only ever called from one goroutine at a time: the caller of
// Assembler.Add, or the shard goroutine that owns its connection when the
// Assembler runs behind a Sharded front end. Consumers of different
// connections may run concurrently under Sharded, so anything they share
// must be synchronised.
//
// The offset of a byte in direction d is the number of bytes delivered,
// reported lost and reported skipped before it in that direction: gaps and
// skips count, so offsets always match the sender's sequence numbers less
// the first one seen.
type Consumer interface {
	// Data delivers the next bytes of direction d, in order, each once.
	Data(d segment.Dir, p []byte, seg *segment.Segment)
	// Gap reports that the next n bytes of direction d were lost: never
	// seen (a hole the capture missed, kernel ring losses, bytes
	// acknowledged but not seen, holes given up on at a bound or at the
	// close).
	Gap(d segment.Dir, n uint64, seg *segment.Segment)
	// Skip reports that the next n bytes of direction d exist on the wire
	// but were not captured: the capture kept a prefix of a segment's
	// payload (Segment.Payload shorter than Segment.PayloadLen), cut by its
	// snapshot length or left out by the kernel inside frame bodies. Unlike
	// Gap they are not a loss: the capture chose not to keep them.
	Skip(d segment.Dir, n uint64, seg *segment.Segment)
	// Stall reports that the sender of direction d became stalled
	// (stalled true) or is no longer (false). It is stalled when its
	// receiver advertises a zero window while the sender has bytes it
	// has not had acknowledged, or when, the window closed, the sender
	// sends zero-window probes; seg is then the segment that shows it
	// (the zero window, or the first probe), but seg.Time is when the
	// receiver closed its window: when the stall began. It recovers when
	// the receiver opens its window again (seg the segment that does,
	// seg.Time when). A direction still stalled when the connection ends
	// gets Stall(d, false, seg) just before Close, with Close's seg (the
	// closing segment, or one carrying only the time).
	//
	// The zero window is read from the raw window field (Segment.Window),
	// whose scale does not matter for it; a keepalive probe sent during a
	// zero window looks like a zero-window probe.
	Stall(d segment.Dir, stalled bool, seg *segment.Segment)
	// Close ends the connection; no call follows it.
	Close(reason segment.CloseReason, seg *segment.Segment)
}

// Factory makes the Consumer of a new connection. c stays valid, and its
// fields may change (MidStream), until the Consumer's Close returns. Under
// Sharded, the Factory is called on shard goroutines, concurrently.
type Factory func(c *Conn) Consumer

// BoundaryReporter is implemented by a Consumer that wants the frame
// boundaries the capture marked (segment.Segment.Boundary).
type BoundaryReporter interface {
	// Boundary reports that the next byte Data delivers in direction d is
	// the first byte of a frame header the capture marked; b is the
	// segment's Boundary, seg the segment being processed.
	//
	// It is called immediately before that Data call, once per marked
	// byte delivered: not for a byte delivered already (a
	// retransmission), nor for one reported as Gap or Skip, nor for one
	// past the FIN. For bytes held out of order, b is the Boundary of the
	// segment that carried them (b.Offset is an offset into that
	// segment's payload, not seg's), reported when they are delivered; a
	// held stretch keeps only its earliest mark.
	Boundary(d segment.Dir, b segment.Boundary, seg *segment.Segment)
}

// IPCReporter is implemented by a Consumer that wants the IPC value of
// every segment of its connection that carries one (segment.Segment.IPC:
// an ipc:// connection's ends, which a live capture updates as it learns
// them), pure ACKs and FINs included, which no other call may show.
type IPCReporter interface {
	// IPC reports seg's IPC value, before seg is handled.
	IPC(v *segment.IPC)
}

// ConflictReporter is implemented by a Consumer that wants to hear about
// retransmissions whose bytes differ from the copy seen first. The first
// copy is the one delivered; the later one is dropped.
type ConflictReporter interface {
	// Conflict reports that seg carries, at stream offset offset of
	// direction d, n bytes (from its first to its last differing byte)
	// that differ from the first copy. It is called before the
	// non-conflicting part of seg, if any, is delivered.
	Conflict(d segment.Dir, offset uint64, n int, seg *segment.Segment)
}
