package unixcap

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Sequence numbers: a connection seen from its connect/accept has ISN 0 in
// both directions (its synthesized SYN and SYN-ACK), so the byte at stream
// offset o has Seq uint32(1 + o); a connection joined mid-stream uses the
// same numbering from the offset its first record names.

// pendingWait is how long the records of a connection whose server end has
// not been accepted yet (no socket inode to name it by) are held; after it,
// the end is named by a stand-in (see standIn).
const pendingWait = 250 * time.Millisecond

// synthLen is the header length of a synthesized packet: IPv6 and TCP.
const synthLen = 40 + 20

// connKey names a connection by its two socks (kernel addresses).
type connKey struct{ client, server uint64 }

// conn is an ipc connection being followed.
type conn struct {
	ipc       *segment.IPC
	ends      [2]End // by segment.Dir of their sends: client, server
	netns     uint32
	handshake bool // seen from its connect or accept: synthesize one
	ready     bool // addresses fixed, segments flow
	addr      [2]netip.AddrPort
	started   [2]bool
	next      [2]uint64 // next stream offset per direction
	fin       [2]bool
	held      []held
	born      time.Time
}

// held is a record waiting for its connection to be ready.
type held struct {
	r    record
	data []byte
}

// tracker turns records into segments: one per data record, the
// handshake when a connection is seen opening, a FIN at its end.
type tracker struct {
	conns map[connKey]*conn
	paths map[pathKey]string // every path resolved so far
	queue []segment.Segment
	gaps  uint64 // stream offset jumps seen: added to KernelLost
	lost  uint64 // the highest kernel lost count seen
	boot  time.Time
	// standIns counts the stand-in inodes handed out.
	standIns uint64
	// known are the socket inodes that existed when the capture began,
	// where the mechanism does not report connects and accepts
	// (MechanismBTF): a connection with an end among them is joined
	// mid-stream, one without is seen from its start (see fresh). nil
	// where connect and accept records tell.
	known map[uint64]bool
}

func newTracker(boot time.Time) *tracker {
	return &tracker{conns: make(map[connKey]*conn), paths: make(map[pathKey]string), boot: boot}
}

func (t *tracker) time(ns uint64) time.Time { return t.boot.Add(time.Duration(ns)) }

// add takes one record. data may be kept in the queue (segments alias it)
// until the queue is drained.
func (t *tracker) add(r record, data []byte, now time.Time) {
	if r.Lost > t.lost {
		t.lost = r.Lost
	}
	d := segment.ClientToServer
	k := connKey{client: r.Sk, server: r.Peer}
	if r.Server {
		d, k = segment.ServerToClient, connKey{client: r.Peer, server: r.Sk}
	}
	c := t.conns[k]
	if c != nil && c.replacedBy(d, r) {
		// The socks were freed and reused by a new connection before
		// the once-a-second check saw the old one go: end the old one.
		if !c.ready {
			t.start(c)
		}
		t.finish(c, segment.ClientToServer, now)
		t.finish(c, segment.ServerToClient, now)
		delete(t.conns, k)
		c = nil
	}
	if c == nil {
		if r.Type == recClose {
			return // a connection that never sent: nothing to end
		}
		c = &conn{
			ipc:       &segment.IPC{Path: t.paths[r.Path]},
			netns:     r.Netns,
			handshake: r.Type == recConnect || r.Type == recAccept || t.fresh(r),
			born:      now,
		}
		t.conns[k] = c
	}
	c.learn(d, r)
	if !c.ready {
		if c.ends[0].Inode == 0 || c.ends[1].Inode == 0 {
			if r.Type == recData || r.Type == recClose || r.Type == recGap {
				c.held = append(c.held, held{r: r, data: append([]byte(nil), data...)})
			}
			return
		}
		t.start(c)
	}
	t.emit(c, d, r, data)
	if c.fin[0] && c.fin[1] {
		delete(t.conns, k)
	}
}

// fresh reports whether r, the first record of its connection, starts a
// connection made after the capture began, without connect and accept
// records (t.known is set): its socket, and its peer's when it has one,
// did not exist then, and it is the first byte of its stream.
func (t *tracker) fresh(r record) bool {
	if t.known == nil || r.Offset != 0 || r.Type != recData && r.Type != recGap || t.known[r.Ino] {
		return false
	}
	return r.PeerIno == 0 || !t.known[r.PeerIno]
}

// replacedBy reports whether r, of direction d, belongs to another
// connection than c on the same two socks: an end's socket inode differs
// from the one c knows. Stand-ins (top bit set) match any inode.
func (c *conn) replacedBy(d segment.Dir, r record) bool {
	differs := func(known, seen uint64) bool {
		return known != 0 && known>>63 == 0 && seen != 0 && seen != known
	}
	return differs(c.ends[d].Inode, r.Ino) || differs(c.ends[d.Reverse()].Inode, r.PeerIno)
}

