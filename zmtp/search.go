package zmtp

import "math/bits"

// The boundary search: where a direction's place in the stream is unknown
// (the capture started after its greeting, or bytes were lost outside a
// message frame body), every byte that could open a frame header starts a
// candidate chain. A chain reads the header there, jumps over the body the
// header announces and reads the next header, and so on; it dies at the
// first header that breaks RFC 23's grammar. Each header it survives adds
// evidence, counted in bits: roughly -log2 of the chance that bytes pass
// that header's checks. Fixed weights, which assume random bodies, pick the
// chains worth a closer look; verify.go then weighs such a chain's headers
// against the bytes of the bodies it jumped over, and decides whether and
// where decoding resumes: never at a header not believed real, never from a
// message whose first frames may have been missed.
//
// Two chains that reach the same header share their future: they are
// merged, keeping the history of the one with more evidence; if they
// disagree whether a message starts there, neither is believed on it.
// The bytes since the search began (at most Options.MaxSearch) are held so
// that the messages between the resume point and the point where the chain
// was accepted are decoded from them.

// Search thresholds, in bits of evidence.
const (
	// searchAccept is the evidence a chain needs to be accepted: a random
	// stream passes with a chance of about 2^-64 per offset.
	searchAccept = 64
	// searchMinHeaders is the fewest headers an accepted chain holds:
	// one header, however unlikely, is never proof.
	searchMinHeaders = 2
	// searchClaimMin is the evidence a chain must hold before a header for
	// the header to be believed a real one (see verify.go): a chance chain
	// that lands exactly on a real header has about 2^-32 odds.
	searchClaimMin = 24
	// searchReverify is how much more evidence a chain that failed
	// verification needs before it is verified again.
	searchReverify = 32
	// searchMaxCands bounds the chains followed at once (48 bytes each):
	// random bytes keep about ten alive, runs of zeros two.
	searchMaxCands = 1024
	// searchMaxSize is the largest frame body a chain believes: a LONG
	// size at or above 2^48 is taken for chance bytes.
	searchMaxSize = 1 << 48
	// searchGiveUp is how many bytes a direction searches without finding
	// a boundary before it stops: a stream that is not ZMTP (or is ZMTP
	// 1.0, which the search does not cover) on a monitored port costs the
	// search no more.
	searchGiveUp = 16 << 20
	// searchLongMin is the smallest LONG size a chain believes: libzmq
	// and the other implementations send a short size below 256 (RFC 23
	// allows a long one; such a peer is only found later).
	searchLongMin = 256
)

// DefaultMaxSearch is the default Options.MaxSearch: a search proves a
// boundary within about a kilobyte of messages on real streams, and
// thousands of connections joined at once each hold this much at most
// until they sync.
const DefaultMaxSearch = 16 << 10

// cand is one candidate chain of frame headers.
type cand struct {
	next    uint64 // stream offset of the header it reads next
	origin  uint64 // offset of its first header
	score   int32  // bits of evidence so far, by the fixed weights
	gscore  int32  // bits of evidence so far, weighed by the bytes seen
	headers int32  // headers read
	// startKnown: the frame at next starts a message, by this chain;
	// gclaim is gscore when the message frame that says so was read.
	startKnown bool
	gclaim     int32
	// vetoAt: chains that disagreed whether a message starts there met
	// at this header (hasVeto): no claim up to it is believed.
	hasVeto bool
	vetoAt  uint64
	// verifyAt is the score at which the chain is verified next.
	verifyAt int32
}

// better reports whether c carries more evidence than o.
func (c *cand) better(o *cand) bool {
	return c.score > o.score || c.score == o.score && c.headers > o.headers
}

// header is what a search read of one frame header.
type header struct {
	len     uint64 // header length: flags, size and, for a command, nothing more
	size    uint64 // body size
	score   int32
	more    bool
	command bool
}

// hdrStatus says whether a header could be read.
type hdrStatus uint8

