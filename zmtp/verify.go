package zmtp

import "math"

// Verification. The fixed weights of readHeader assume bodies of random
// bytes. Real bodies are often structured: little integers, UTF-16 text,
// zero padding make "00 xx" pairs, and so valid-looking headers, common.
// So a chain that the fixed weights accept is walked again from its first
// header and every header is weighed by how often its bytes occur in the
// bodies the chain jumped over: a flags byte 0x00 is worth 8 bits in a
// stream of text bodies and next to nothing in one of zero-padded records.
//
// A header is believed to be a real one only when the chain that reached
// it held searchClaimMin bits before it: a chance frame inside a body can
// land exactly on a real header, and a real chain's later headers prove
// nothing about the chance ones before them. A chain is accepted once it
// holds searchAccept bits in all; decoding then resumes at its first
// believed header known to start a message (the chain's message frame
// before it had no MORE), or, if none is yet, at its first believed header
// with one more after it, dropping the message in progress.

// maxWalk bounds the headers verify walks.
const maxWalk = 4096

// walkHdr is one header of a chain walked again.
type walkHdr struct {
	off uint64
	h   header
	w   float64 // its weight, in bits
}

// bitsOf is the evidence a byte value v gives, in bits, where counts of n
// bytes were seen: at most 8 (one value of 256).
func bitsOf(counts *[256]uint32, n uint32, v byte) float64 {
	return min(8, math.Log2(float64(n+256)/float64(counts[v]+1)))
}

// weight is the evidence of header h at the start of b, given counts of n
// bytes.
func weight(counts *[256]uint32, n uint32, b []byte, h *header) float64 {
	w := bitsOf(counts, n, b[0])
	switch {
	case h.command:
		nameLen := int(b[h.len])
		for _, c := range b[h.len+1 : h.len+1+uint64(nameLen)] {
			w += bitsOf(counts, n, c)
		}
	case h.len == 9:
		for _, z := range b[1:9] {
			if z != 0 {
				break
			}
			w += bitsOf(counts, n, 0)
		}
	case h.size == 0 && !h.more:
		w = 0 // "00 00": runs of zeros are made of these
	case h.size == 0:
		w = min(w, 1)
	}
	if !h.command && isCurveMessage(b, h) {
		for _, c := range b[h.len : h.len+uint64(len(curveMessagePrefix))] {
			w += bitsOf(counts, n, c)
		}
	}
	return w
}

// weigh is header h's weight against all the bytes the search was fed.
func (s *searcher) weigh(b []byte, h *header) int32 {
	return int32(weight(&s.counts, s.n, b, h))
}

// verify walks chain c again from its first header to the one at pos,
// weighs each header against the bytes of the bodies it jumped over, and
// returns where decoding can resume, if anywhere yet.
func (s *searcher) verify(c *cand, pos uint64) (found, bool) {
	if c.origin < s.bufOff {
		return found{}, false
	}
	walk := s.walk[:0]
	for off := c.origin; ; {
		h, st := readHeader(s.buf[off-s.bufOff:], s.reserved)
		if st != hdrOK || len(walk) == maxWalk {
			s.walk = walk
			return found{}, false
		}
		walk = append(walk, walkHdr{off: off, h: h})
		next := off + h.len + h.size
		if off == pos {
			break
		}
		if next > pos {
			s.walk = walk
			return found{}, false // not the path the chain took
		}
		off = next
	}
	s.walk = walk
	var counts [256]uint32
	var n uint32
	for i := 0; i+1 < len(walk); i++ {
		from := walk[i].off + walk[i].h.len
		if h := &walk[i].h; h.size == 0 && !h.more {
			from = walk[i].off // "00 00": as likely body bytes as a frame
		}
		body := s.buf[from-s.bufOff : walk[i+1].off-s.bufOff]
		for _, b := range body {
			counts[b]++
		}
		n += uint32(len(body))
	}
	var total float64
	for i := range walk {
		w := &walk[i]
		w.w = weight(&counts, n, s.buf[w.off-s.bufOff:], &w.h)
		total += w.w
	}
	// before is the evidence held before header i; startKnown says the
	// chain's last message frame before i had no MORE, and claim is the
	// evidence held once that frame was read: what the claim that a
	// message starts at i stands on (commands after it add nothing to it).
	// A "00 00" frame claims nothing: zeros are too common for that.
	var before, claim float64
	startKnown := false
	fallback := -1
	for i := range walk {
		w := &walk[i]
		vetoed := c.hasVeto && c.vetoAt >= w.off
		believed := i > 0 && before >= searchClaimMin && !vetoed
		if believed && total >= searchAccept && len(walk)-i >= searchMinHeaders {
			if startKnown && claim >= searchClaimMin {
				return found{off: w.off, msgStart: true}, true
			}
			if fallback < 0 {
				fallback = i
			}
		}
		before += w.w
		if !w.h.command {
			startKnown, claim = !w.h.more && w.w > 0, before
		}
	}
	if fallback >= 0 {
		return found{off: walk[fallback].off}, true
	}
	return found{}, false
}