// learn notes what r tells of the ends.
func (c *conn) learn(d segment.Dir, r record) {
	e := &c.ends[d]
	// The sender names the end; a close (the last descriptor's, perhaps
	// another process's than the one that sent) does not, once it is named.
	if r.Type != recClose || e.PID == 0 {
		e.PID, e.Comm, e.CgroupID = int(r.Tgid), r.Comm, r.CgroupID
	}
	if e.Inode == 0 {
		e.Inode = r.Ino
	}
	if o := &c.ends[d.Reverse()]; o.Inode == 0 && r.PeerIno != 0 && !c.ready {
		o.Inode = r.PeerIno
	}
	ip := c.ipc
	if d == segment.ClientToServer {
		ip.ClientPID, ip.ClientComm = e.PID, e.Comm
	} else {
		ip.ServerPID, ip.ServerComm = e.PID, e.Comm
	}
	ip.ClientInode, ip.ServerInode = c.ends[0].Inode, c.ends[1].Inode
}

// standIn names an end not yet accepted after pendingWait: a number above
// any inode (the top bit set), unique in the capture.
func (t *tracker) standIn() uint64 {
	t.standIns++
	return 1<<63 | t.standIns
}

// start fixes c's addresses, queues its handshake when it was seen opening,
// and then its held records.
func (t *tracker) start(c *conn) {
	for i := range c.ends {
		if c.ends[i].Inode == 0 {
			c.ends[i].Inode = t.standIn()
		}
	}
	c.ipc.ClientInode, c.ipc.ServerInode = c.ends[0].Inode, c.ends[1].Inode
	c.addr[0] = segment.IPCAddr(c.ends[0].Inode, false)
	c.addr[1] = segment.IPCAddr(c.ends[1].Inode, true)
	c.ready = true
	if c.handshake {
		ts := c.born
		if len(c.held) > 0 {
			ts = t.time(c.held[0].r.TsNs)
		}
		t.push(c, segment.ClientToServer, ts, 0, 0, segment.SYN, nil)
		t.push(c, segment.ServerToClient, ts, 0, 1, segment.SYN|segment.ACK, nil)
		t.push(c, segment.ClientToServer, ts, 1, 1, segment.ACK, nil)
		c.started = [2]bool{true, true}
	}
	held := c.held
	c.held = nil
	for _, h := range held {
		d := segment.ClientToServer
		if h.r.Server {
			d = segment.ServerToClient
		}
		t.emit(c, d, h.r, h.data)
	}
}

// emit queues the segment of a data or close record of direction d.
func (t *tracker) emit(c *conn, d segment.Dir, r record, data []byte) {
	switch r.Type {
	case recData, recGap:
	case recClose:
		if c.fin[d] {
			return
		}
	default:
		return
	}
	if !c.started[d] {
		c.started[d] = true
		c.next[d] = r.Offset
	}
	if r.Offset > c.next[d] {
		t.gaps++ // bytes the kernel could not ship: lost
	}
	if r.Type == recGap {
		// No segment: the next one (or the FIN) starts after the gap.
		c.next[d] = max(c.next[d], r.Offset)
		return
	}
	ts := t.time(r.TsNs)
	if r.Type == recClose {
		end := max(r.Offset, c.next[d])
		c.fin[d] = true
		t.push(c, d, ts, uint32(1+end), c.ack(d), segment.FIN|segment.ACK, nil)
		return
	}
	t.push(c, d, ts, uint32(1+r.Offset), c.ack(d), segment.PSH|segment.ACK, data)
	if e := r.Offset + uint64(len(data)); e > c.next[d] {
		c.next[d] = e
	}
}

// finish ends direction d of c (its socket is gone): a FIN.
func (t *tracker) finish(c *conn, d segment.Dir, now time.Time) {
	if c.fin[d] || !c.ready {
		return
	}
	c.fin[d] = true
	t.push(c, d, now, uint32(1+c.next[d]), c.ack(d), segment.FIN|segment.ACK, nil)
}

// ack is what direction d acknowledges: the other's bytes, and its FIN.
func (c *conn) ack(d segment.Dir) uint32 {
	r := d.Reverse()
	a := uint32(1 + c.next[r])
	if c.fin[r] {
		a++
	}
	return a
}

func (t *tracker) push(c *conn, d segment.Dir, ts time.Time, seq, ack uint32, flags uint8, data []byte) {
	t.queue = append(t.queue, segment.Segment{
		Time:       ts,
		IfDir:      segment.Egress,
		Src:        c.addr[d],
		Dst:        c.addr[d.Reverse()],
		Seq:        seq,
		Ack:        ack,
		Flags:      flags,
		Window:     0xffff,
		WScale:     -1,
		PacketLen:  synthLen + len(data),
		PayloadLen: len(data),
		KernelLost: t.lost + t.gaps,
		Payload:    data,
		IPC:        c.ipc,
	})
}

// expire starts the connections held longer than pendingWait.
func (t *tracker) expire(now time.Time) {
	for _, c := range t.conns {
		if !c.ready && now.Sub(c.born) >= pendingWait {
			t.start(c)
		}
	}
}

// reap ends the directions whose socket gone reports gone, and forgets
// connections ended both ways.
func (t *tracker) reap(now time.Time, gone func(c *conn, inode uint64) bool) {
	for k, c := range t.conns {
		if !c.ready {
			continue
		}
		for d := range c.ends {
			if !c.fin[d] && gone(c, c.ends[d].Inode) {
				t.finish(c, segment.Dir(d), now)
			}
		}
		if c.fin[0] && c.fin[1] {
			delete(t.conns, k)
		}
	}
}
