package session

import (
	"bytes"
	"net/netip"
	"sync"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// ownerGate applies --pid and --comm to the packets of -w and -v, before
// they are written or printed: the packets of a connection neither of
// whose ends the selected process owns never reach the file or the screen.
//
// The kernel tracker knows a connection's owners only once it is
// established (the connecting end at SYN-ACK, the accepting end at the
// handshake's last ACK), so its first packets come before them. They are
// held, per connection, until an end is known to match (then they are
// written, in order, before the packet that proved it), until both ends
// are known and neither matches, or for at most resolveWindow, a bounded
// number of packets and bytes; what is still unproven then is left out,
// as the session leaves out its events. One decision per connection is
// shared with its session (settle), so that -v's packet lines and the
// events agree.
//
// Its methods are safe for concurrent use: sessions settle from shard
// goroutines. Only the reader's goroutine passes packets.
type ownerGate struct {
	mu    sync.Mutex
	conns map[connKey]*gateConn
	// held and heldBytes count the packets held, in all connections.
	held, heldBytes int
	// swept is the packet time of the last sweep.
	swept time.Time
}

// Bounds of what the gate holds while it waits for owners.
const (
	gateMaxHeldPerConn = 64
	gateMaxHeld        = 16384
	gateMaxHeldBytes   = 8 << 20
	// gateMaxConns is how many connections the gate remembers; beyond,
	// a new connection's packets are decided one at a time, unheld.
	gateMaxConns = 1 << 18
	// gateProcTries is how often /proc is read for --pid per connection:
	// once, as the session does (a scan of PID's sockets and fds).
	gateProcTries = 1
	// gateForget is how long a quiet connection is remembered.
	gateForget = time.Minute
)

// connKey names a connection whichever way its packet goes.
type connKey struct{ lo, hi netip.AddrPort }

func keyOf(a, b netip.AddrPort) connKey {
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return connKey{a, b}
}

// gateConn is what the gate knows of one connection.
type gateConn struct {
	first, last time.Time
	decided     bool
	keep        bool
	// sure is set when the decision rests on the owners (an end matches,
	// both are known) or is the session's; a decision made because the
	// wait ran out is not, and the session's own replaces it (settle).
	sure      bool
	procTries int
	held      []segment.Segment
}

// pass hands seg to write, now or later, if --pid and --comm keep its
// connection; without them, at once. Held packets of other connections
// whose fate is settled meanwhile are handed over too, about once a second
// of packet time. It is called by the reader's goroutine only, and write
// is too.
func (o *owners) pass(seg *segment.Segment, write func(*segment.Segment)) {
	if !o.filtering() {
		write(seg)
		return
	}
	g := &o.gate
	g.mu.Lock()
	if g.conns == nil {
		g.conns = make(map[connKey]*gateConn)
		g.swept = seg.Time
	}
	var out []segment.Segment
	key := keyOf(seg.Src, seg.Dst)
	c := g.conns[key]
	if c == nil && len(g.conns) < gateMaxConns {
		c = &gateConn{first: seg.Time}
		g.conns[key] = c
	}
	now := false // write seg now
	switch {
	case c == nil:
		keep, _ := o.lookup(seg.Src, seg.Dst, nil)
		now = keep
	case c.decided:
		if len(c.held) > 0 { // its session decided
			out = g.decide(c, c.keep, c.sure, out)
		}
		now = c.keep
		if !c.sure {
			// The wait ran out: an end may be known by now.
			if keep, certain := o.lookup(seg.Src, seg.Dst, nil); certain {
				c.keep, c.sure = keep, true
				now = keep
			}
		}
	default:
		keep, certain := o.lookup(seg.Src, seg.Dst, c)
		switch {
		case certain:
			out = g.decide(c, keep, true, out)
			now = keep
		case len(c.held) >= gateMaxHeldPerConn || seg.Time.Sub(c.first) > resolveWindow:
			out = g.decide(c, keep, false, out)
			now = keep
		case g.held >= gateMaxHeld || g.heldBytes+len(seg.Payload) > gateMaxHeldBytes:
			// The gate is full of other connections' packets: this one is
			// decided alone, the connection left to wait.
			now = keep
		default:
			c.held = append(c.held, *seg)
			c.held[len(c.held)-1].Payload = bytes.Clone(seg.Payload)
			g.held++
			g.heldBytes += len(seg.Payload)
		}
	}
	if c != nil {
		c.last = seg.Time
	}
	if seg.Time.Sub(g.swept) >= expireEvery {
		out = o.sweep(seg.Time, out)
	}
	g.mu.Unlock()
	for i := range out {
		write(&out[i])
	}
	if now {
		write(seg)
	}
}

// decide settles c and appends what it held to out if it is kept. The
// caller holds g.mu.
func (g *ownerGate) decide(c *gateConn, keep, sure bool, out []segment.Segment) []segment.Segment {
	c.decided, c.keep, c.sure = true, keep, sure
	if keep {
		out = append(out, c.held...)
	}
	for i := range c.held {
		g.heldBytes -= len(c.held[i].Payload)
	}
	g.held -= len(c.held)
	c.held = nil
	return out
}

// sweep decides the connections whose wait is over (or whose session
// decided), and forgets those quiet for gateForget. The caller holds
// o.gate.mu.
func (o *owners) sweep(now time.Time, out []segment.Segment) []segment.Segment {
	g := &o.gate
	g.swept = now
	for k, c := range g.conns {
		switch {
		case now.Sub(c.last) > gateForget:
			out = g.decide(c, false, false, out)
			delete(g.conns, k)
		case !c.decided && len(c.held) > 0 && now.Sub(c.first) > resolveWindow:
			keep, certain := o.lookup(k.lo, k.hi, c)
			out = g.decide(c, keep, certain, out)
		case c.decided && len(c.held) > 0:
			out = g.decide(c, c.keep, c.sure, out)
		}
	}
	return out
}

// finish hands over what is held at the end of the capture: the packets of
// connections an end of which is by now known to match.
func (o *owners) finish(write func(*segment.Segment)) {
	if !o.filtering() {
		return
	}
	g := &o.gate
	g.mu.Lock()
	var out []segment.Segment
	for k, c := range g.conns {
		if len(c.held) == 0 {
			continue
		}
		keep, sure := c.keep, c.sure
		if !c.decided {
			keep, sure = o.lookup(k.lo, k.hi, c)
		}
		out = g.decide(c, keep, sure, out)
	}
	g.mu.Unlock()
	for i := range out {
		write(&out[i])
	}
}

// lookup reports whether an owner of the connection between a and b
// matches --pid and --comm, and whether that is certain: an end matches,
// or both are known. For --pid (and --comm, for ipc ends), /proc is asked
// for the ends the tracker does not know, a few times per connection (c;
// nil: never): see fromProc.
func (o *owners) lookup(a, b netip.AddrPort, c *gateConn) (keep, certain bool) {
	pa, pb := o.tr.Ends(a, b)
	if o.filtering() && (pa == nil || pb == nil) && c != nil && c.procTries < gateProcTries {
		c.procTries++
		if pa == nil {
			pa = o.fromProc(a, b)
		}
		if pb == nil {
			pb = o.fromProc(b, a)
		}
	}
	if o.match(pa) || o.match(pb) {
		return true, true
	}
	return false, pa != nil && pb != nil
}

// settle returns the decision for the connection between client and
// server: the gate's if it made one, else keep, which the gate then takes
// for the packets it holds and those to come. Without the gate in use (no
// -w, no -v) it returns keep.
func (o *owners) settle(client, server netip.AddrPort, keep bool) bool {
	g := &o.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns == nil {
		return keep
	}
	c := g.conns[keyOf(client, server)]
	switch {
	case c == nil:
		return keep
	case c.decided && c.sure:
		return c.keep
	}
	// Undecided, or decided only because the wait ran out: the session's
	// decision stands (its held packets go at the next sweep).
	c.decided, c.keep, c.sure = true, keep, true
	return keep
}
