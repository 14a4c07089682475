package session

import (
	"errors"
	"time"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// joiner writes a frame boundary userspace proved into kernel-side
// framing (loader.Capture.Join): the kernel then walks, marks and trims the
// direction as if it had followed it from its SYN.
type joiner interface {
	Join(p loader.JoinPoint) error
}

// Joins are tried at most this often per direction, and this many times:
// one fails when a packet passes the point before the kernel hears of it.
const (
	joinEvery    = time.Second
	maxJoinTries = 5
)

// unmarkedMax is how many deliveries with headers but no mark in a row
// show that the kernel no longer follows a direction.
const unmarkedMax = 4

// maxHeldGaps bounds the gaps held per direction until the decoder
// resumes; more are folded into the last.
const maxHeldGaps = 8

// dirSync is what a session knows of one direction's place against the
// kernel's framing walk.
type dirSync struct {
	started bool // the decoder was fed (or told of a gap) already
	// marked: the kernel marks this direction's frame boundaries. Set by a
	// mark, cleared after unmarkedMax deliveries in a row in which the
	// decoder found a frame header the kernel did not mark (it stopped
	// following the direction); one is not enough, as bytes held out of
	// order keep one mark for several segments.
	marked     bool
	justMarked bool // a mark came right before this delivery
	baseOK     bool // base is valid
	// counted: the kernel's counts reached the decoder (count mode, see
	// count.go); elided: the kernel was told to leave the direction's
	// message frames out (countEvent).
	counted, elided bool
	unmarked        int8
	// Joins tried for a direction the kernel does not follow.
	joinTries int8
	// base is the kernel's message count less the decoder's
	// (zmtp.Decoder.MessageIndex), valid while baseOK: constant while the
	// two walk in step.
	base uint64
	// rare is what only a direction that lost its place or is joined
	// needs: nil until then, so that an open connection costs less.
	rare *dirRare
}

// dirRare is the part of a dirSync that few directions need.
type dirRare struct {
	held   []heldGap
	joinAt time.Time // when the last join was tried
	// kbase is the decoder's counts at the last join point: the kernel
	// counts from there (see count.go).
	kbase zmtp.Counts
	// ipc is, in the first direction's, an ipc connection's ends (see
	// session.ipc): fed, the value its last segment carried, or a copy
	// of it completed with the owners found since (completeIPC).
	ipc, fed *segment.IPC
}

// more returns ds.rare, made if need be.
func (ds *dirSync) more() *dirRare {
	if ds.rare == nil {
		ds.rare = new(dirRare)
	}
	return ds.rare
}

// heldGap is a gap waiting for the decoder to resume.
type heldGap struct {
	gap zmtp.Gap
	at  time.Time
}

// hold keeps g until the decoder resumes.
func (ds *dirSync) hold(g zmtp.Gap, at time.Time) {
	r := ds.more()
	if n := len(r.held); n == maxHeldGaps {
		r.held[n-1].gap.Bytes += g.Bytes
		return
	}
	r.held = append(r.held, heldGap{g, at})
}

// release prints the gaps held, with the messages lost if known. Gaps held
// together had no frame header the kernel marked between them: the
// messages of the run are counted on its last gap, the others say 0.
func (ds *dirSync) release(s *session, d segment.Dir, lost uint64, known bool) {
	if ds.rare == nil {
		return
	}
	held := ds.rare.held
	for i := range held {
		g := &held[i].gap
		g.MessagesKnown = known
		if i == len(held)-1 {
			g.Messages = lost
		}
		s.printGap(d, held[i].at, g)
	}
	clear(held)
	ds.rare.held = held[:0]
}

// join tells the kernel where the next frame header of direction d is,
// once the decoder found it itself (a connection joined mid-stream, or one
// the kernel stopped following) and the kernel does not mark d. n bytes
// were just fed from seg, starting at sequence number conn.Next[d].
func (s *session) join(d segment.Dir, n int, seg *segment.Segment) {
	ds := &s.dirs[d]
	dec := s.zc.Decoder(d)
	if ds.marked || ds.joinTries >= maxJoinTries || dec.Resyncs() == 0 || dec.Searching() || dec.Done() ||
		ds.rare != nil && !ds.rare.joinAt.IsZero() && seg.Time.Sub(ds.rare.joinAt) < joinEvery {
		return
	}
	off, inMsg, ok := dec.NextHeader()
	if !ok || off-dec.Offset() > 1<<30 {
		return // not at a known place, or too far ahead for sequence numbers
	}
	ds.joinTries++
	ds.more().joinAt = seg.Time
	ds.baseOK = false // the kernel counts from 0 again at the join point
	seq := s.conn.Next[d] + uint32(n) + uint32(off-dec.Offset())
	err := s.joiner.Join(loader.JoinPoint{
		Ifindex: seg.Ifindex, Src: s.conn.Src(d), Dst: s.conn.Dst(d),
		Seq: seq, InMessage: inMsg, V2: dec.V2Framing(),
	})
	if errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, loader.ErrJoinClosed) {
		ds.joinTries = maxJoinTries // no use trying again
	} else if err == nil {
		s.noteJoin(d)
	}
}
