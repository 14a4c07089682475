package flows

import (
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Flow control: each direction follows what its receiver advertises to
// tell when its sender is stalled, the receiver no longer reading (see
// Consumer.Stall). What it keeps costs nothing while the window is open:
// two flag bits of the half and, in Conn.WScale, the sender's window scale
// (padding otherwise). A direction whose window is closed has an entry in
// Assembler.zero until the window opens or the connection ends.

// zeroKey names a direction of a connection.
type zeroKey struct {
	c *conn
	d segment.Dir
}

// zeroState is what a direction keeps while its receiver's window is
// closed.
type zeroState struct {
	at  int64  // when the window closed (Unix nanoseconds)
	ack uint32 // the receiver's last acknowledgment of the direction
}

// flowControl takes what seg, sent in direction d of c, says of flow
// control: the sender's window scale if it is a SYN, the window it
// advertises for the other direction, and whether it probes d's closed
// window. Called for every segment of an open connection but a RST; it
// allocates nothing but the entry of a direction whose window closes.
func (a *Assembler) flowControl(c *conn, d segment.Dir, seg *segment.Segment) {
	if c.closed() {
		return
	}
	h, other := &c.dirs[d], &c.dirs[1-d]
	syn := seg.Has(segment.SYN)
	if syn {
		c.info.WScale[d] = seg.WScale
	}
	if h.flags&(zeroWin|stalled) == zeroWin && probes(a.zero[zeroKey{c, d}].ack, seg) {
		a.beginStall(c, d, seg)
	}
	if syn || !seg.Has(segment.ACK) || other.flags&started == 0 {
		// A SYN's window says nothing of reading, and a direction not
		// started has nothing outstanding.
		return
	}
	// seg's window is the one its sender, the receiver of the other
	// direction, advertises for that direction. A zero window is zero
	// under any scale.
	k := zeroKey{c, 1 - d}
	switch {
	case seg.Window == 0:
		if a.zero == nil {
			a.zero = make(map[zeroKey]zeroState)
		}
		z := a.zero[k]
		if other.flags&zeroWin == 0 {
			other.flags |= zeroWin
			z.at = seg.Time.UnixNano()
		}
		z.ack = seg.Ack
		a.zero[k] = z
		if other.flags&stalled == 0 && other.unacked(seg.Ack) {
			a.beginStall(c, 1-d, seg)
		}
	case other.flags&zeroWin != 0:
		delete(a.zero, k)
		stall := other.flags&stalled != 0
		other.flags &^= zeroWin | stalled
		if stall {
			c.consumer.Stall(1-d, false, seg)
		}
	}
}

// unacked reports whether the sender of h sent bytes beyond ack, the
// receiver's acknowledgment: bytes outstanding (a FIN is none).
func (h *half) unacked(ack uint32) bool {
	top := h.high
	if h.flags&finSeen != 0 && top == h.finSeq+1 {
		top = h.finSeq
	}
	return seqLess(ack, top)
}

// probes reports whether seg, sent in a direction whose receiver closed its
// window after acknowledging the bytes before ack, probes that window: an
// empty segment one before ack (Linux's zero-window probe), or bytes
// beyond it (other stacks send one byte there).
func probes(ack uint32, seg *segment.Segment) bool {
	if seg.Has(segment.SYN) || seg.Has(segment.FIN) {
		return false
	}
	n := uint32(max(seg.PayloadLen, len(seg.Payload)))
	if n == 0 {
		return seg.Seq == ack-1
	}
	return seqLess(ack, seg.Seq+n)
}

// beginStall reports that the sender of direction d of c, whose window is
// closed, is stalled. seg shows it; the Consumer gets a copy of it whose
// Time is when the window closed.
func (a *Assembler) beginStall(c *conn, d segment.Dir, seg *segment.Segment) {
	c.dirs[d].flags |= stalled
	a.stats.ZeroWindows++
	a.stallSeg = *seg
	a.stallSeg.Time = time.Unix(0, a.zero[zeroKey{c, d}].at).In(seg.Time.Location())
	c.consumer.Stall(d, true, &a.stallSeg)
	a.stallSeg = segment.Segment{} // holds no payload between calls
}

// endStalls forgets the closed windows of c before it closes, ending its
// stalls: the Consumer hears of each with seg, Close's segment.
func (a *Assembler) endStalls(c *conn, seg *segment.Segment) {
	for d := range c.dirs {
		h := &c.dirs[d]
		if h.flags&zeroWin == 0 {
			continue
		}
		delete(a.zero, zeroKey{c, segment.Dir(d)})
		stall := h.flags&stalled != 0
		h.flags &^= zeroWin | stalled
		if stall {
			c.consumer.Stall(segment.Dir(d), false, seg)
		}
	}
}
