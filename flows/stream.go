package flows

import (
	"slices"

	"github.com/zmtpdump/zmtpdump/capture"
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
)

// half is one direction's state: about 70 bytes while idle.
type half struct {
	next     uint32 // sequence number of the next byte to deliver
	isn      uint32 // initial sequence number (the SYN's)
	finSeq   uint32 // sequence number of the FIN
	lostMark uint32 // low bits of Segment.KernelLost on this direction's last segment
	flags    uint8
	offset   uint64 // stream offset of next: bytes delivered, lost and skipped so far
	// runs are the out-of-order bytes held, sorted, disjoint, each after
	// a hole: all start after next. nil when there are none.
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
}

func (r *run) end() uint32 { return r.seq + uint32(len(r.data)) + r.missing }

// window keeps the last len(buf) bytes delivered, byte at offset o at
// buf[o%len(buf)], to compare retransmissions with.
type window struct {
	buf  []byte
	from uint64 // lowest offset held: bytes before a gap are forgotten
}

func (h *half) start(seq, mark uint32) {
	h.next, h.lostMark, h.flags = seq, mark, h.flags|started
}

// accept places the bytes of seg, starting at sequence number seq (past a
// SYN), in direction d.
func (a *Assembler) accept(c *conn, d Dir, seq uint32, seg *capture.Segment) {
	h := &c.dirs[d]
	data := seg.Payload
	n := uint32(max(seg.PayloadLen, len(data)))
	end := seq + n
	if seg.Has(capture.FIN) && h.flags&finSeen == 0 {
		h.flags |= finSeen
		h.finSeq = end
		if seqLess(end, h.next) {
			h.finSeq = h.next // a FIN before bytes delivered: keep those
		}
		a.trimAfterFin(h)
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
	if n == 1 && seq == h.next-1 && h.flags&finDone == 0 && !seg.Has(capture.FIN) {
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
			a.compareDelivered(c, d, h.offset-back, data[:k], seg)
		}
		if skip >= n {
			n = 0
		} else {
			n -= skip
			data = data[min(int(skip), len(data)):]
		}
		seq = h.next
	}
	if n > 0 && a.place(c, d, seq, data, n, seg) {
		retransmit = true
	}
	if retransmit {
		a.stats.Retransmits++
	}
	if lostMoved {
		// The capture lost segments since this direction's last one: the
		// bytes missing before this one were in them.
		a.lostBefore(c, d, seq, seg)
	}
	a.drain(c, d, seg)
	a.enforceDir(c, d, seg)
	if h.buffered > 0 {
		a.enforceTotal(seg)
	}
}

// place puts n bytes at seq, seq at or after next, of which data are the
// first captured (the rest were not captured: skipped): bytes held already
// win, bytes at next are delivered, the rest is held. It reports whether
// some bytes were held already.
func (a *Assembler) place(c *conn, d Dir, seq uint32, data []byte, n uint32, seg *capture.Segment) bool {
	h := &c.dirs[d]
	end := seq + n
	if len(h.runs) == 0 && seq == h.next {
		// The common case: in order, nothing held.
		a.deliver(c, d, data, n-uint32(len(data)), seg)
		return false
	}
	// Split [seq, end) around the runs it overlaps: overlaps are compared,
	// the pieces between are new.
	type piece struct{ from, to uint32 }
	var stack [4]piece
	pieces := stack[:0]
	cur := seq
	i, _ := slices.BinarySearchFunc(h.runs, seq-h.next, func(r run, rel uint32) int {
		re := r.end() - h.next
		if re <= rel {
			return -1
		}
		return 1
	})
	seen := false
	for ; i < len(h.runs) && seqLess(h.runs[i].seq, end) && seqLess(cur, end); i++ {
		r := &h.runs[i]
		if seqLess(cur, r.seq) {
			pieces = append(pieces, piece{cur, r.seq})
			cur = r.seq
		}
		to := r.end()
		if seqLess(end, to) {
			to = end
		}
		seen = true
		// Compare the captured bytes both copies have in [cur, to).
		from := cur - seq
		lo, hi := int(from), min(int(to-seq), len(data))
		rlo := int(cur - r.seq)
		rhi := min(rlo+(hi-lo), len(r.data))
		if lo < hi && rlo < rhi {
			a.compare(c, d, h.offset+uint64(cur-h.next), r.data[rlo:rhi], data[lo:lo+(rhi-rlo)], seg)
		}
		cur = to
	}
	if seqLess(cur, end) {
		pieces = append(pieces, piece{cur, end})
	}
	held := false
	for _, p := range pieces {
		lo, hi := min(int(p.from-seq), len(data)), min(int(p.to-seq), len(data))
		known := data[lo:hi]
		missing := (p.to - p.from) - uint32(len(known))
		if p.from == h.next {
			a.deliver(c, d, known, missing, seg)
			continue
		}
		a.insert(c, d, p.from, known, missing)
		held = true
	}
	if held {
		a.stats.OutOfOrder++
	}
	return seen
}

