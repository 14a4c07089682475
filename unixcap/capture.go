package unixcap

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/segment"
)

// DefaultRingSize is the ring buffer size when Config.RingSize is 0.
const DefaultRingSize = 16 << 20

// housekeeping is how often the paths are resolved again and ended
// connections looked for.
const housekeeping = time.Second

// minPoll and maxPoll bound how often a reader looks into the ring for
// the records the kernel did not wake it for: every minPoll while records
// come, each look that finds nothing doubling it up to maxPoll.
const (
	minPoll = 20 * time.Millisecond
	maxPoll = time.Second
)

type state struct {
	cfg      Config
	mech     Mechanism
	k        *kobjs
	rd       *ringbuf.Reader
	flush    func() error // rd's Flush, kept after Close (Wake)
	rec      ringbuf.Record
	t        *tracker
	inMap    map[pathKey]string   // what the paths map holds
	bits     [inoBits / 64]uint64 // what the inode filter holds
	nextTick time.Time
	poll     time.Duration // see minPoll
	netns    uint64        // ours, to read /proc/net/unix for
	records  atomic.Uint64
}

// monoBase returns the wall time at CLOCK_MONOTONIC zero.
func monoBase() time.Time {
	var ts unix.Timespec
	now := time.Now()
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return now
	}
	return now.Add(-time.Duration(ts.Nano()))
}

func open(cfg Config) (*Capture, error) {
	if err := checkGlobs(cfg.Paths); err != nil {
		return nil, err
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	if r := cfg.RingSize; r < os.Getpagesize() || r&(r-1) != 0 {
		return nil, fmt.Errorf("ipc ring buffer size %d: not a power of two multiple of the page size", r)
	}
	switch cfg.Mechanism {
	case MechanismBTF, MechanismSyscalls:
		return openWith(cfg, cfg.Mechanism)
	case MechanismAuto:
	default:
		return nil, fmt.Errorf("ipc capture: unknown mechanism %q", cfg.Mechanism)
	}
	errBTF := haveBTF()
	if errBTF == nil {
		c, err := openWith(cfg, MechanismBTF)
		if err == nil {
			return c, nil
		}
		errBTF = err
	}
	c, err := openWith(cfg, MechanismSyscalls)
	if err == nil {
		return c, nil
	}
	if errors.Is(errBTF, errNoBTF) {
		return nil, err // the only candidate here
	}
	return nil, fmt.Errorf("%w; and %w", errBTF, err)
}

// openWith opens a capture with mechanism m.
func openWith(cfg Config, m Mechanism) (_ *Capture, err error) {
	st := &state{cfg: cfg, mech: m, t: newTracker(monoBase()), inMap: map[pathKey]string{}, poll: minPoll}
	c := &Capture{st: st}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if m == MechanismBTF {
		st.k, err = loadBTF(cfg)
	} else {
		st.k, err = loadSyscalls(cfg)
	}
	if err != nil {
		return nil, err
	}
	if err := st.refresh(); err != nil {
		return nil, err
	}
	if err := st.k.attach(); err != nil {
		return nil, err
	}
	if m == MechanismBTF {
		// Connections are learnt at their first send: those whose sockets
		// exist now (listed after the attach, so none is missed) are
		// joined mid-stream, the others seen from their start.
		st.t.known = allUnixInodes()
	}
	if st.rd, err = ringbuf.NewReader(st.k.events); err != nil {
		return nil, fmt.Errorf("ipc capture: ring buffer: %w", err)
	}
	st.flush = st.rd.Flush
	var sst unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &sst) == nil {
		st.netns = sst.Ino
	}
	st.nextTick = time.Now().Add(housekeeping)
	return c, nil
}

// inoBits is the number of bits of the kernel's inode filter (INO_BITS).
const inoBits = 65536

// refresh resolves the globs again and updates the kernel's paths: the
// inode filter's bits first, then the paths map, then (where the mechanism
// caches verdicts) the generation that voids them.
func (st *state) refresh() error {
	now, err := resolve(st.cfg.Paths)
	if err != nil {
		return err
	}
	var added []pathKey
	for k, p := range now {
		st.t.paths[k] = p
		if _, ok := st.inMap[k]; !ok {
			added = append(added, k)
		}
	}
	if len(added) == 0 {
		return nil
	}
	for _, k := range added {
		st.bits[k.Ino/64%(inoBits/64)] |= 1 << (k.Ino % 64)
	}
	zero := uint32(0)
	if err := st.k.inofilter.Update(&zero, &st.bits, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("ipc capture: inode filter: %w", err)
	}
	one := uint32(1)
	for _, k := range added {
		key := bpf.IpcPathKey{Ino: k.Ino, Dev: k.Dev}
		if err := st.k.paths.Update(&key, &one, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("ipc capture: paths map: %w", err)
		}
		st.inMap[k] = now[k]
	}
	// Inodes whose file went are kept: the connections their listener
	// accepted carry that path still (libzmq unlinks the file when it
	// closes the listener, not its connections). The map holds 4096.
	if st.k.generation != nil {
		var gen uint64
		if err := st.k.generation.Lookup(&zero, &gen); err != nil {
			return fmt.Errorf("ipc capture: generation: %w", err)
		}
		gen++
		if err := st.k.generation.Update(&zero, &gen, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("ipc capture: generation: %w", err)
		}
	}
	return nil
}

