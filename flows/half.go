package flows

import (
	"github.com/zmtpdump/zmtpdump/segment"
)

// seqLess reports a < b in sequence space (RFC 9293 section 3.4: modulo
// 2^32, comparing within half the space).
func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

// Flags of a half.
const (
	started  uint8 = 1 << iota // next is valid
	isnKnown                   // isn is valid
	finSeen                    // finSeq is valid
	finDone                    // the FIN was reached: next is past it
	zeroWin                    // the receiver's window is closed: Assembler.zero holds the direction
	stalled                    // a stall was reported (Consumer.Stall) and has not ended
)

// half is one direction's state and owns its stream: about 70 bytes while
// idle. Its methods take what they need of the rest in a sink.
type half struct {
	next     uint32 // sequence number of the next byte to deliver
	isn      uint32 // initial sequence number (the SYN's)
	finSeq   uint32 // sequence number of the FIN
	lostMark uint32 // low bits of Segment.KernelLost on this direction's last segment
	flags    uint8
	// high is one past the furthest sequence number seen: the end of the
	// bytes carried by a segment, past a FIN that counted, or the
	// sequence number of the first segment after a capture loss. Never
	// before next.
	high   uint32
	offset uint64 // stream offset of next: bytes delivered, lost and skipped so far
	// runs are the out-of-order bytes held, sorted, disjoint, each after
	// a hole: all start after next. Empty when there are none.
	runs     []run
	buffered int     // payload bytes in runs
	recent   *window // recently delivered bytes; nil unless Config.ConflictWindow > 0
}

// run is a stretch of out-of-order bytes: data, then missing bytes the
// capture did not keep (reported skipped, not lost, once reached).
type run struct {
	seq     uint32
	missing uint32
	data    []byte
	mark    mark // the earliest boundary marked in data, if any
}

// mark is a frame boundary the capture marked: the byte at sequence
// number seq starts a frame header. b.Valid reports that there is one.
type mark struct {
	seq uint32
	b   segment.Boundary
}

func (r *run) end() uint32 { return r.seq + uint32(len(r.data)) + r.missing }

// window keeps the last len(buf) bytes delivered, byte at offset o at
// buf[o%len(buf)], to compare retransmissions with.
type window struct {
	buf  []byte
	from uint64 // lowest offset held: bytes before a gap are forgotten
}

// sink is what a half needs beyond itself while the Assembler processes a
// segment: where its calls go, what it counts, its bounds. The Assembler
// builds one on the stack for each direction it works on; a sink holds
// nothing between segments.
type sink struct {
	consumer Consumer
	info     *Conn
	stats    *Stats
	cfg      *Config
	seg      *segment.Segment // given to the Consumer's calls
	d        segment.Dir
	mark     mark // the boundary seg marks in its captured bytes, if any
}

func (h *half) start(seq, mark uint32) {
	h.next, h.high, h.lostMark, h.flags = seq, seq, mark, h.flags|started
}

// maxAhead is how far beyond the furthest byte seen in a direction a FIN,
// a RST or an acknowledgment may point and still be believed: 16 MiB,
// more than the receive windows of the connections we follow. A packet
// further out is forged, stale or from another connection; the price is
// that a real FIN or RST sent after more than 16 MiB the capture missed is
// ignored too (the connection then ends by a timeout).
const maxAhead = 16 << 20

// beyond reports whether x lies more than maxAhead beyond the furthest
// byte seen.
func (h *half) beyond(x uint32) bool { return seqLess(h.high, x) && x-h.high > maxAhead }

// inWindow reports whether x is neither before the bytes delivered nor
// beyond the furthest byte seen by more than maxAhead: where a FIN or a
// RST of this direction may be.
func (h *half) inWindow(x uint32) bool { return !seqLess(x, h.next) && !h.beyond(x) }

// holding reports whether h holds out-of-order bytes.
func (h *half) holding() bool { return len(h.runs) > 0 }