// insert holds known bytes at seq, followed by missing ones, in a hole.
func (a *Assembler) insert(c *conn, d Dir, seq uint32, known []byte, missing uint32) {
	h := &c.dirs[d]
	i, _ := slices.BinarySearchFunc(h.runs, seq-h.next, func(r run, rel uint32) int {
		if r.seq-h.next < rel {
			return -1
		}
		return 1
	})
	var r *run
	if i > 0 && h.runs[i-1].missing == 0 && h.runs[i-1].end() == seq {
		r = &h.runs[i-1]
		r.data = append(r.data, known...)
		r.missing = missing
	} else {
		h.runs = slices.Insert(h.runs, i, run{seq: seq, missing: missing, data: slices.Clone(known)})
		r = &h.runs[i]
		i++
	}
	if i < len(h.runs) && r.missing == 0 && r.end() == h.runs[i].seq {
		// The hole between two runs is filled: join them.
		r.data = append(r.data, h.runs[i].data...)
		r.missing = h.runs[i].missing
		h.runs[i] = run{}
		h.runs = slices.Delete(h.runs, i, i+1)
	}
	h.buffered += len(known)
	a.stats.Buffered += len(known)
	a.stats.PeakBuffered = max(a.stats.PeakBuffered, a.stats.Buffered)
	a.linkPending(c)
}

// trimAfterFin drops the bytes held after a FIN just seen.
func (a *Assembler) trimAfterFin(h *half) {
	for j := len(h.runs) - 1; j >= 0; j-- {
		r := &h.runs[j]
		if !seqLess(h.finSeq, r.end()) {
			break
		}
		keep := 0
		if seqLess(r.seq, h.finSeq) {
			keep = int(h.finSeq - r.seq)
		}
		if keep < len(r.data) {
			h.buffered -= len(r.data) - keep
			a.stats.Buffered -= len(r.data) - keep
			r.data = r.data[:keep]
		}
		r.missing = uint32(keep - len(r.data))
		if keep == 0 {
			h.runs[j] = run{}
			h.runs = h.runs[:j]
		}
	}
}

// deliver hands bytes at next to the consumer, then reports the missing
// ones that follow, which the capture did not keep, skipped.
func (a *Assembler) deliver(c *conn, d Dir, data []byte, missing uint32, seg *capture.Segment) {
	h := &c.dirs[d]
	if len(data) > 0 {
		c.consumer.Data(d, data, seg)
		if a.cfg.ConflictWindow > 0 {
			h.remember(data, a.cfg.ConflictWindow)
		}
		h.next += uint32(len(data))
		h.offset += uint64(len(data))
		a.stats.Bytes += uint64(len(data))
	}
	if missing > 0 {
		a.skip(c, d, uint64(missing), seg)
	}
}

// gap reports the n bytes at next lost.
func (a *Assembler) gap(c *conn, d Dir, n uint64, seg *capture.Segment) {
	c.consumer.Gap(d, n, seg)
	a.pass(c, d, n)
	a.stats.Gaps++
	a.stats.LostBytes += n
}

// skip reports the n bytes at next not captured.
func (a *Assembler) skip(c *conn, d Dir, n uint64, seg *capture.Segment) {
	c.consumer.Skip(d, n, seg)
	a.pass(c, d, n)
	a.stats.SkippedBytes += n
}

// pass moves next past n bytes that were not delivered. The conflict
// window holds no copy of them: it forgets what it held, as comparisons
// there go by offset.
func (a *Assembler) pass(c *conn, d Dir, n uint64) {
	h := &c.dirs[d]
	h.next += uint32(n)
	h.offset += n
	if h.recent != nil {
		h.recent.from = h.offset
	}
}

// drain delivers the runs now in order, then the FIN if reached.
func (a *Assembler) drain(c *conn, d Dir, seg *capture.Segment) {
	h := &c.dirs[d]
	k := 0
	for k < len(h.runs) && h.runs[k].seq == h.next {
		r := &h.runs[k]
		h.buffered -= len(r.data)
		a.stats.Buffered -= len(r.data)
		a.deliver(c, d, r.data, r.missing, seg)
		k++
	}
	if k > 0 {
		n := copy(h.runs, h.runs[k:])
		clear(h.runs[n:])
		h.runs = h.runs[:n]
	}
	if len(h.runs) == 0 {
		h.runs = nil
		if c.dirs[1-d].runs == nil {
			a.unlinkPending(c)
		}
	}
	if h.flags&(finSeen|finDone) == finSeen && h.next == h.finSeq {
		h.flags |= finDone
		h.next++
	}
}

