package diagnose

import (
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Refused follows connection attempts answered by RST across connections,
// and reports each burst of them as one connect-refused problem. An attempt
// is refused when the server answers a SYN with RST|ACK acknowledging it
// (ack = the SYN's seq + 1); a retransmitted SYN is the same attempt.
//
// It follows at most Config.MaxRefusedPairs (4096 by default)
// client-address/server pairs at once, about 250 bytes each (map entry
// included); attempts of further pairs are not followed until Flush frees
// room. It is not safe for concurrent use.
type Refused struct {
	cfg   Config
	pairs map[refusedKey]*refusedPair
}

// refusedKey is a client address (any port: each reconnect takes a new
// one) and the server endpoint it tries.
type refusedKey struct {
	client netip.Addr
	server netip.AddrPort
}

// refusedPair is what a pair did: its last SYNs, and its burst of refused
// attempts.
type refusedPair struct {
	syns  [4]pendingSYN // the last SYNs, a ring
	nsyns uint8

	count       int       // refused attempts in the burst
	first, last time.Time // the burst's first and last refused attempt
	lastClient  netip.AddrPort
	touched     time.Time // the last SYN or refused attempt
}

type pendingSYN struct {
	port uint16
	seq  uint32
	ok   bool
}

// NewRefused returns an empty follower of refused attempts. Zero fields of
// cfg take DefaultConfig's values.
func NewRefused(cfg Config) *Refused {
	return &Refused{cfg: cfg.withDefaults()}
}

// Segment looks at a segment (only those with SYN or RST matter) and
// returns the burst it ends, if any: a refused attempt after
// Config.RefusedQuiet without one, or a SYN-ACK (a listener answered).
func (r *Refused) Segment(seg *segment.Segment) []Problem {
	switch {
	case seg.Has(segment.SYN | segment.ACK):
		// A listener answered: the pair's burst, if any, is over.
		k := refusedKey{seg.Dst.Addr(), seg.Src}
		if p := r.pairs[k]; p != nil {
			delete(r.pairs, k)
			return r.report(k, p, nil)
		}
	case seg.Has(segment.SYN):
		k := refusedKey{seg.Src.Addr(), seg.Dst}
		p := r.pairs[k]
		if p == nil {
			if len(r.pairs) >= r.cfg.MaxRefusedPairs {
				return nil
			}
			if r.pairs == nil {
				r.pairs = make(map[refusedKey]*refusedPair)
			}
			p = &refusedPair{}
			r.pairs[k] = p
		}
		for i := range p.syns {
			if s := &p.syns[i]; s.ok && s.port == seg.Src.Port() && s.seq == seg.Seq {
				return nil // a retransmission
			}
		}
		p.syns[p.nsyns%uint8(len(p.syns))] = pendingSYN{port: seg.Src.Port(), seq: seg.Seq, ok: true}
		p.nsyns++
		p.touched = seg.Time
	case seg.Has(segment.RST | segment.ACK):
		k := refusedKey{seg.Dst.Addr(), seg.Src}
		p := r.pairs[k]
		if p == nil {
			return nil
		}
		for i := range p.syns {
			s := &p.syns[i]
			if !s.ok || s.port != seg.Dst.Port() || seg.Ack != s.seq+1 {
				continue
			}
			s.ok = false
			var out []Problem
			if p.count > 0 && seg.Time.Sub(p.last) >= r.cfg.RefusedQuiet {
				out = r.report(k, p, nil)
				p.count = 0
			}
			if p.count == 0 {
				p.first = seg.Time
			}
			p.count++
			p.last, p.touched = seg.Time, seg.Time
			p.lastClient = seg.Dst
			return out
		}
	}
	return nil
}

// Flush returns the bursts that ended by now (no refused attempt for
// Config.RefusedQuiet), or, with final, all of them, and forgets them.
func (r *Refused) Flush(now time.Time, final bool) []Problem {
	var out []Problem
	for k, p := range r.pairs {
		if !final && now.Sub(p.touched) < r.cfg.RefusedQuiet {
			continue
		}
		delete(r.pairs, k)
		out = r.report(k, p, out)
	}
	sortProblems(out)
	return out
}

// report appends the pair's burst, if it is long enough.
func (r *Refused) report(k refusedKey, p *refusedPair, out []Problem) []Problem {
	if p.count < r.cfg.RefusedAttempts {
		return out
	}
	span := p.last.Sub(p.first)
	fields := []Field{{"attempts", int64(p.count)}, {"duration", span}}
	text := "reconnect loop: " + strconv.Itoa(p.count) + " attempts in " + seconds(round3(span))
	if span > 0 {
		rate := float64(p.count-1) / span.Seconds()
		fields = append(fields, Field{"rate", math.Round(rate*100) / 100})
		text += " (" + strconv.FormatFloat(rate, 'g', 3, 64) + " per second)"
	}
	text += ", no listener on " + k.server.String()
	return append(out, Problem{
		Kind: ConnectRefused, Text: text, Time: p.last,
		Client: p.lastClient, Server: k.server, From: segment.ServerToClient, Fields: fields,
	})
}

// sortProblems orders problems by time, then client, for a stable output.
func sortProblems(ps []Problem) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && less(&ps[j], &ps[j-1]); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func less(a, b *Problem) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.Before(b.Time)
	}
	if c := a.Client.Compare(b.Client); c != 0 {
		return c < 0
	}
	return a.Server.Compare(b.Server) < 0
}