// accept places the bytes of o.seg, starting at sequence number seq (past
// a SYN).
func (h *half) accept(o *sink, seq uint32) {
	seg := o.seg
	data := seg.Payload
	n := uint32(max(seg.PayloadLen, len(data)))
	end := seq + n
	if seg.Boundary.Valid && int(seg.Boundary.Offset) < len(data) {
		// Whether the marked byte is reported is decided where the
		// captured bytes go: delivered now, held, or dropped.
		o.mark = mark{seq: seq + seg.Boundary.Offset, b: seg.Boundary}
	}
	top := end // one past what seg shows
	if seg.Has(segment.FIN) && h.flags&finSeen == 0 {
		if h.inWindow(end) {
			h.flags |= finSeen
			h.finSeq = end
			h.trimAfterFin(o)
			top++
		} else {
			// Before bytes delivered, or far beyond what was seen: not
			// this stream's FIN (its bytes are placed as usual).
			o.stats.IgnoredFIN++
		}
	}
	if top != seq && seqLess(h.high, top) {
		// seg carries bytes or a FIN that counted.
		h.high = top
	}
	if h.flags&finSeen != 0 && seqLess(h.finSeq, end) {
		// Bytes after the FIN: not part of the stream.
		if !seqLess(seq, h.finSeq) {
			n = 0
		} else {
			n = h.finSeq - seq
		}
		data = data[:min(len(data), int(n))]
	}
	lostMoved := uint32(seg.KernelLost) != h.lostMark
	h.lostMark = uint32(seg.KernelLost)
	if n == 1 && seq == h.next-1 && h.flags&finDone == 0 && !seg.Has(segment.FIN) {
		// A keepalive probe: one byte, already delivered, sent again
		// whatever its value. Not data, not a retransmission.
		return
	}
	retransmit := false
	if n > 0 && seqLess(seq, h.next) {
		// Bytes delivered (or declared lost) already.
		retransmit = true
		skip := h.next - seq
		if k := min(int(skip), len(data)); k > 0 {
			// Bytes are at next minus skip, less one past a FIN.
			back := uint64(skip)
			if h.flags&finDone != 0 {
				back--
			}
			h.compareDelivered(o, h.offset-back, data[:k])
		}
		if skip >= n {
			n = 0
		} else {
			n -= skip
			data = data[min(int(skip), len(data)):]
		}
		seq = h.next
	}
	if n > 0 && h.place(o, seq, data, n) {
		retransmit = true
	}
	if retransmit {
		o.stats.Retransmits++
	}
	if lostMoved && !h.beyond(seq) {
		// The capture lost segments since this direction's last one: the
		// bytes missing before this one were in them (unless it is far
		// out of the window: forged or stale).
		if seqLess(h.high, seq) {
			h.high = seq
		}
		h.lostBefore(o, seq)
	}
	h.drain(o)
	h.enforceDir(o)
}

// deliver hands bytes at next to the consumer, then reports the missing
// ones that follow, which the capture did not keep, skipped. When m marks
// a byte of data, the Data call is split there and the mark reported
// between.
func (h *half) deliver(o *sink, data []byte, missing uint32, m *mark) {
	if m.b.Valid {
		if at := m.seq - h.next; at < uint32(len(data)) {
			if r, ok := o.consumer.(BoundaryReporter); ok {
				h.data(o, data[:at])
				o.info.Next[o.d] = h.next
				r.Boundary(o.d, m.b, o.seg)
				data = data[at:]
			}
		}
	}
	h.data(o, data)
	if missing > 0 {
		h.skip(o, uint64(missing))
	}
}

// data hands p, at next, to the consumer.
func (h *half) data(o *sink, p []byte) {
	if len(p) == 0 {
		return
	}
	o.info.Next[o.d] = h.next
	o.consumer.Data(o.d, p, o.seg)
	if o.cfg.ConflictWindow > 0 {
		h.remember(p, o.cfg.ConflictWindow)
	}
	h.next += uint32(len(p))
	h.offset += uint64(len(p))
	o.stats.Bytes += uint64(len(p))
}

// gap reports the n bytes at next lost.
func (h *half) gap(o *sink, n uint64) {
	o.info.Next[o.d] = h.next
	o.consumer.Gap(o.d, n, o.seg)
	h.pass(n)
	o.stats.Gaps++
	o.stats.LostBytes += n
}