const (
	hdrOK       hdrStatus = iota
	hdrBad                // not a frame header
	hdrNeedMore           // the bytes to tell are not here yet
)

// readHeader reads the frame header at the start of b, which holds every
// byte the search has from there on. reserved is the direction's reserved
// flag bits (RFC 23 or RFC 15); v2 forbids commands.
func readHeader(b []byte, reserved byte) (header, hdrStatus) {
	if len(b) == 0 {
		return header{}, hdrNeedMore
	}
	f := b[0]
	// RFC 23, "Framing": bits 7-3 MUST be zero; MORE SHALL be zero on
	// command frames.
	if f&reserved != 0 || f&flagCommand != 0 && f&flagMore != 0 {
		return header{}, hdrBad
	}
	h := header{more: f&flagMore != 0, command: f&flagCommand != 0, len: 2}
	if f&flagLong != 0 {
		h.len = 9
	}
	if uint64(len(b)) < h.len {
		return header{}, hdrNeedMore
	}
	if f&flagLong != 0 {
		h.size = uint64(b[1])<<56 | uint64(b[2])<<48 | uint64(b[3])<<40 | uint64(b[4])<<32 |
			uint64(b[5])<<24 | uint64(b[6])<<16 | uint64(b[7])<<8 | uint64(b[8])
		if h.size < searchLongMin || h.size >= searchMaxSize {
			return header{}, hdrBad
		}
		// Two of 256 flag values, and the size's high bytes zero.
		h.score = 7 + int32(56-bits.Len64(h.size))
	} else {
		h.size = uint64(b[1])
		switch {
		case h.size == 0 && !h.more:
			h.score = 0 // "00 00": runs of zeros are made of these
		case h.size == 0:
			h.score = 1 // an empty frame with MORE: a delimiter
		default:
			h.score = 6 // two of 256 flag values, a little less for binary bodies
		}
	}
	if !h.command {
		if isCurveMessage(b, &h) {
			h.score += 40 // eight given bytes opening the body
		}
		return h, hdrOK
	}
	return readCommand(b[h.len:], h)
}

// isCurveMessage reports whether the message frame h at the start of b has
// its body's first bytes here and they open a CURVE MESSAGE (RFC 26:
// %d7 "MESSAGE", as libzmq sends it in a data frame).
func isCurveMessage(b []byte, h *header) bool {
	n := uint64(len(curveMessagePrefix))
	return h.size >= n && uint64(len(b)) >= h.len+n && string(b[h.len:h.len+n]) == curveMessagePrefix
}

// readCommand checks a command's name (RFC 23: command-body =
// command-name command-data; command-name = OCTET 1*255command-name-char;
// command-name-char = ALPHA) and, for the commands of RFC 37, its size.
func readCommand(body []byte, h header) (header, hdrStatus) {
	if h.size == 0 {
		return header{}, hdrBad
	}
	if len(body) == 0 {
		return header{}, hdrNeedMore
	}
	n := uint64(body[0])
	if n == 0 || n+1 > h.size {
		return header{}, hdrBad
	}
	if uint64(len(body)) < 1+n {
		return header{}, hdrNeedMore
	}
	name := body[1 : 1+n]
	for _, c := range name {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return header{}, hdrBad
		}
	}
	data := h.size - 1 - n
	h.score = 8 + 2*int32(n) // one flag value of 256, ALPHA names
	switch lookupCommand(name).kind {
	case KindPing:
		// RFC 37: ping-ttl = 2OCTET, ping-context = 0*16OCTET.
		if data < 2 || data > 2+maxPingContext {
			return header{}, hdrBad
		}
		h.score = 8 + 5*int32(n)
	case KindPong:
		if data > maxPingContext {
			return header{}, hdrBad
		}
		h.score = 8 + 5*int32(n)
	case KindError:
		// RFC 23: error-reason = OCTET 0*255VCHAR.
		if data < 1 {
			return header{}, hdrBad
		}
		h.score = 8 + 5*int32(n)
	case KindReady, KindSubscribe, KindCancel, KindHello, KindWelcome, KindInitiate, KindMessage:
		h.score = 8 + 5*int32(n)
	}
	return h, hdrOK
}

