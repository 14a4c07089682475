package accuracy

import (
	"fmt"
	"slices"
	"sort"
)

// streamMap maps the TCP sequence numbers of one direction to reference
// stream offsets, counted from the first byte after the SYN as in a decode
// of the whole capture: the byte with sequence number seq is at offset
// seq − isn − 1, modulo 2^32 (the captures are far below 4 GiB a
// direction).
type streamMap struct {
	isn uint32 // the SYN's sequence number
}

// offset is the reference offset of the byte with sequence number seq.
func (m streamMap) offset(seq uint32) int64 { return int64(seq - m.isn - 1) }

// streamMaps finds the ISN of every direction of c that sent a SYN.
func streamMaps(c *capture) map[string]streamMap {
	maps := map[string]streamMap{}
	for _, p := range c.packets {
		if _, seen := maps[p.dir]; p.syn && !seen {
			maps[p.dir] = streamMap{isn: p.seq}
		}
	}
	return maps
}

// decoderBase is the reference offset of direction dir's stream offset 0 in
// zmtpdump's decode of the packets of c that keep marks (all if nil): the
// byte after the ISN if the decoder saw the SYN (or the other side's
// SYN-ACK, which acknowledges it) before any data of dir, otherwise the
// first byte of the first segment of dir carrying data, where a capture
// that starts mid-connection starts that direction (see package flows). ok
// is false if no kept packet starts the direction.
func decoderBase(c *capture, keep []bool, dir string, m streamMap) (base int64, ok bool) {
	rev := reverse(dir)
	for i, p := range c.packets {
		if keep != nil && !keep[i] {
			continue
		}
		switch {
		case p.dir == dir && p.syn:
			return m.offset(p.seq + 1), true
		case p.dir == rev && p.syn && p.ackFlag:
			return m.offset(p.ack), true
		case p.dir == dir && p.payload > 0 && !p.rst:
			return m.offset(p.seq), true
		}
	}
	return 0, false
}

// span is the half-open range of stream offsets [lo, hi).
type span struct{ lo, hi int64 }

// spans is a set of stream offsets: sorted, disjoint, non-adjacent spans.
type spans []span

// makeSpans returns the union of ss (which it may reorder).
func makeSpans(ss []span) spans {
	sort.Slice(ss, func(i, j int) bool { return ss[i].lo < ss[j].lo })
	var out spans
	for _, s := range ss {
		if s.hi <= s.lo {
			continue
		}
		if n := len(out); n > 0 && s.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, s.hi)
			continue
		}
		out = append(out, s)
	}
	return out
}

// covers reports whether every offset in [lo, hi) is in the set.
func (s spans) covers(lo, hi int64) bool {
	if hi <= lo {
		return true
	}
	// The last span starting at or before lo is the only candidate.
	i, found := slices.BinarySearchFunc(s, lo, func(x span, lo int64) int {
		switch {
		case x.lo < lo:
			return -1
		case x.lo > lo:
			return 1
		}
		return 0
	})
	if !found {
		i--
	}
	return i >= 0 && s[i].lo <= lo && hi <= s[i].hi
}

// size is the number of offsets in the set.
func (s spans) size() int64 {
	var n int64
	for _, x := range s {
		n += x.hi - x.lo
	}
	return n
}

// capturedBytes is the set of reference offsets of direction dir whose byte
// is in a packet of c that keep marks (all if nil) and that the decoder can
// see: none before from (its base; bytes before it come as retransmissions
// and are dropped).
func capturedBytes(c *capture, keep []bool, dir string, m streamMap, from int64) spans {
	var ss []span
	for i, p := range c.packets {
		if (keep != nil && !keep[i]) || p.dir != dir || p.payload == 0 || p.rst {
			continue
		}
		seq := p.seq
		if p.syn {
			seq++ // data on a SYN follows it
		}
		lo := m.offset(seq)
		ss = append(ss, span{max(lo, from), lo + int64(p.payload)})
	}
	return makeSpans(ss)
}

// String renders a set for test failures.
func (s spans) String() string {
	out := "{"
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("[%d,%d)", x.lo, x.hi)
	}
	return out + "}"
}
