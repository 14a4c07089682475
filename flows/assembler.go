package flows

import (
	"net/netip"
	"sort"
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
)

// Defaults for Config.
const (
	DefaultMaxBufferedPerDir = 4 << 20
	DefaultIdleTimeout       = 5 * time.Minute
)

// Config bounds the Assembler.
type Config struct {
	// MaxBufferedPerDir bounds the out-of-order bytes held per direction;
	// when it is exceeded the missing bytes are declared lost.
	MaxBufferedPerDir int
	// IdleTimeout ends connections that saw no packet for this long.
	IdleTimeout time.Duration
}

// Stats counts what the Assembler did.
type Stats struct {
	Segments     uint64 // segments added
	Bytes        uint64 // payload bytes delivered in order
	OutOfOrder   uint64 // segments that arrived ahead of a hole
	Retransmits  uint64 // segments carrying bytes already delivered
	Gaps         uint64 // gaps reported
	LostBytes    uint64 // bytes reported in gaps
	Flows        uint64 // connections seen
	ActiveFlows  int    // connections open now
	DroppedFlows uint64 // segments of unknown connections ignored (RST/FIN only)
}

// Assembler tracks connections. It is not safe for concurrent use.
type Assembler struct {
	cfg     Config
	factory Factory
	conns   map[key]*conn
	stats   Stats
}

// key identifies a connection whatever the direction of a segment: lo is
// the smaller endpoint.
type key struct{ lo, hi netip.AddrPort }

func makeKey(a, b netip.AddrPort) key {
	if a.Compare(b) < 0 {
		return key{a, b}
	}
	return key{b, a}
}

type conn struct {
	info     Conn
	consumer Consumer
	dirs     [2]half
	last     time.Time
}

// pending is an out-of-order segment, its payload copied.
type pending struct {
	seq  uint32
	data []byte
	fin  bool
	// missing counts payload bytes the capture did not keep at its end.
	missing uint32
}

// half is one direction's state.
type half struct {
	started  bool   // next is valid
	next     uint32 // sequence number of the next byte to deliver
	fin      bool   // FIN delivered
	finSeen  bool   // FIN seen, perhaps ahead of a hole
	pend     []pending
	buffered int
}