// tick is the housekeeping: paths again, held connections started,
// ended ones closed.
func (st *state) tick(now time.Time) {
	st.nextTick = now.Add(housekeeping)
	st.refresh() // a glob error was reported at Open; a map error will recur
	st.t.expire(now)
	tables := map[uint32]map[uint64]bool{}
	st.t.reap(now, func(c *conn, inode uint64) bool {
		tab, ok := tables[c.netns]
		if !ok {
			tab = st.unixTable(c)
			tables[c.netns] = tab
		}
		return tab != nil && !tab[inode]
	})
}

// unixTable reads the socket inodes of c's network namespace: ours, or
// that of a process at one of its ends. nil when none can be read.
func (st *state) unixTable(c *conn) map[uint64]bool {
	if uint64(c.netns) == st.netns {
		if tab, err := unixInodes("/proc/net/unix"); err == nil {
			return tab
		}
		return nil
	}
	for _, e := range c.ends {
		if e.PID == 0 {
			continue
		}
		var sst unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", e.PID), &sst) != nil || uint32(sst.Ino) != c.netns {
			continue
		}
		if tab, err := unixInodes(fmt.Sprintf("/proc/%d/net/unix", e.PID)); err == nil {
			return tab
		}
	}
	return nil
}

func (c *Capture) read(seg *segment.Segment, deadline time.Time) error {
	st := c.st
	for {
		if len(st.t.queue) > 0 {
			*seg = st.t.queue[0]
			st.t.queue[0] = segment.Segment{}
			st.t.queue = st.t.queue[1:]
			return nil
		}
		st.t.queue = st.t.queue[:0:0]
		now := time.Now()
		if !now.Before(st.nextTick) {
			st.tick(now)
			continue
		}
		// The kernel wakes the reader for a record that finds the ring
		// empty, at most once per 10 ms, or for a full sixteenth of it
		// (ipc_wakeup_bytes); for the records in between it looks itself,
		// every st.poll while records come, less and less often after.
		wait := deadline
		for _, t := range []time.Time{st.nextTick, now.Add(st.poll)} {
			if t.Before(wait) {
				wait = t
			}
		}
		if wait.After(now) {
			// The ring's wait (epoll) takes whole milliseconds, rounded
			// down: a deadline less than one away would return at once,
			// and again, until it passed (a spin after every burst). One
			// more millisecond makes it end at or after it, never before.
			wait = wait.Add(time.Millisecond)
		}
		st.rd.SetDeadline(wait)
		err := st.rd.ReadInto(&st.rec)
		if errors.Is(err, ringbuf.ErrFlushed) {
			return os.ErrDeadlineExceeded // Wake
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			st.poll = min(2*st.poll, maxPoll)
			if time.Now().Before(deadline) {
				continue
			}
			return os.ErrDeadlineExceeded
		}
		if err != nil {
			return fmt.Errorf("ipc capture: %w", err)
		}
		st.poll = minPoll
		r, data, err := decode(st.rec.RawSample)
		if err != nil {
			return err
		}
		st.records.Add(1)
		st.t.add(r, data, now)
	}
}

// wake flushes the ring: its waiting read returns ringbuf.ErrFlushed once
// the records in it are read. A flush after Close fails, harmlessly.
func (st *state) wake() {
	if st.flush != nil {
		_ = st.flush()
	}
}

func (c *Capture) close() error {
	st := c.st
	var err error
	if st.rd != nil {
		err = st.rd.Close()
		st.rd = nil
	}
	if st.k != nil {
		err = errors.Join(err, st.k.close())
		st.k = nil
	}
	return err
}

func (c *Capture) stats() Stats {
	s := Stats{Records: c.st.records.Load()}
	k := c.st.k
	if k == nil {
		return s
	}
	var vals [4]uint64
	for i := range vals {
		key := uint32(i)
		k.counters.Lookup(&key, &vals[i])
	}
	s.Lost, s.Cut, s.Other = vals[1], vals[2], vals[3]
	for _, p := range k.progs {
		if ps, err := p.Stats(); err == nil {
			s.Missed += ps.RecursionMisses
		}
	}
	return s
}

func probe() (Mechanism, error) {
	c, err := open(Config{RingSize: 1 << 16})
	if err != nil {
		return "", err
	}
	return c.Mechanism(), c.close()
}
