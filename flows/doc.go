// Package flows turns captured TCP segments into ordered per-direction byte
// streams. It knows nothing of ZMTP: a Consumer made per connection by a
// Factory receives each direction's bytes in order, each once, the bytes
// that can no longer arrive as gaps of their exact length, and the bytes
// sent but not captured (a payload the capture cut short) as skips.
//
// # Connections
//
// A connection is keyed by its two endpoints (IPv4 or IPv6), both
// directions linked. A SYN opens it; one seen first as a SYN-ACK takes its
// client's stream start from the acknowledgment number; one seen first
// mid-stream opens on its first segment carrying data and is marked
// Conn.MidStream (its first bytes were never seen: the decoder has to find
// a frame boundary). A pure ACK, FIN or RST of an unknown connection opens
// nothing. A retransmitted SYN changes nothing; a SYN with another initial
// sequence number closes the connection (segment.Reused) and opens a new one.
//
// It ends when both FINs have been delivered (segment.Finished), on a RST
// in either direction (segment.Reset), after Config.IdleTimeout without a
// packet (segment.Idle), when it sent both FINs but bytes before them are
// still missing after Config.CloseTimeout (segment.Finished), or on Flush
// (segment.Flushed); the Consumer's Close is told which. A closed connection is
// remembered for Config.CloseTimeout so that its late retransmissions and
// final ACK are ignored rather than taken for a new connection.
//
// One packet, forged, stale or from another connection, does not end a
// healthy connection. A RST or a FIN counts only inside its direction's
// window: not before the bytes already delivered in that direction, and
// not more than 16 MiB beyond the furthest byte seen in it (the end of
// the furthest bytes a segment carried, or past a FIN that counted). A RST
// of a direction that has sent nothing seen yet, or a RST with ACK
// answering the other side's SYN when that SYN is all it sent, counts
// whatever its sequence number. Packets outside are ignored and counted
// (Stats.IgnoredRST, Stats.IgnoredFIN; the bytes such a FIN carries are
// placed as usual). The price: a real FIN or RST sent after more than
// 16 MiB the capture missed is ignored too, and the connection ends by a
// timeout.
//
// # Ordering and loss
//
// Each direction is ordered by sequence number, modulo 2^32. Bytes already
// delivered are dropped; out-of-order bytes are held; where two copies of a
// byte differ, the first one seen wins and the Consumer, if it implements
// ConflictReporter, hears of it (bytes delivered are compared only within
// Config.ConflictWindow, held bytes always). A keepalive probe (one byte at
// the next sequence number less one) is neither data nor a retransmission.
// Bytes after a FIN are not part of the stream.
//
// A segment whose captured payload is shorter than its length
// (Segment.PayloadLen) carries bytes the capture did not keep: cut by its
// snapshot length, or left out on purpose inside ZMTP frame bodies. They
// are placed like the others (a later copy of them does not replace them)
// and reported with Consumer.Skip, not as a gap, when reached; they count
// in Stats.SkippedBytes, not in the losses.
//
// Bytes missing before held ones are reported lost, as a gap of exactly the
// missing length computed from sequence numbers, when they can no longer
// arrive:
//   - the other side acknowledged them (they were received, so they will not
//     be sent again; Config.NoAckLoss turns this off but for FINs). An
//     acknowledgment is believed only up to the furthest byte seen in the
//     direction it acknowledges: it declares lost the holes before bytes
//     held or before a FIN, never bytes the capture has not seen the sender
//     send (they may still arrive); one more than 16 MiB beyond is not
//     believed at all. Acknowledgments of bytes never seen count in
//     Stats.IgnoredAcks. Bytes acknowledged before the capture saw
//     anything after them are declared lost by the first acknowledgment
//     after it has, or at the close;
//   - the kernel's lost-record counter (Segment.KernelLost) moved: holes that
//     existed then, and a hole a direction's first segment after it reveals
//     (unless that segment lies more than 16 MiB beyond the bytes seen),
//     were in the lost records (Assembler.LostSegments does the same when the
//     counter is read apart from the segments);
//   - a bound is exceeded: Config.MaxBufferedPerDir or Config.MaxHolesPerDir
//     (the direction's first hole), Config.MaxBufferedTotal (the first hole
//     of the connections that started holding bytes first);
//   - a RST, the close timeout, the idle timeout or Flush.
//
// # Frame boundaries and sequence numbers
//
// A live capture with kernel-side framing marks where a ZMTP frame header
// starts in a segment (Segment.Boundary). A Consumer implementing
// BoundaryReporter hears of it just before the Data call whose first byte
// is the marked one: the Assembler splits the segment's bytes there. Only
// marks on bytes delivered for the first time are reported: not on a
// retransmission of bytes delivered, nor on bytes reported as Gap or Skip
// (or lost in a hole), nor past the FIN, nor on a copy of bytes already
// held. Bytes held out of order keep the earliest mark of each stretch
// held and report it when they are delivered. A segment without a mark
// costs one branch.
//
// # ipc:// ends
//
// A segment of an ipc:// connection carries the connection's ends
// (Segment.IPC), which a live capture updates as it learns them. A
// Consumer implementing IPCReporter hears of the value of every segment of
// its connection that has one, before the segment is handled, pure ACKs
// and FINs included (no other call shows those). A TCP segment costs one
// branch.
//
// # Stalls
//
// Each direction follows the windows its receiver advertises
// (Segment.Window; Conn.Window scales one by the shifts the SYNs announced,
// Conn.WScale, and takes it as is when they are unknown: a connection
// picked up mid-stream). The sender is stalled when the receiver
// advertises a zero window while bytes it was sent are not acknowledged,
// or when, the window closed, the sender probes it (an empty segment one
// before the acknowledged bytes, as Linux sends, or bytes beyond the
// window); the Consumer's Stall hears when that begins (dated when the
// window closed), when the receiver opens its window again, and, for a
// stall still on, just before Close. Stats.ZeroWindows counts the stalls.
// An open window costs a connection nothing (two flag bits and the shifts
// live in what was padding); a closed one, an entry of about 40 bytes in
// the Assembler's table until it opens or the connection ends. No segment
// allocates.
//
// Conn.Next gives, during each Data, Gap, Skip and Boundary call, the TCP
// sequence number of the call's first byte in its direction, so that a
// Consumer can name a byte of the stream by its sequence number (to tell
// the kernel where a future frame header is, say).
//
// # Memory
//
// An established, idle connection costs the Assembler about 360 bytes (the
// connection's state, about 300, and its entry in the map; measured by
// BenchmarkIdleFlowMemory: 36 MB for 100,000 connections), plus
// 2 × (Config.ConflictWindow + 32) bytes once both directions delivered data
// (about 940 bytes in all with a 256-byte window), plus what its Consumer
// holds. Out-of-order bytes are bounded by Config.MaxBufferedPerDir a
// direction and Config.MaxBufferedTotal an Assembler; the buffers holding
// them may be up to twice as large as their contents (they grow by
// appending). A closed connection costs about the same as an idle one until
// the close timeout forgets it. Sharded adds its batches (see Sharded).
//
// # Concurrency
//
// An Assembler is used by one goroutine, which its Consumers run on.
// Sharded spreads connections over Assemblers run by goroutines of their
// own, fed with batches of segments rather than one segment at a time.
// Both implement Reassembler, the one contract a pipeline drives.
// Each visits the open connections' Consumers on the goroutines that own
// them (the metrics read their counts so, at a scrape).
//
// Imports: segment only, of our packages (the Segment, the Dir and the
// CloseReason it hands its Consumers); zmtp and output do not import flows.
package flows
