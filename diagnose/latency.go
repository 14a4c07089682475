package diagnose

import (
	"slices"
	"time"

	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Latency state bounds: requests waiting for their reply, and round trips
// kept for the percentiles. A latency is about 3.6 KB (64 × 24 bytes of
// pending requests, 256 × 8 bytes of samples), allocated at a connection's
// first request.
const (
	maxPending     = 64
	latencySamples = 256
)

// latency matches replies to requests and keeps their round trips.
type latency struct {
	pending [maxPending]pendingRequest
	seq     uint64 // order of the requests, for FIFO matching
	npend   int

	samples [latencySamples]time.Duration
	count   uint64
	last    time.Duration // the latest round trip (see Conn.RoundTrips)
	max     time.Duration
	rng     uint64 // xorshift state for the reservoir sample
	dropped uint64 // requests evicted unanswered (more than maxPending waiting)
}

// pendingRequest is a request waiting for its reply: its envelope's hash
// and when it was sent. seq 0 marks a free slot.
type pendingRequest struct {
	key uint64
	seq uint64
	at  int64 // UnixNano
}

// envelope hashes (FNV-1a) the frames of a message up to its empty
// delimiter: the routing envelope a reply carries back (RFC 28 REQ-REP).
// A REQ's envelope is empty; a message without delimiter has none either.
func envelope(m *zmtp.Message) uint64 {
	h := uint64(14695981039346656037)
	for i := range m.Frames {
		f := &m.Frames[i]
		if f.Size == 0 {
			return h
		}
		for _, b := range f.Data {
			h ^= uint64(b)
			h *= 1099511628211
		}
		h ^= f.Size
		h *= 1099511628211
	}
	return 14695981039346656037
}

// request records a request with envelope key sent at t.
func (l *latency) request(key uint64, t time.Time) {
	l.seq++
	free, oldest := -1, -1
	for i := range l.pending {
		p := &l.pending[i]
		if p.seq == 0 {
			free = i
			break
		}
		if oldest < 0 || p.seq < l.pending[oldest].seq {
			oldest = i
		}
	}
	if free < 0 {
		free = oldest
		l.dropped++
		l.npend--
	}
	l.pending[free] = pendingRequest{key: key, seq: l.seq, at: t.UnixNano()}
	l.npend++
}

// reply matches a reply with envelope key received at t to the oldest
// request with the same envelope.
func (l *latency) reply(key uint64, t time.Time) {
	if l.npend == 0 {
		return
	}
	best, seen := -1, 0
	for i := range l.pending {
		p := &l.pending[i]
		if p.seq == 0 {
			continue
		}
		if p.key == key && (best < 0 || p.seq < l.pending[best].seq) {
			best = i
		}
		if seen++; seen == l.npend {
			break // no other request waits
		}
	}
	if best < 0 {
		return
	}
	rtt := time.Duration(t.UnixNano() - l.pending[best].at)
	l.pending[best].seq = 0
	l.npend--
	l.add(rtt)
}

// add keeps a round trip: all of the first latencySamples, then a uniform
// sample of them (reservoir sampling, deterministic).
func (l *latency) add(rtt time.Duration) {
	if rtt < 0 {
		rtt = 0
	}
	l.count++
	l.last = rtt
	l.max = max(l.max, rtt)
	if l.count <= latencySamples {
		l.samples[l.count-1] = rtt
		return
	}
	if l.rng == 0 {
		l.rng = 0x9e3779b97f4a7c15
	}
	l.rng ^= l.rng << 13
	l.rng ^= l.rng >> 7
	l.rng ^= l.rng << 17
	if j := l.rng % l.count; j < latencySamples {
		l.samples[j] = rtt
	}
}

// summary returns the percentiles, nil when no reply was matched.
func (l *latency) summary() *Latency {
	if l.count == 0 {
		return nil
	}
	n := min(l.count, latencySamples)
	s := slices.Clone(l.samples[:n])
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(n)+0.999999999) - 1 // nearest rank
		return s[max(0, min(i, int(n)-1))]
	}
	return &Latency{Count: l.count, P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: l.max}
}

// RoundTrips is the hook that hands each request/reply round trip out (to
// metrics): n is how many replies were matched to their request so far,
// last the latest round trip. Event matches at most one reply per event,
// so a caller that calls RoundTrips after each Event and sees n grow by one
// has the round trip of that event in last. It costs a nil check on a
// connection that is no request/reply pair.
func (c *Conn) RoundTrips() (n uint64, last time.Duration) {
	if c == nil || c.lat == nil {
		return 0, 0
	}
	return c.lat.count, c.lat.last
}
