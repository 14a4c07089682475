package flows

import (
	"cmp"
	"slices"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Defaults for Config.
const (
	DefaultMaxBufferedPerDir = 4 << 20
	DefaultMaxBufferedTotal  = 64 << 20
	DefaultMaxHolesPerDir    = 256
	DefaultIdleTimeout       = 5 * time.Minute
	DefaultCloseTimeout      = 10 * time.Second
	// DefaultMaxFlows bounds the connections tracked. An open ZMTP
	// connection between messages costs zmtpdump about 1 KiB of heap (360
	// bytes of it here, see BenchmarkIdleFlowMemory; the rest is the
	// decoders', see cmd/zmtpdump's BenchmarkOpenConnMemory): about 100 MB
	// for 100,000, 200 to 250 MB of RSS with the garbage collector's
	// headroom, which leaves the DaemonSet's 512 MiB room for the 64 MiB
	// ring and the 64 MiB of out-of-order bytes.
	DefaultMaxFlows = 100000
)

// Config bounds the Assembler. A zero field takes its default.
type Config struct {
	// MaxBufferedPerDir bounds the out-of-order payload bytes held per
	// direction; when it is exceeded the bytes missing before the first
	// held segment are declared lost (DefaultMaxBufferedPerDir).
	MaxBufferedPerDir int
	// MaxBufferedTotal bounds the out-of-order payload bytes held by all
	// the connections of the Assembler; when it is exceeded the holes of
	// the connections that started buffering first are declared lost
	// (DefaultMaxBufferedTotal). Sharded divides it among its shards.
	MaxBufferedTotal int
	// MaxHolesPerDir bounds how many separate out-of-order stretches of
	// bytes (each after a hole) a direction holds; when it is exceeded the
	// first hole is declared lost (DefaultMaxHolesPerDir). It keeps the
	// cost of placing a segment bounded whatever its size.
	MaxHolesPerDir int
	// IdleTimeout ends connections that saw no packet for this long
	// (DefaultIdleTimeout).
	IdleTimeout time.Duration
	// CloseTimeout is how long a connection that sent both FINs waits for
	// bytes still missing before them, and how long a closed connection is
	// remembered so that its late retransmissions are ignored rather than
	// taken for a new connection (DefaultCloseTimeout).
	CloseTimeout time.Duration
	// ConflictWindow is how many recently delivered bytes each direction
	// keeps to compare retransmissions against, so that a retransmission
	// whose bytes differ from those delivered is reported (see
	// ConflictReporter). 0 keeps none: retransmissions are then compared
	// only with out-of-order bytes still held. The window is allocated when
	// a direction delivers its first byte and costs ConflictWindow bytes
	// per direction until the connection closes.
	ConflictWindow int
	// NoAckLoss stops taking an acknowledgment of bytes the capture has
	// not seen as proof that they were lost (they were received, so they
	// will not be sent again), except for the acknowledgment of a FIN. Set
	// it for captures whose order may put an acknowledgment before the
	// bytes it acknowledges, such as files merged from several capture
	// points; missing bytes then wait for the other triggers.
	NoAckLoss bool
	// MaxFlows bounds the connections tracked, closed ones remembered for
	// CloseTimeout included (DefaultMaxFlows). A new connection beyond it
	// evicts an old one: the least recently active of a small sample, a
	// closed one first (see Evicted). Sharded divides it among its shards.
	MaxFlows int
}

func (cfg Config) withDefaults() Config {
	if cfg.MaxBufferedPerDir <= 0 {
		cfg.MaxBufferedPerDir = DefaultMaxBufferedPerDir
	}
	if cfg.MaxBufferedTotal <= 0 {
		cfg.MaxBufferedTotal = DefaultMaxBufferedTotal
	}
	if cfg.MaxHolesPerDir <= 0 {
		cfg.MaxHolesPerDir = DefaultMaxHolesPerDir
	}
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.ConflictWindow < 0 {
		cfg.ConflictWindow = 0
	}
	return cfg
}

// Stats counts what the Assembler did.
type Stats struct {
	Segments     uint64 // segments added
	Bytes        uint64 // payload bytes delivered in order
	OutOfOrder   uint64 // segments held (in part) behind a hole
	Retransmits  uint64 // segments carrying bytes seen before (keepalive probes aside)
	Conflicts    uint64 // retransmitted stretches whose bytes differ from the first copy
	Gaps         uint64 // gaps reported
	LostBytes    uint64 // bytes reported in gaps
	SkippedBytes uint64 // bytes reported skipped: on the wire, not captured (Segment.Payload shorter than PayloadLen)
	Flows        uint64 // connections seen
	ActiveFlows  int    // connections open now
	Buffered     int    // out-of-order payload bytes held now
	PeakBuffered int    // most out-of-order payload bytes held at once (under Sharded, the sum of the shards' peaks)
	Evicted      uint64 // connections closed to stay within MaxFlows
	Ignored      uint64 // segments of no known connection that open none (pure ACK, FIN, RST) or of one already closed
	IgnoredRST   uint64 // RSTs outside their direction's window (before the bytes delivered, or over 16 MiB beyond those seen): forged or stale
	IgnoredFIN   uint64 // FINs outside their direction's window, as for IgnoredRST; the bytes they carry count as usual
	IgnoredAcks  uint64 // acknowledgments of bytes never seen: believed only up to the bytes seen, not at all over 16 MiB beyond
	ZeroWindows  uint64 // stalls begun: a direction's receiver closed its window on bytes outstanding, or its sender probed it (Consumer.Stall)
}

func (s *Stats) add(o Stats) {
	s.Segments += o.Segments
	s.Bytes += o.Bytes
	s.OutOfOrder += o.OutOfOrder
	s.Retransmits += o.Retransmits
	s.Conflicts += o.Conflicts
	s.Gaps += o.Gaps
	s.LostBytes += o.LostBytes
	s.SkippedBytes += o.SkippedBytes
	s.Flows += o.Flows
	s.ActiveFlows += o.ActiveFlows
	s.Buffered += o.Buffered
	s.PeakBuffered += o.PeakBuffered
	s.Ignored += o.Ignored
	s.Evicted += o.Evicted
	s.IgnoredRST += o.IgnoredRST
	s.IgnoredFIN += o.IgnoredFIN
	s.IgnoredAcks += o.IgnoredAcks
	s.ZeroWindows += o.ZeroWindows
}

// Assembler tracks connections and reassembles their streams. It is not
// safe for concurrent use: one goroutine calls all its methods, and the
// Consumers run on that goroutine. See Sharded to spread connections over
// several goroutines.
type Assembler struct {
	cfg     Config
	factory Factory
	conns   map[key]*conn
	active  int
	stats   Stats
	// kernelLost is the highest Segment.KernelLost seen.
	kernelLost uint64
	// pendHead and pendTail list the connections holding out-of-order
	// bytes, in the order they started holding them.
	pendHead, pendTail *conn
	// scratch is reused by Expire and Flush.
	scratch []*conn
	// lostSeg is the segment LostSegments gives the Consumers.
	lostSeg segment.Segment
	// zero holds the directions whose receiver's window is closed (see
	// stall.go); nil until one is.
	zero map[zeroKey]zeroState
	// stallSeg is the segment a stall's beginning is reported with (see
	// beginStall).
	stallSeg segment.Segment
}

// conn is one connection. About 300 bytes; see doc.go for the whole cost.
type conn struct {
	info     Conn
	consumer Consumer // nil once closed
	dirs     [2]half
	last     int64 // time of the last segment, Unix nanoseconds
	// pprev and pnext link the Assembler's list of connections holding
	// out-of-order bytes (see Assembler.pending).
	pprev, pnext *conn
}

// closed reports whether c is closed, kept for CloseTimeout to ignore its
// tail: it has no Consumer any more.
func (c *conn) closed() bool { return c.consumer == nil }

// pending reports whether c is on the list of connections holding bytes.
func (a *Assembler) pending(c *conn) bool { return c.pprev != nil || a.pendHead == c }

// New returns an Assembler that makes a Consumer per connection with f.
func New(cfg Config, f Factory) *Assembler {
	return &Assembler{cfg: cfg.withDefaults(), factory: f, conns: make(map[key]*conn)}
}

// Stats returns the counters.
func (a *Assembler) Stats() Stats {
	s := a.stats
	s.ActiveFlows = a.active
	return s
}

// Add processes one segment; the Consumer calls it causes are made before it
// returns. seg is not modified and seg.Payload is not retained.
//
// When seg.KernelLost is higher than on the segments before it, the capture
// lost segments since: Add first declares every hole lost, as LostSegments
// does.
func (a *Assembler) Add(seg *segment.Segment) {
	a.stats.Segments++
	if seg.KernelLost > a.kernelLost {
		a.kernelLost = seg.KernelLost
		a.LostSegments(seg.Time)
	}
	k := makeKey(seg.Src, seg.Dst)
	c := a.conns[k]
	syn := seg.Has(segment.SYN)
	if c != nil && c.closed() {
		if !syn {
			// The tail of a closed connection: a retransmission, the
			// last ACK, a RST after FINs.
			a.stats.Ignored++
			return
		}
		delete(a.conns, k)
		c = nil
	}
	if c != nil && syn && c.reusedBy(seg) {
		a.close(c, segment.Reused, seg)
		delete(a.conns, k)
		c = nil
	}
	if c == nil {
		if !syn && (seg.Has(segment.RST) || seg.PayloadLen == 0 && len(seg.Payload) == 0) {
			// A pure ACK, FIN or a RST of a connection never seen open:
			// nothing to decode.
			a.stats.Ignored++
			return
		}
		c = a.open(k, seg)
	}
	if t := seg.Time.UnixNano(); t > c.last {
		c.last = t
	}
	if seg.IPC != nil {
		if r, ok := c.consumer.(IPCReporter); ok {
			r.IPC(seg.IPC)
		}
	}
	d := segment.ClientToServer
	if seg.Src != c.info.Client {
		d = segment.ServerToClient
	}
	if seg.Has(segment.RST) {
		if !c.resetBy(d, seg) {
			a.stats.IgnoredRST++
			return
		}
		// Whatever a RST carries is a diagnostic, not stream data; the
		// bytes still missing can no longer arrive.
		a.close(c, segment.Reset, seg)
		return
	}
	h, other := &c.dirs[d], &c.dirs[1-d]
	mark := uint32(seg.KernelLost)
	seq := seg.Seq
	if syn {
		if h.flags&started == 0 {
			h.start(seq+1, mark)
		}
		h.isn, h.flags = seq, h.flags|isnKnown
		seq++ // data on a SYN (TCP Fast Open) follows it
		if seg.Has(segment.ACK) && other.flags&started == 0 {
			// The SYN-ACK acknowledges the other side's ISN: its
			// stream starts there even if its SYN went unseen.
			other.start(seg.Ack, mark)
			other.isn, other.flags = seg.Ack-1, other.flags|isnKnown
		}
	}
	if h.flags&started == 0 {
		h.start(seq, mark)
		c.info.MidStream = true
	}
	o := a.sink(c, d, seg)
	h.accept(&o, seq)
	a.repend(c)
	if h.holding() {
		a.enforceTotal(seg)
	}
	if seg.Has(segment.ACK) {
		o = a.sink(c, 1-d, seg)
		other.acked(&o, seg.Ack)
		a.repend(c)
	}
	a.flowControl(c, d, seg)
	a.settle(c, seg)
}

// sink returns what direction d of c needs to process seg.
func (a *Assembler) sink(c *conn, d segment.Dir, seg *segment.Segment) sink {
	return sink{consumer: c.consumer, info: &c.info, stats: &a.stats, cfg: &a.cfg, seg: seg, d: d}
}

// repend keeps c on the list of connections holding bytes while it holds
// some, and only then.
func (a *Assembler) repend(c *conn) {
	if c.dirs[0].holding() || c.dirs[1].holding() {
		a.linkPending(c)
	} else {
		a.unlinkPending(c)
	}
}

// reusedBy reports whether the SYN seg opens a new connection on the ports
// of c: its ISN differs from the one c saw in that direction or, in a
// direction picked up mid-stream, it does not come shortly before the
// bytes seen (a SYN overtaken by data is not a new connection).
func (c *conn) reusedBy(seg *segment.Segment) bool {
	h := &c.dirs[segment.ClientToServer]
	if seg.Src != c.info.Client {
		h = &c.dirs[segment.ServerToClient]
	}
	if h.flags&isnKnown != 0 {
		return h.isn != seg.Seq
	}
	return h.flags&started != 0 && !(seqLess(seg.Seq, h.next) && h.next-seg.Seq <= maxSynLead)
}

// resetBy reports whether the RST seg, sent in direction d, ends c: its
// sequence number is in the window of what c saw in d (see half.inWindow),
// or d has seen nothing (no byte, no SYN) to judge it by, or it answers
// the other side's SYN, all that side sent (a RST with ACK, acknowledging
// the SYN, may carry any sequence number).
func (c *conn) resetBy(d segment.Dir, seg *segment.Segment) bool {
	h, o := &c.dirs[d], &c.dirs[1-d]
	if h.flags&started == 0 || h.inWindow(seg.Seq) {
		return true
	}
	return seg.Has(segment.ACK) && o.flags&isnKnown != 0 && seg.Ack == o.isn+1 && o.high == o.isn+1
}

// maxSynLead is how far before the bytes seen a SYN may come and still be
// taken for the SYN of a connection picked up mid-stream: the largest TCP
// window (RFC 7323 section 2.3).
const maxSynLead = 1 << 30

func (a *Assembler) open(k key, seg *segment.Segment) *conn {
	if len(a.conns) >= a.cfg.MaxFlows {
		a.evict(seg)
	}
	c := &conn{info: Conn{Client: seg.Src, Server: seg.Dst, Start: seg.Time, Ifindex: int32(seg.Ifindex)}, last: seg.Time.UnixNano()}
	c.info.WScale = [2]int8{-1, -1}
	c.info.ServerKnown = seg.Has(segment.SYN)
	if seg.Flags&(segment.SYN|segment.ACK) == segment.SYN|segment.ACK {
		// A SYN-ACK comes from the server.
		c.info.Client, c.info.Server = seg.Dst, seg.Src
	}
	c.consumer = a.factory(&c.info)
	a.conns[k] = c
	a.active++
	a.stats.Flows++
	return c
}

// evictSample is how many connections evict looks at: Go starts each map
// iteration at a random place, so this samples the table, and the least
// recently active of the sample approximates the least recently active of
// all at a cost independent of the table's size.
const evictSample = 16

// evict makes room for one connection: it forgets a remembered closed
// connection if the sample holds one, else closes the least recently
// active open one with reason Evicted.
func (a *Assembler) evict(seg *segment.Segment) {
	var victim *conn
	var vk key
	n := 0
	for k, c := range a.conns {
		if c.closed() {
			delete(a.conns, k)
			return
		}
		if victim == nil || c.last < victim.last {
			victim, vk = c, k
		}
		if n++; n == evictSample {
			break
		}
	}
	if victim != nil {
		a.stats.Evicted++
		a.close(victim, segment.Evicted, seg)
		delete(a.conns, vk)
	}
}

// settle closes c once both directions have delivered their FIN.
func (a *Assembler) settle(c *conn, seg *segment.Segment) {
	if !c.closed() && c.dirs[0].flags&c.dirs[1].flags&finDone != 0 {
		a.close(c, segment.Finished, seg)
	}
}

// close ends c: the bytes still missing are reported lost, then the
// Consumer is closed. c stays in the map as a tombstone, unless the caller
// deletes it.
func (a *Assembler) close(c *conn, r segment.CloseReason, seg *segment.Segment) {
	a.endStalls(c, seg)
	for d := range c.dirs {
		o := a.sink(c, segment.Dir(d), seg)
		c.dirs[d].finish(&o)
	}
	a.unlinkPending(c)
	c.consumer.Close(r, seg)
	c.consumer = nil
	c.dirs[0].recent, c.dirs[1].recent = nil, nil
	a.active--
}

// LostSegments tells the Assembler that the capture lost segments just now
// (the loader's lost-record counter moved): the bytes missing in any
// direction holding out-of-order bytes were in them and will never arrive.
// Each such direction reports them as gaps, up to its first hole that
// follows held bytes, and goes on. now is the time given to the Consumers,
// in a Segment that carries nothing else.
//
// Add does the same by itself when Segment.KernelLost grows, and Sharded
// when its shards are told of lost records; call LostSegments when the
// counter is read apart from the segments.
func (a *Assembler) LostSegments(now time.Time) {
	a.lostSeg = segment.Segment{Time: now}
	seg := &a.lostSeg
	for c := a.pendHead; c != nil; {
		next := c.pnext
		for d := range c.dirs {
			o := a.sink(c, segment.Dir(d), seg)
			c.dirs[d].skipHoles(&o)
		}
		a.repend(c)
		a.settle(c, seg)
		c = next
	}
}

// Expire ends connections idle since before now minus the idle timeout (or
// the close timeout for those that sent both FINs), oldest first, and
// forgets closed connections older than the close timeout.
func (a *Assembler) Expire(now time.Time) {
	idle := now.Add(-a.cfg.IdleTimeout).UnixNano()
	closing := now.Add(-a.cfg.CloseTimeout).UnixNano()
	list := a.scratch[:0]
	for k, c := range a.conns {
		switch {
		case c.closed():
			if c.last < closing {
				delete(a.conns, k)
			}
		case c.dirs[0].flags&c.dirs[1].flags&finSeen != 0:
			if c.last < closing {
				list = append(list, c)
			}
		case c.last < idle:
			list = append(list, c)
		}
	}
	a.closeAll(list, now, segment.Idle)
}

// Flush ends every connection, oldest first, reporting the bytes missing
// as gaps, and forgets them all.
func (a *Assembler) Flush(now time.Time) {
	list := a.scratch[:0]
	for _, c := range a.conns {
		if !c.closed() {
			list = append(list, c)
		}
	}
	a.closeAll(list, now, segment.Flushed)
	clear(a.conns)
}

// closeAll closes the connections of list in the order they started.
func (a *Assembler) closeAll(list []*conn, now time.Time, r segment.CloseReason) {
	slices.SortFunc(list, func(x, y *conn) int {
		if c := x.info.Start.Compare(y.info.Start); c != 0 {
			return c
		}
		kx, ky := makeKey(x.info.Client, x.info.Server), makeKey(y.info.Client, y.info.Server)
		return cmp.Or(compareBytes(kx.a, ky.a), cmp.Compare(kx.pa, ky.pa), compareBytes(kx.b, ky.b), cmp.Compare(kx.pb, ky.pb))
	})
	var seg *segment.Segment
	for _, c := range list {
		if seg == nil {
			seg = &segment.Segment{Time: now}
		}
		reason := r
		if c.dirs[0].flags&c.dirs[1].flags&finSeen != 0 {
			reason = segment.Finished
		}
		k := makeKey(c.info.Client, c.info.Server)
		a.close(c, reason, seg)
		delete(a.conns, k)
	}
	clear(list)
	a.scratch = list[:0]
}

func compareBytes(x, y [16]byte) int {
	for i := range x {
		if x[i] != y[i] {
			return cmp.Compare(x[i], y[i])
		}
	}
	return 0
}

// linkPending puts c at the tail of the list of connections holding bytes.
func (a *Assembler) linkPending(c *conn) {
	if a.pending(c) {
		return
	}
	c.pprev, c.pnext = a.pendTail, nil
	if a.pendTail != nil {
		a.pendTail.pnext = c
	} else {
		a.pendHead = c
	}
	a.pendTail = c
}

func (a *Assembler) unlinkPending(c *conn) {
	if !a.pending(c) {
		return
	}
	if c.pprev != nil {
		c.pprev.pnext = c.pnext
	} else {
		a.pendHead = c.pnext
	}
	if c.pnext != nil {
		c.pnext.pprev = c.pprev
	} else {
		a.pendTail = c.pprev
	}
	c.pprev, c.pnext = nil, nil
}

// enforceTotal declares holes lost, oldest buffering connection first, until
// the bytes held fit Config.MaxBufferedTotal.
func (a *Assembler) enforceTotal(seg *segment.Segment) {
	for a.stats.Buffered > a.cfg.MaxBufferedTotal && a.pendHead != nil {
		c := a.pendHead
		for d := range c.dirs {
			o := a.sink(c, segment.Dir(d), seg)
			c.dirs[d].skipHole(&o)
		}
		a.repend(c)
		if a.pending(c) {
			// More holes: they are now the newest.
			a.unlinkPending(c)
			a.linkPending(c)
		}
		a.settle(c, seg)
	}
}
