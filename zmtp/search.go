package zmtp

import "math/bits"

// The boundary search: where a direction's place in the stream is unknown
// (the capture started after its greeting, or bytes were lost outside a
// message frame body), every byte that could open a frame header starts a
// candidate chain. A chain reads the header there, jumps over the body the
// header announces and reads the next header, and so on; it dies at the
// first header that breaks RFC 23's grammar. Each header it survives adds
// evidence, counted in bits: roughly -log2 of the chance that random bytes
// pass that header's checks. A chain is accepted once it holds
// searchAccept bits over at least searchMinHeaders headers, and decoding
// resumes at the first header of that chain known to start a message.
//
// Two chains that reach the same header share their future: they are
// merged, keeping the history of the one with more evidence. A claim that
// a header starts a message (the message frame before it had no MORE flag)
// is believed only from a chain that already holds
// searchClaimMin bits before that header: a chance frame inside a body can
// end exactly at a real header, and it must not make a message's later
// frames look like a whole message.

// Search thresholds, in bits of evidence.
const (
	// searchAccept is the evidence a chain needs to be accepted: a random
	// stream passes with a chance of about 2^-64 per offset.
	searchAccept = 64
	// searchMinHeaders is the fewest headers an accepted chain holds:
	// one header, however unlikely, is never proof.
	searchMinHeaders = 2
	// searchClaimMin is the evidence a chain must hold before a header for
	// its claim that the header starts a message to be believed.
	searchClaimMin = 18
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
	score   int32  // bits of evidence so far
	headers int32  // headers read
	// startKnown: the frame at next starts a message, by this chain;
	// claimScore is the evidence the chain held when the message frame
	// that says so (the last before next) was read.
	startKnown bool
	claimScore int32
	// replay is the offset of the chain's first header believed to start a
	// message, if hasReplay.
	hasReplay bool
	replay    uint64
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
		return h, hdrOK
	}
	return readCommand(b[h.len:], h)
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
	switch string(name) {
	case "PING":
		// RFC 37: ping-ttl = 2OCTET, ping-context = 0*16OCTET.
		if data < 2 || data > 2+maxPingContext {
			return header{}, hdrBad
		}
		h.score = 8 + 5*int32(n)
	case "PONG":
		if data > maxPingContext {
			return header{}, hdrBad
		}
		h.score = 8 + 5*int32(n)
	case "ERROR":
		// RFC 23: error-reason = OCTET 0*255VCHAR.
		if data < 1 {
			return header{}, hdrBad
		}
		h.score = 8 + 5*int32(n)
	case "READY", "SUBSCRIBE", "CANCEL", "HELLO", "WELCOME", "INITIATE", "MESSAGE":
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
	s.buf = append(s.buf, p...)
	f, ok := s.search()
	if !ok {
		s.trim()
	}
	return f, ok
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
		have := false
		for len(s.cands) > 0 && s.cands[0].next == pos {
			x := s.pop()
			if !have || x.better(&c) {
				c = x
			}
			have = true
		}
		if !have {
			c = cand{next: pos}
		}
		h, st := readHeader(s.buf[pos-s.bufOff:], s.reserved)
		if st == hdrNeedMore {
			s.push(c) // wait here for more bytes
			return found{}, false
		}
		s.pos++
		if st == hdrBad {
			continue
		}
		claim := c.startKnown && c.claimScore >= searchClaimMin
		if claim && !c.hasReplay {
			c.hasReplay, c.replay = true, pos
		}
		c.score += h.score
		c.headers++
		if c.score >= searchAccept && c.headers >= searchMinHeaders {
			if c.hasReplay && c.replay >= s.bufOff {
				return found{off: c.replay, msgStart: true}, true
			}
			return found{off: pos, msgStart: claim}, true
		}
		c.next = pos + h.len + h.size
		if !h.command {
			// A command leaves it as it was: the decoder lets one stand
			// between the frames of a message (RFC 23's grammar does not).
			c.startKnown, c.claimScore = !h.more, c.score
		}
		if len(s.cands) < searchMaxCands {
			s.push(c)
		}
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
	n := copy(s.buf, s.buf[cut-s.bufOff:])
	s.buf = s.buf[:n]
	s.bufOff = cut
	for i := range s.cands {
		if c := &s.cands[i]; c.hasReplay && c.replay < cut {
			c.hasReplay = false
		}
	}
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
			c.hasReplay = false // the bytes before the loss cannot be replayed
			kept = append(kept, c)
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

func (s *searcher) push(c cand) {
	s.cands = append(s.cands, c)
	h := s.cands
	for i := len(h) - 1; i > 0; {
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