// skipHole declares the bytes before the first run lost and delivers what
// follows. It reports whether there was a run.
func (a *Assembler) skipHole(c *conn, d Dir, seg *capture.Segment) bool {
	h := &c.dirs[d]
	if len(h.runs) == 0 {
		return false
	}
	a.gap(c, d, uint64(h.runs[0].seq-h.next), seg)
	a.drain(c, d, seg)
	return true
}

// finish declares everything still missing in direction d lost: holes, and
// the bytes before its FIN if seen.
func (a *Assembler) finish(c *conn, d Dir, seg *capture.Segment) {
	h := &c.dirs[d]
	for a.skipHole(c, d, seg) {
	}
	if h.flags&(finSeen|finDone) == finSeen {
		if seqLess(h.next, h.finSeq) {
			a.gap(c, d, uint64(h.finSeq-h.next), seg)
		}
		a.drain(c, d, seg)
	}
}

// lostBefore declares lost the bytes missing before sequence number x.
func (a *Assembler) lostBefore(c *conn, d Dir, x uint32, seg *capture.Segment) {
	h := &c.dirs[d]
	for len(h.runs) > 0 && !seqLess(x, h.runs[0].seq) {
		a.skipHole(c, d, seg)
	}
	if seqLess(h.next, x) {
		a.gap(c, d, uint64(x-h.next), seg)
		a.drain(c, d, seg)
	}
}

// acked handles the other side's acknowledgment of direction d's bytes
// before ack: bytes it acknowledges that the capture has not seen were
// received, so they will not be sent again: they are lost. A capture point
// sees a byte before its acknowledgment, unless Config.NoAckLoss says the
// capture's order cannot be trusted for that.
func (a *Assembler) acked(c *conn, d Dir, ack uint32, seg *capture.Segment) {
	h := &c.dirs[d]
	if h.flags&(started|finDone) != started || !seqLess(h.next, ack) || ack-h.next >= maxAckJump {
		return
	}
	if h.flags&finSeen != 0 && seqLess(h.finSeq, ack) {
		ack = h.finSeq
	}
	if a.cfg.NoAckLoss {
		if h.flags&finSeen == 0 || ack != h.finSeq {
			return
		}
		// The FIN is acknowledged: nothing before it will be sent again.
	}
	a.lostBefore(c, d, ack, seg)
}

// maxAckJump is how far past the bytes delivered an acknowledgment may
// point and still be believed: the largest TCP window (RFC 7323 section
// 2.3).
const maxAckJump = 1 << 30

// enforceDir keeps direction d within its bounds.
func (a *Assembler) enforceDir(c *conn, d Dir, seg *capture.Segment) {
	h := &c.dirs[d]
	for (h.buffered > a.cfg.MaxBufferedPerDir || len(h.runs) > a.cfg.MaxHolesPerDir) && a.skipHole(c, d, seg) {
	}
}

// compareDelivered compares p, at stream offset off before next, with the
// bytes delivered there if still in the window.
func (a *Assembler) compareDelivered(c *conn, d Dir, off uint64, p []byte, seg *capture.Segment) {
	w := c.dirs[d].recent
	if w == nil {
		return
	}
	end := c.dirs[d].offset
	lo := max(w.from, end-min(end, uint64(len(w.buf))), off)
	if lo >= off+uint64(len(p)) {
		return
	}
	first, last := -1, -1
	for o := lo; o < off+uint64(len(p)); o++ {
		if w.buf[o%uint64(len(w.buf))] != p[o-off] {
			if first < 0 {
				first = int(o - off)
			}
			last = int(o - off)
		}
	}
	if first >= 0 {
		a.conflict(c, d, off+uint64(first), last-first+1, seg)
	}
}

// compare reports where got, at stream offset off, differs from held.
func (a *Assembler) compare(c *conn, d Dir, off uint64, held, got []byte, seg *capture.Segment) {
	first, last := -1, -1
	for i := range held {
		if held[i] != got[i] {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first >= 0 {
		a.conflict(c, d, off+uint64(first), last-first+1, seg)
	}
}

func (a *Assembler) conflict(c *conn, d Dir, off uint64, n int, seg *capture.Segment) {
	a.stats.Conflicts++
	if r, ok := c.consumer.(ConflictReporter); ok {
		r.Conflict(d, off, n, seg)
	}
}

// remember keeps delivered bytes p in the window.
func (h *half) remember(p []byte, size int) {
	if h.recent == nil {
		h.recent = &window{buf: make([]byte, size), from: h.offset}
	}
	buf := h.recent.buf
	off := h.offset
	if len(p) > len(buf) {
		off += uint64(len(p) - len(buf))
		p = p[len(p)-len(buf):]
	}
	at := int(off % uint64(len(buf)))
	n := copy(buf[at:], p)
	copy(buf, p[n:])
}