// searcher finds a proven frame boundary in the bytes of a direction that
// lost its place. It holds the bytes seen since (at most Options.MaxSearch
// of them) so that the messages of an accepted chain can be decoded from
// its first proven message start.
type searcher struct {
	reason   ResyncReason
	reserved byte
	from     uint64 // offset where the direction lost its place
	lost     uint64 // bytes lost or not captured since
	max      int    // bound of buf
	buf      []byte // stream bytes from bufOff on
	bufOff   uint64
	pos      uint64 // the next offset to examine
	cands    []cand // a min-heap on next
	// counts is how often each byte value occurred in the bytes fed, of
	// which n: the background a chance header is weighed against.
	counts  [256]uint32
	n       uint32
	stopped bool      // gave up: only counts the bytes
	walk    []walkHdr // verify's scratch
}

// found is an accepted boundary.
type found struct {
	off      uint64 // where decoding resumes: a frame header
	msgStart bool   // the frame at off is known to start a message
}

func newSearcher(reason ResyncReason, from uint64, reserved byte, max int) *searcher {
	return &searcher{reason: reason, reserved: reserved, from: from, max: max, bufOff: from, pos: from}
}

// scanned is how many bytes the search has examined since it began.
func (s *searcher) scanned() uint64 { return s.pos - s.from - min(s.lost, s.pos-s.from) }

// end is the offset just past the bytes held.
func (s *searcher) end() uint64 { return s.bufOff + uint64(len(s.buf)) }

// add appends the next bytes of the stream and searches them. It reports an
// accepted boundary, whose bytes from off on are still held.
func (s *searcher) add(p []byte) (found, bool) {
	if s.stopped {
		s.pos += uint64(len(p))
		s.bufOff = s.pos
		return found{}, false
	}
	for _, b := range p {
		s.counts[b]++
	}
	s.n += uint32(len(p))
	if s.n > 1<<30 {
		// Keep the proportions, not the magnitude.
		for i := range s.counts {
			s.counts[i] /= 2
		}
		s.n /= 2
	}
	s.buf = append(s.buf, p...)
	f, ok := s.search()
	if !ok {
		s.trim()
	}
	return f, ok
}

// stop ends the search for good: the bytes are only counted from now on.
func (s *searcher) stop() {
	s.stopped = true
	s.pos = s.end()
	s.bufOff = s.pos
	s.buf, s.cands, s.walk = nil, nil, nil
}

// held returns the bytes held from stream offset off on.
func (s *searcher) held(off uint64) []byte { return s.buf[off-s.bufOff:] }

