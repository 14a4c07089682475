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
// sequence number closes the connection (Reused) and opens a new one.
//
// It ends when both FINs have been delivered (Finished), on a RST in either
// direction (Reset), after Config.IdleTimeout without a packet (Idle), when
// it sent both FINs but bytes before them are still missing after
// Config.CloseTimeout (Finished), or on Flush. A closed connection is
// remembered for Config.CloseTimeout so that its late retransmissions and
// final ACK are ignored rather than taken for a new connection.
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
//     be sent again; Config.NoAckLoss turns this off but for FINs);
//   - the kernel's lost-record counter (Segment.KernelLost) moved: holes that
//     existed then, and a hole a direction's first segment after it reveals,
//     were in the lost records (Assembler.LostSegments does the same when the
//     counter is read apart from the segments);
//   - a bound is exceeded: Config.MaxBufferedPerDir or Config.MaxHolesPerDir
//     (the direction's first hole), Config.MaxBufferedTotal (the first hole
//     of the connections that started holding bytes first);
//   - a RST, the close timeout, the idle timeout or Flush.
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
package flows
