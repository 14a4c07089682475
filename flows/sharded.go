package flows

import (
	"bytes"
	"hash/maphash"
	"runtime"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Defaults for ShardConfig.
const (
	DefaultBatchSegments = 256
	DefaultBatchBytes    = 256 << 10
	DefaultQueue         = 4
	DefaultMaxDelay      = 10 * time.Millisecond
)

// ShardConfig shapes a Sharded front end. A zero field takes its default.
type ShardConfig struct {
	// Shards is the number of Assemblers, each run by a goroutine of its
	// own (runtime.GOMAXPROCS(0)).
	Shards int
	// BatchSegments is how many segments a batch holds before it is handed
	// to its shard (DefaultBatchSegments).
	BatchSegments int
	// BatchBytes is the size of a batch's arena, where payloads are copied
	// (DefaultBatchBytes); a batch is handed over when its arena is full.
	// A larger payload gets an arena of its own.
	BatchBytes int
	// Queue is how many batches may wait for a shard; when they all do,
	// Add blocks until the shard catches up (DefaultQueue).
	Queue int
	// MaxDelay hands a batch over once its first segment is this much
	// older, in capture time, than the one being added (DefaultMaxDelay).
	MaxDelay time.Duration
}

func (sc ShardConfig) withDefaults() ShardConfig {
	if sc.Shards <= 0 {
		sc.Shards = runtime.GOMAXPROCS(0)
	}
	if sc.BatchSegments <= 0 {
		sc.BatchSegments = DefaultBatchSegments
	}
	if sc.BatchBytes <= 0 {
		sc.BatchBytes = DefaultBatchBytes
	}
	if sc.Queue <= 0 {
		sc.Queue = DefaultQueue
	}
	if sc.MaxDelay <= 0 {
		sc.MaxDelay = DefaultMaxDelay
	}
	return sc
}

// Sharded spreads connections over several Assemblers, each owned by a
// goroutine, so that many connections are reassembled in parallel and the
// caller (the ring-buffer reader) only copies segments into batches: no
// lock is taken per segment. The hash of a connection's endpoints picks its
// shard, so all of a connection's segments go to one Assembler, in the
// order they were added.
//
// Sharded's methods are called from one goroutine. A connection's Consumer
// is called on its shard's goroutine only; Consumers of different shards
// run at the same time (see Consumer). The Factory is called on the shard
// goroutines too.
//
// Memory beyond the Assemblers': per shard, Queue+1 batches of BatchBytes
// of arena and BatchSegments segments (about 180 bytes each): 1.5 MB a
// shard with the defaults.
type Sharded struct {
	sc         ShardConfig
	shards     []*shard
	seed       maphash.Seed
	kernelLost uint64
}

type shard struct {
	asm  *Assembler
	work chan *batch // batches to process
	free chan *batch // batches to fill
	cur  *batch      // being filled; nil until the first op
	sync chan Stats  // answers opSync
	done chan struct{}
	// each is the function of an opEach, set by Each before it queues the
	// op (the batch's hand-over orders the write before the shard's read);
	// eachDone answers it.
	each     func(Consumer)
	eachDone chan struct{}
}

type opKind uint8

const (
	opSegment opKind = iota
	opLost
	opExpire
	opFlush
	opSync
	opEach
)

// op is a segment or a command, with seg.Time its time.
type op struct {
	kind opKind
	seg  segment.Segment
}

type batch struct {
	ops   []op
	arena []byte
}

// NewSharded starts sc.Shards goroutines, each with an Assembler made with
// cfg and f. cfg.MaxBufferedTotal is divided among them. Call Close to stop
// them.
func NewSharded(cfg Config, sc ShardConfig, f Factory) *Sharded {
	sc = sc.withDefaults()
	cfg = cfg.withDefaults()
	cfg.MaxBufferedTotal = max(1, cfg.MaxBufferedTotal/sc.Shards)
	cfg.MaxFlows = max(1, cfg.MaxFlows/sc.Shards)
	s := &Sharded{sc: sc, seed: maphash.MakeSeed(), shards: make([]*shard, sc.Shards)}
	for i := range s.shards {
		sh := &shard{
			asm:      New(cfg, f),
			work:     make(chan *batch, sc.Queue),
			free:     make(chan *batch, sc.Queue+1),
			sync:     make(chan Stats),
			eachDone: make(chan struct{}),
			done:     make(chan struct{}),
		}
		for range sc.Queue + 1 {
			sh.free <- &batch{ops: make([]op, 0, sc.BatchSegments), arena: make([]byte, 0, sc.BatchBytes)}
		}
		s.shards[i] = sh
		go sh.run()
	}
	return s
}

func (sh *shard) run() {
	defer close(sh.done)
	for b := range sh.work {
		for i := range b.ops {
			o := &b.ops[i]
			switch o.kind {
			case opSegment:
				sh.asm.Add(&o.seg)
			case opLost:
				sh.asm.LostSegments(o.seg.Time)
			case opExpire:
				sh.asm.Expire(o.seg.Time)
			case opFlush:
				sh.asm.Flush(o.seg.Time)
			case opSync:
				sh.sync <- sh.asm.Stats()
			case opEach:
				sh.asm.Each(sh.each)
				sh.eachDone <- struct{}{}
			}
		}
		clear(b.ops)
		b.ops, b.arena = b.ops[:0], b.arena[:0]
		sh.free <- b
	}
}

// Add queues seg for its connection's shard; seg.Payload is copied, so the
// caller may reuse it when Add returns. Add blocks while that shard has
// Queue batches waiting. When seg.KernelLost has grown, every shard is told
// that segments were lost (see Assembler.LostSegments) before seg.
func (s *Sharded) Add(seg *segment.Segment) {
	if seg.KernelLost > s.kernelLost {
		s.kernelLost = seg.KernelLost
		for _, sh := range s.shards {
			s.queue(sh, opLost, seg.Time)
		}
	}
	sh := s.shards[shardOf(s.seed, makeKey(seg.Src, seg.Dst), len(s.shards))]
	b := sh.cur
	if b != nil && (len(b.ops) == cap(b.ops) || len(b.arena)+len(seg.Payload) > cap(b.arena) ||
		len(b.ops) > 0 && seg.Time.Sub(b.ops[0].seg.Time) > s.sc.MaxDelay) {
		s.send(sh)
		b = nil
	}
	if b == nil {
		b = <-sh.free
		sh.cur = b
	}
	b.ops = append(b.ops, op{kind: opSegment, seg: *seg})
	o := &b.ops[len(b.ops)-1]
	if n := len(seg.Payload); n <= cap(b.arena)-len(b.arena) {
		at := len(b.arena)
		b.arena = append(b.arena, seg.Payload...)
		o.seg.Payload = b.arena[at : at+n : at+n]
	} else {
		o.seg.Payload = bytes.Clone(seg.Payload)
	}
}

// queue adds a command to sh's current batch.
func (s *Sharded) queue(sh *shard, k opKind, now time.Time) {
	if sh.cur != nil && len(sh.cur.ops) == cap(sh.cur.ops) {
		s.send(sh)
	}
	if sh.cur == nil {
		sh.cur = <-sh.free
	}
	sh.cur.ops = append(sh.cur.ops, op{kind: k, seg: segment.Segment{Time: now}})
}

// send hands sh's current batch to its goroutine.
func (s *Sharded) send(sh *shard) {
	if sh.cur != nil {
		sh.work <- sh.cur
		sh.cur = nil
	}
}

// Send hands every partly filled batch to its shard now. Call it when the
// source goes quiet, so that the last segments do not wait for more.
func (s *Sharded) Send() {
	for _, sh := range s.shards {
		s.send(sh)
	}
}

// LostSegments tells every shard, after the segments added so far, that the
// capture lost segments (see Assembler.LostSegments). It does not wait.
func (s *Sharded) LostSegments(now time.Time) {
	s.broadcast(opLost, now)
}

// Expire has every shard expire its idle connections (see
// Assembler.Expire) after the segments added so far, and hands over all
// batches. It does not wait.
func (s *Sharded) Expire(now time.Time) {
	s.broadcast(opExpire, now)
}

// Flush has every shard end all its connections (see Assembler.Flush) after
// the segments added so far, and waits until they have: when it returns,
// every Consumer call has been made.
func (s *Sharded) Flush(now time.Time) {
	for _, sh := range s.shards {
		s.queue(sh, opFlush, now)
	}
	s.Stats()
}

// Stats waits until the shards have processed everything added so far and
// returns the sum of their counters.
func (s *Sharded) Stats() Stats {
	s.broadcast(opSync, time.Time{})
	var st Stats
	for _, sh := range s.shards {
		st.add(<-sh.sync)
	}
	return st
}

func (s *Sharded) broadcast(k opKind, now time.Time) {
	for _, sh := range s.shards {
		s.queue(sh, k, now)
		s.send(sh)
	}
}

// Close hands over what was added, waits until the shards have processed it
// and stops their goroutines. It does not end the connections: call Flush
// first for that. No method may be called after Close.
func (s *Sharded) Close() {
	for _, sh := range s.shards {
		s.send(sh)
		close(sh.work)
	}
	for _, sh := range s.shards {
		<-sh.done
	}
}