// New returns an Assembler that makes a Consumer per connection with f.
func New(cfg Config, f Factory) *Assembler {
	if cfg.MaxBufferedPerDir <= 0 {
		cfg.MaxBufferedPerDir = DefaultMaxBufferedPerDir
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	return &Assembler{cfg: cfg, factory: f, conns: make(map[key]*conn)}
}

// Stats returns the counters.
func (a *Assembler) Stats() Stats {
	s := a.stats
	s.ActiveFlows = len(a.conns)
	return s
}

// seqLess reports a < b in sequence space (RFC 793, modulo 2^32).
func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

// Add processes one segment. seg.Payload is not retained.
func (a *Assembler) Add(seg *capture.Segment) {
	a.stats.Segments++
	k := makeKey(seg.Src, seg.Dst)
	c := a.conns[k]
	if c == nil {
		if seg.Flags&(capture.RST|capture.FIN) != 0 && seg.PayloadLen == 0 {
			// The tail of a connection we never saw: nothing to decode.
			a.stats.DroppedFlows++
			return
		}
		c = a.open(k, seg)
	}
	c.last = seg.Time
	d := ClientToServer
	if seg.Src != c.info.Client {
		d = ServerToClient
	}
	h := &c.dirs[d]
	if seg.Has(capture.SYN) {
		h.started, h.next = true, seg.Seq+1
		if seg.PayloadLen == 0 {
			return
		}
		seg.Seq++ // data on a SYN (TCP Fast Open) follows the SYN
	}
	if !h.started {
		h.started, h.next = true, seg.Seq
		if !c.info.MidStream {
			c.info.MidStream = true
		}
	}
	a.accept(c, d, seg)
	if seg.Has(capture.FIN) {
		h.finSeen = true
	}
	if seg.Has(capture.RST) {
		a.close(k, c, Reset, seg)
		return
	}
	// Once both sides have sent FIN, bytes missing before the FINs are
	// taken as lost: close flushes them as gaps.
	if c.dirs[0].finSeen && c.dirs[1].finSeen {
		a.close(k, c, Finished, seg)
	}
}

func (a *Assembler) open(k key, seg *capture.Segment) *conn {
	c := &conn{info: Conn{Client: seg.Src, Server: seg.Dst, Start: seg.Time}}
	if seg.Flags&(capture.SYN|capture.ACK) == capture.SYN|capture.ACK {
		// A SYN-ACK comes from the server.
		c.info.Client, c.info.Server = seg.Dst, seg.Src
	}
	if !seg.Has(capture.SYN) {
		c.info.MidStream = true
	}
	c.consumer = a.factory(&c.info)
	a.conns[k] = c
	a.stats.Flows++
	return c
}

// accept places the segment's bytes in direction d.
func (a *Assembler) accept(c *conn, d Dir, seg *capture.Segment) {
	h := &c.dirs[d]
	fin := seg.Has(capture.FIN)
	data := seg.Payload
	missing := uint32(0)
	if seg.PayloadLen > len(data) {
		missing = uint32(seg.PayloadLen - len(data))
	}
	if len(data) == 0 && missing == 0 && !fin {
		return
	}
	end := seg.Seq + uint32(len(data)) + missing
	if !seqLess(h.next, end) && !(fin && !h.fin && end == h.next) {
		// Everything here was delivered already.
		if len(data) > 0 || missing > 0 {
			a.stats.Retransmits++
		}
		return
	}
	if seqLess(h.next, seg.Seq) {
		// A hole before this segment: keep it for later.
		a.stats.OutOfOrder++
		h.pend = append(h.pend, pending{seq: seg.Seq, data: append([]byte(nil), data...), fin: fin, missing: missing})
		h.buffered += len(data)
		sort.Slice(h.pend, func(i, j int) bool { return seqLess(h.pend[i].seq, h.pend[j].seq) })
		if h.buffered > a.cfg.MaxBufferedPerDir {
			a.skipHole(c, d, seg)
		}
		return
	}
	if seqLess(seg.Seq, h.next) {
		// Part of it was delivered already: trim.
		a.stats.Retransmits++
		skip := h.next - seg.Seq
		if int(skip) >= len(data) {
			missing -= skip - uint32(len(data))
			data = nil
		} else {
			data = data[skip:]
		}
	}
	a.deliver(c, d, data, missing, fin, seg)
	a.drain(c, d, seg)
}

// deliver hands in-order bytes to the consumer.
func (a *Assembler) deliver(c *conn, d Dir, data []byte, missing uint32, fin bool, seg *capture.Segment) {
	h := &c.dirs[d]
	if len(data) > 0 {
		c.consumer.Data(d, data, seg)
		a.stats.Bytes += uint64(len(data))
		h.next += uint32(len(data))
	}
	if missing > 0 {
		a.gap(c, d, uint64(missing), seg)
	}
	if fin && !h.fin {
		h.fin = true
		h.next++
	}
}

func (a *Assembler) gap(c *conn, d Dir, n uint64, seg *capture.Segment) {
	c.consumer.Gap(d, n, seg)
	c.dirs[d].next += uint32(n)
	a.stats.Gaps++
	a.stats.LostBytes += n
}

// drain delivers buffered segments that are now in order.
func (a *Assembler) drain(c *conn, d Dir, seg *capture.Segment) {
	h := &c.dirs[d]
	for len(h.pend) > 0 && !seqLess(h.next, h.pend[0].seq) {
		p := h.pend[0]
		h.pend = h.pend[1:]
		h.buffered -= len(p.data)
		data, missing := p.data, p.missing
		if skip := h.next - p.seq; skip > 0 {
			if int(skip) >= len(data) {
				rest := skip - uint32(len(data))
				data = nil
				if rest >= missing {
					missing = 0
				} else {
					missing -= rest
				}
			} else {
				data = data[skip:]
			}
		}
		a.deliver(c, d, data, missing, p.fin, seg)
	}
	if len(h.pend) == 0 {
		h.pend = nil
	}
}

// skipHole declares the bytes before the first buffered segment lost.
func (a *Assembler) skipHole(c *conn, d Dir, seg *capture.Segment) {
	h := &c.dirs[d]
	if len(h.pend) == 0 {
		return
	}
	a.gap(c, d, uint64(h.pend[0].seq-h.next), seg)
	a.drain(c, d, seg)
}

func (a *Assembler) close(k key, c *conn, r CloseReason, seg *capture.Segment) {
	for d := range c.dirs {
		for len(c.dirs[d].pend) > 0 {
			a.skipHole(c, Dir(d), seg)
		}
	}
	c.consumer.Close(r, seg)
	delete(a.conns, k)
}

// Expire ends connections idle since before now minus the idle timeout,
// oldest first.
func (a *Assembler) Expire(now time.Time) {
	a.closeWhere(now, Idle, func(c *conn) bool { return now.Sub(c.last) > a.cfg.IdleTimeout })
}

// Flush ends every connection, oldest first, reporting held-back bytes as
// gaps.
func (a *Assembler) Flush(now time.Time) {
	a.closeWhere(now, Flushed, func(*conn) bool { return true })
}

func (a *Assembler) closeWhere(now time.Time, r CloseReason, match func(*conn) bool) {
	var ks []key
	for k, c := range a.conns {
		if match(c) {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		ci, cj := a.conns[ks[i]], a.conns[ks[j]]
		if !ci.info.Start.Equal(cj.info.Start) {
			return ci.info.Start.Before(cj.info.Start)
		}
		return ks[i].lo.Compare(ks[j].lo) < 0 || ks[i].lo == ks[j].lo && ks[i].hi.Compare(ks[j].hi) < 0
	})
	for _, k := range ks {
		a.close(k, a.conns[k], r, &capture.Segment{Time: now})
	}
}