// search examines the offsets from pos on.
func (s *searcher) search() (found, bool) {
	end := s.end()
	for s.pos < end {
		if len(s.cands) == 0 || s.cands[0].next > s.pos {
			// No chain reads a header here: pass over the bytes that
			// cannot start one, up to the next chain's header.
			limit := end
			if len(s.cands) > 0 {
				limit = min(limit, s.cands[0].next)
			}
			b := s.buf[s.pos-s.bufOff : limit-s.bufOff]
			i := 0
			for i < len(b) && (b[i]&s.reserved != 0 || b[i]&(flagCommand|flagMore) == flagCommand|flagMore) {
				i++
			}
			s.pos += uint64(i)
			if i == len(b) {
				continue
			}
		}
		pos := s.pos
		var c cand
		have, veto := false, false
		for len(s.cands) > 0 && s.cands[0].next == pos {
			x := s.pop()
			if have && x.startKnown != c.startKnown {
				veto = true
			}
			if !have || x.better(&c) {
				c = x
			}
			have = true
		}
		if veto {
			c.hasVeto, c.vetoAt = true, pos
		}
		if !have {
			c = cand{next: pos, origin: pos}
		}
		h, st := readHeader(s.buf[pos-s.bufOff:], s.reserved)
		if st == hdrNeedMore {
			s.cands = append(s.cands, c) // wait here for more bytes (the heap's
			up(s.cands, len(s.cands)-1)  // bound is kept by push)
			return found{}, false
		}
		s.pos++
		if st == hdrBad {
			continue
		}
		claim := c.startKnown && c.gclaim >= searchClaimMin && !(c.hasVeto && c.vetoAt >= pos)
		gbefore := c.gscore
		c.score += h.score
		c.gscore += s.weigh(s.buf[pos-s.bufOff:], &h)
		c.headers++
		if c.headers >= searchMinHeaders && c.score >= max(c.verifyAt, searchAccept) {
			if f, ok := s.verify(&c, pos); ok {
				return f, true
			}
			c.verifyAt = c.score + searchReverify
		}
		if c.origin < s.bufOff && c.gscore >= searchAccept && c.headers >= searchMinHeaders && gbefore >= searchClaimMin {
			// Too long a chain to walk again (its first bytes are gone):
			// weighed against all the bytes seen, it stands on its own.
			return found{off: pos, msgStart: claim}, true
		}
		c.next = pos + h.len + h.size
		if !h.command {
			// A command leaves it as it was: the decoder lets one stand
			// between the frames of a message (RFC 23's grammar does not).
			c.startKnown, c.gclaim = !h.more, c.gscore
		}
		s.push(c)
	}
	return found{}, false
}

// trim keeps the bytes held within max, dropping the oldest ones that are
// no longer needed to read a header.
func (s *searcher) trim() {
	if len(s.buf) <= s.max {
		return
	}
	keep := uint64(s.max / 2)
	cut := s.end() - keep
	if cut > s.pos {
		cut = s.pos
	}
	if cut <= s.bufOff {
		return
	}
	rest := s.buf[cut-s.bufOff:]
	if cap(s.buf) > 4*s.max {
		s.buf = append(make([]byte, 0, 2*s.max), rest...) // let a large chunk's array go
	} else {
		s.buf = s.buf[:copy(s.buf, rest)]
	}
	s.bufOff = cut
}

// pass moves the search past n bytes that were lost or not captured: the
// chains whose next header lies in them die, those inside a body that spans
// them go on.
func (s *searcher) pass(n uint64) {
	at := s.end()
	s.lost += n
	after := satAdd(at, n)
	kept := s.cands[:0]
	for _, c := range s.cands {
		if c.next >= after {
			kept = append(kept, c) // its first bytes cannot be walked again
		}
	}
	s.cands = kept
	heapify(s.cands)
	s.buf = s.buf[:0]
	s.bufOff, s.pos = after, after
}

// skipped returns the bytes seen but not decoded between where the
// direction lost its place and off.
func (s *searcher) skipped(off uint64) uint64 {
	if off < s.from {
		return 0
	}
	return off - s.from - min(s.lost, off-s.from)
}

// The candidate heap, ordered by next, without container/heap's interface
// boxing.

// push adds c. When searchMaxCands chains are followed already, the one
// whose next header is farthest goes (c itself if it is): hostile bytes
// cannot fill the set with chains that wait forever behind long sizes.
func (s *searcher) push(c cand) {
	if len(s.cands) >= searchMaxCands {
		far := 0
		for i := range s.cands {
			if s.cands[i].next > s.cands[far].next {
				far = i
			}
		}
		if s.cands[far].next <= c.next {
			return
		}
		s.cands[far] = c
		heapify(s.cands)
		return
	}
	s.cands = append(s.cands, c)
	up(s.cands, len(s.cands)-1)
}

func up(h []cand, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].next <= h[i].next {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (s *searcher) pop() cand {
	h := s.cands
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	s.cands = h[:last]
	down(s.cands, 0)
	return top
}

func down(h []cand, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].next < h[l].next {
			m = r
		}
		if h[i].next <= h[m].next {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func heapify(h []cand) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(h, i)
	}
}