// skip reports the n bytes at next not captured.
func (h *half) skip(o *sink, n uint64) {
	o.info.Next[o.d] = h.next
	o.consumer.Skip(o.d, n, o.seg)
	h.pass(n)
	o.stats.SkippedBytes += n
}

// pass moves next past n bytes that were not delivered. The conflict
// window holds no copy of them: it forgets what it held, as comparisons
// there go by offset.
func (h *half) pass(n uint64) {
	h.next += uint32(n)
	h.offset += n
	if h.recent != nil {
		h.recent.from = h.offset
	}
}

// drain delivers the runs now in order, then the FIN if reached.
func (h *half) drain(o *sink) {
	k := 0
	for k < len(h.runs) && h.runs[k].seq == h.next {
		r := &h.runs[k]
		h.buffered -= len(r.data)
		o.stats.Buffered -= len(r.data)
		h.deliver(o, r.data, r.missing, &r.mark)
		k++
	}
	if k > 0 {
		n := copy(h.runs, h.runs[k:])
		clear(h.runs[n:])
		h.runs = h.runs[:n]
	}
	if len(h.runs) == 0 {
		h.runs = nil
	}
	if h.flags&(finSeen|finDone) == finSeen && h.next == h.finSeq {
		h.flags |= finDone
		h.next++
	}
}

// skipHole declares the bytes before the first run lost and delivers what
// follows. It reports whether there was a run.
func (h *half) skipHole(o *sink) bool {
	if len(h.runs) == 0 {
		return false
	}
	h.gap(o, uint64(h.runs[0].seq-h.next))
	h.drain(o)
	return true
}

// skipHoles declares every hole lost: holes come after the bytes
// delivered, so every hole of a direction holding bytes is before some of
// them.
func (h *half) skipHoles(o *sink) {
	for h.skipHole(o) {
	}
}

// finish declares everything still missing lost: holes, and the bytes
// before the FIN if seen.
func (h *half) finish(o *sink) {
	h.skipHoles(o)
	if h.flags&(finSeen|finDone) == finSeen {
		if seqLess(h.next, h.finSeq) {
			h.gap(o, uint64(h.finSeq-h.next))
		}
		h.drain(o)
	}
}

// lostBefore declares lost the bytes missing before sequence number x.
func (h *half) lostBefore(o *sink, x uint32) {
	for len(h.runs) > 0 && !seqLess(x, h.runs[0].seq) {
		h.skipHole(o)
	}
	if seqLess(h.next, x) {
		h.gap(o, uint64(x-h.next))
		h.drain(o)
	}
}

// acked handles the other side's acknowledgment of the bytes before ack:
// bytes it acknowledges that the capture has not seen were received, so
// they will not be sent again: they are lost. A capture point sees a byte
// before its acknowledgment, unless Config.NoAckLoss says the capture's
// order cannot be trusted for that.
//
// The acknowledgment is believed only up to the furthest byte seen (high):
// the holes before bytes held, not bytes the capture never saw the sender
// send (they may be on their way, or the acknowledgment forged or from
// another connection). One more than maxAhead beyond is not believed at
// all.
func (h *half) acked(o *sink, ack uint32) {
	if h.flags&(started|finDone) != started || !seqLess(h.next, ack) {
		return
	}
	if seqLess(h.high, ack) {
		o.stats.IgnoredAcks++
		if h.beyond(ack) {
			return
		}
		ack = h.high
		if !seqLess(h.next, ack) {
			return
		}
	}
	if h.flags&finSeen != 0 && seqLess(h.finSeq, ack) {
		ack = h.finSeq
	}
	if o.cfg.NoAckLoss {
		if h.flags&finSeen == 0 || ack != h.finSeq {
			return
		}
		// The FIN is acknowledged: nothing before it will be sent again.
	}
	h.lostBefore(o, ack)
}

// enforceDir keeps the direction within its bounds.
func (h *half) enforceDir(o *sink) {
	for (h.buffered > o.cfg.MaxBufferedPerDir || len(h.runs) > o.cfg.MaxHolesPerDir) && h.skipHole(o) {
	}
}
