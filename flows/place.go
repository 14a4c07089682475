package flows

import (
	"slices"
)

// place puts n bytes at seq, seq at or after next, of which data are the
// first captured (the rest were not captured: skipped): bytes held already
// win, bytes at next are delivered, the rest is held. It reports whether
// some bytes were held already.
func (h *half) place(o *sink, seq uint32, data []byte, n uint32) bool {
	end := seq + n
	if len(h.runs) == 0 && seq == h.next {
		// The common case: in order, nothing held.
		h.deliver(o, data, n-uint32(len(data)), &o.mark)
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
			h.compare(o, h.offset+uint64(cur-h.next), r.data[rlo:rhi], data[lo:lo+(rhi-rlo)])
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
			h.deliver(o, known, missing, &o.mark)
			continue
		}
		h.insert(o, p.from, known, missing)
		held = true
	}
	if held {
		o.stats.OutOfOrder++
	}
	return seen
}

// insert holds known bytes at seq, followed by missing ones, in a hole.
func (h *half) insert(o *sink, seq uint32, known []byte, missing uint32) {
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
	if m := &o.mark; m.b.Valid && m.seq-seq < uint32(len(known)) && !r.mark.b.Valid {
		// A mark already held in r comes before the bytes appended.
		r.mark = *m
	}
	if i < len(h.runs) && r.missing == 0 && r.end() == h.runs[i].seq {
		// The hole between two runs is filled: join them, keeping the
		// earlier mark.
		r.data = append(r.data, h.runs[i].data...)
		r.missing = h.runs[i].missing
		if !r.mark.b.Valid {
			r.mark = h.runs[i].mark
		}
		h.runs[i] = run{}
		h.runs = slices.Delete(h.runs, i, i+1)
	}
	h.buffered += len(known)
	o.stats.Buffered += len(known)
	o.stats.PeakBuffered = max(o.stats.PeakBuffered, o.stats.Buffered)
}

// trimAfterFin drops the bytes held after a FIN just seen.
func (h *half) trimAfterFin(o *sink) {
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
			o.stats.Buffered -= len(r.data) - keep
			r.data = r.data[:keep]
			if r.mark.seq-r.seq >= uint32(keep) {
				r.mark = mark{} // past the FIN
			}
		}
		r.missing = uint32(keep - len(r.data))
		if keep == 0 {
			h.runs[j] = run{}
			h.runs = h.runs[:j]
		}
	}
}

// compareDelivered compares p, at stream offset off before next, with the
// bytes delivered there if still in the window.
func (h *half) compareDelivered(o *sink, off uint64, p []byte) {
	w := h.recent
	if w == nil {
		return
	}
	end := h.offset
	lo := max(w.from, end-min(end, uint64(len(w.buf))), off)
	if lo >= off+uint64(len(p)) {
		return
	}
	first, last := -1, -1
	for x := lo; x < off+uint64(len(p)); x++ {
		if w.buf[x%uint64(len(w.buf))] != p[x-off] {
			if first < 0 {
				first = int(x - off)
			}
			last = int(x - off)
		}
	}
	if first >= 0 {
		o.conflict(off+uint64(first), last-first+1)
	}
}

// compare reports where got, at stream offset off, differs from held.
func (h *half) compare(o *sink, off uint64, held, got []byte) {
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
		o.conflict(off+uint64(first), last-first+1)
	}
}

// conflict counts and reports n differing bytes at stream offset off.
func (o *sink) conflict(off uint64, n int) {
	o.stats.Conflicts++
	if r, ok := o.consumer.(ConflictReporter); ok {
		r.Conflict(o.d, off, n, o.seg)
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
