package session

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/procs"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/unixcap"
)

// The ipc:// capture (--ipc) is read by a goroutine of its own (ipcFeed),
// which hands its segments to the one loop in batches: the loop takes them
// between the TCP ring's records (at most a batch in a row, see
// liveSource), without blocking, and when it captures no TCP it waits for
// them. Each batch handed over wakes the loop's waiting read (wake), so
// ipc segments never wait for a TCP capture with nothing to read, and an
// idle capture costs nothing.
const (
	// ipcWait is how long the feed's goroutine waits for a first record
	// before it looks whether it is to stop (stop and last wake it
	// sooner).
	ipcWait = time.Second
	// ipcDrainMax bounds the reading of what the ring holds once asked to
	// stop: a sender that writes faster than the drain reads would keep
	// it from ever finding the ring empty.
	ipcDrainMax = 2 * time.Second
	// ipcBatchLen is how many segments a batch holds, and ipcBatches how
	// many batches there are (those in the loop's hands included): at
	// most ipcBatches*ipcBatchLen records of at most 64 KiB are held.
	ipcBatchLen = 32
	ipcBatches  = 3
	// ipcMaxViews bounds the connections the feed remembers the values
	// of; beyond, it forgets them all (they are made again as they come).
	ipcMaxViews = 1 << 16
)

// IPCIfindex is the Segment.Ifindex ipc segments are given in the
// pipeline (no interface has it), which the -w file's "ipc" interface
// describes.
const IPCIfindex = -1

// ipcReader is what the feed needs of an ipc capture (unixcap.Capture).
type ipcReader interface {
	Read(seg *segment.Segment, deadline time.Time) error
	Stats() unixcap.Stats
	Sweep()
	Wake()
}

// ipcBatch is segments read by the feed, their payloads copied.
type ipcBatch struct {
	n    int
	segs [ipcBatchLen]segment.Segment
	bufs [ipcBatchLen][]byte
}

// ipcFeed reads an ipc capture on its own goroutine (run) and hands its
// segments over (take, wait), on the loop's goroutine.
//
// A segment's IPC value is the capture's, which the capture updates as it
// learns a pid or comm: the feed's goroutine, the only one that reads it
// while the capture may change it, gives the loop an immutable copy
// instead, a new one whenever the capture's changed. Printers and sessions
// may keep and compare those by pointer.
type ipcFeed struct {
	rd    ipcReader
	paths []string
	ready chan *ipcBatch
	free  chan *ipcBatch
	// quit asks the goroutine to read what the ring still holds and end
	// (last), kill to end at once (stop); done is closed when it ended.
	quit, kill         chan struct{}
	quitOnce, killOnce sync.Once
	done               chan struct{}
	err                error // the reader's error, set before done is closed
	ctx                context.Context
	// wake, if set, makes the loop's waiting read of the TCP ring return
	// (loader.Capture.Wake); poke wakes wait (a scrape, with --ipc
	// alone).
	wake func()
	poke chan struct{}
	// views maps the capture's IPC values to their last copy (the
	// goroutine's own).
	views map[*segment.IPC]*ipcView
	ends  *ipcEnds
	// The loop's: the batch it takes from and the next segment in it.
	cur *ipcBatch
	i   int
}

// ipcView is the copy of a capture's IPC value and the FINs seen of it.
type ipcView struct {
	v    *segment.IPC
	fins uint8
}

func newIPCFeed(ctx context.Context, rd ipcReader, paths []string) *ipcFeed {
	f := &ipcFeed{
		rd: rd, paths: paths, ctx: ctx,
		ready: make(chan *ipcBatch, ipcBatches),
		free:  make(chan *ipcBatch, ipcBatches),
		quit:  make(chan struct{}),
		kill:  make(chan struct{}),
		done:  make(chan struct{}),
		poke:  make(chan struct{}, 1),
		views: make(map[*segment.IPC]*ipcView),
		ends:  &ipcEnds{m: make(map[uint64]*procs.Process)},
	}
	for range ipcBatches {
		f.free <- new(ipcBatch)
	}
	return f
}

// start starts the goroutine; stop ends it and waits for it (what it had
// not handed over is dropped: see last).
func (f *ipcFeed) start() { go f.run() }

func (f *ipcFeed) stop() {
	f.killOnce.Do(func() { close(f.kill) })
	f.rd.Wake()
	<-f.done
}

// wakeLoop makes a waiting wait return (os.ErrDeadlineExceeded): for a
// scrape, which the loop answers when idle. Safe from any goroutine.
func (f *ipcFeed) wakeLoop() {
	select {
	case f.poke <- struct{}{}:
	default:
	}
}

// last, once the capture is interrupted, takes the segments the feed read
// and those still in the ring, waiting for the goroutine to read them:
// false once there is none left.
func (f *ipcFeed) last(seg *segment.Segment) bool {
	f.quitOnce.Do(func() {
		close(f.quit)
		f.rd.Wake()
	})
	for {
		if ok, err := f.take(seg); ok || err != nil {
			return ok
		}
		select {
		case b := <-f.ready:
			f.cur, f.i = b, 0
		case <-f.done:
			if len(f.ready) == 0 {
				return false
			}
		}
	}
}

func (f *ipcFeed) run() {
	defer close(f.done)
	var seg segment.Segment
	draining, swept := false, false
	var drainEnd time.Time
	for {
		var b *ipcBatch
		select {
		case b = <-f.free:
		case <-f.kill:
			return
		}
		b.n = 0
		for b.n < len(b.segs) {
			// Asked to stop? Looked at before every read: records that
			// keep coming must not hide it.
			if !draining {
				select {
				case <-f.quit:
					draining, drainEnd = true, time.Now().Add(ipcDrainMax)
				case <-f.kill:
					return
				default:
				}
			}
			if draining && !time.Now().Before(drainEnd) {
				break // a sender faster than the drain: cut here
			}
			deadline := time.Now().Add(ipcWait)
			switch {
			case draining:
				deadline = time.Now() // what the ring holds, no more
			case b.n > 0:
				deadline = time.Now().Add(time.Millisecond) // a burst's end
			}
			err := f.rd.Read(&seg, deadline)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if draining && !swept {
					// The ring is empty: the connections whose sockets
					// closed end now (closed, not cut by the capture's end).
					swept = true
					f.rd.Sweep()
					continue
				}
				if b.n > 0 || draining {
					break
				}
				continue
			}
			if err != nil {
				f.err = fmt.Errorf("ipc capture: %w", err)
				if b.n > 0 {
					f.ready <- b // there is room: every batch fits
				}
				return
			}
			f.keep(b, &seg)
		}
		if b.n > 0 {
			f.ready <- b // there is room: every batch fits
			if f.wake != nil {
				f.wake()
			}
		} else {
			f.free <- b
		}
		if draining && (b.n < len(b.segs) || !time.Now().Before(drainEnd)) {
			return // the ring is empty, or the drain's time is up
		}
	}
}

// keep copies seg into b, its IPC value made the loop's.
func (f *ipcFeed) keep(b *ipcBatch, seg *segment.Segment) {
	i := b.n
	b.n++
	b.bufs[i] = append(b.bufs[i][:0], seg.Payload...)
	b.segs[i] = *seg
	out := &b.segs[i]
	out.Payload = b.bufs[i]
	out.Ifindex = IPCIfindex
	orig := seg.IPC
	if orig == nil {
		return
	}
	view := f.views[orig]
	if view == nil {
		if len(f.views) >= ipcMaxViews {
			clear(f.views)
		}
		view = &ipcView{}
		f.views[orig] = view
	}
	if view.v == nil || *view.v != *orig {
		c := *orig
		view.v = &c
		f.ends.learn(&c)
	}
	out.IPC = view.v
	if seg.Flags&segment.FIN != 0 {
		if view.fins++; view.fins >= 2 {
			delete(f.views, orig)
		}
	}
}

// take fills seg with the next segment read, without waiting: false when
// there is none. It returns the reader's error once its segments are
// taken. seg.Payload is valid until the next call.
func (f *ipcFeed) take(seg *segment.Segment) (bool, error) {
	for {
		if f.cur != nil && f.i < f.cur.n {
			*seg = f.cur.segs[f.i]
			f.i++
			return true, nil
		}
		if f.cur != nil {
			f.free <- f.cur // never blocks: it has room for every batch
			f.cur = nil
		}
		select {
		case f.cur = <-f.ready:
			f.i = 0
			continue
		default:
		}
		select {
		case <-f.done:
			if len(f.ready) == 0 {
				return false, f.err
			}
			continue
		default:
			return false, nil
		}
	}
}

// errStopped is wait's error once the context is done.
var errStopped = errors.New("capture stopped")

// wait is take, waiting for a segment until deadline
// (os.ErrDeadlineExceeded) or the end of the capture's context
// (errStopped).
func (f *ipcFeed) wait(seg *segment.Segment, deadline time.Time) error {
	for {
		if ok, err := f.take(seg); ok || err != nil {
			return err
		}
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		select {
		case b := <-f.ready:
			f.cur, f.i = b, 0
		case <-f.done:
		case <-f.poke:
			t.Stop()
			return os.ErrDeadlineExceeded
		case <-t.C:
		case <-f.ctx.Done():
			t.Stop()
			if ok, err := f.take(seg); ok || err != nil {
				return err // what was read before the end goes first
			}
			return errStopped
		}
		t.Stop()
	}
}

// stats returns the capture's counters.
func (f *ipcFeed) stats() unixcap.Stats { return f.rd.Stats() }

// ipcEnds is what the feed learnt of the processes at the ends of ipc
// connections, by socket inode: the owners of ipc sessions and the ends
// --pid and --comm look at, with their container (from /proc/PID/cgroup,
// read once per process: per pid and start time, so that a pid reused
// in a long capture is read again). It is safe for concurrent use.
type ipcEnds struct {
	mu sync.Mutex
	m  map[uint64]*procs.Process
	// views holds, by the socket inode of either end, the connection's
	// last IPC value (see name).
	views map[uint64]*segment.IPC
	// cgroups caches the cgroup path of each process met (see cgroup).
	cgroups map[procKey]string
}

// procKey tells a process from those that had its pid before: its pid and
// its start time (/proc/PID/stat's starttime, 0 when it cannot be read).
type procKey struct {
	pid   int
	start uint64
}

// learn notes the processes v names.
func (e *ipcEnds) learn(v *segment.IPC) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.m) >= 2*ipcMaxViews {
		clear(e.m)
	}
	if e.views == nil || len(e.views) >= 2*ipcMaxViews {
		e.views = make(map[uint64]*segment.IPC)
	}
	e.views[v.ClientInode], e.views[v.ServerInode] = v, v
	for _, end := range [2]struct {
		inode uint64
		pid   int
		comm  string
	}{{v.ClientInode, v.ClientPID, v.ClientComm}, {v.ServerInode, v.ServerPID, v.ServerComm}} {
		if end.pid <= 0 {
			continue
		}
		if old := e.m[end.inode]; old == nil || old.PID != end.pid || old.Comm != end.comm {
			cg := e.cgroup(end.pid)
			e.m[end.inode] = &procs.Process{PID: end.pid, Comm: end.comm, Cgroup: cg, ContainerID: procs.ContainerID(cg)}
		}
	}
}

// cgroup returns pid's cgroup v2 path, read from /proc/PID/cgroup the
// first time the process is met ("" when it cannot be read). The caller
// holds e.mu.
func (e *ipcEnds) cgroup(pid int) string {
	k := procKey{pid, procStart(pid)}
	if cg, ok := e.cgroups[k]; ok {
		return cg
	}
	if e.cgroups == nil || len(e.cgroups) >= 2*ipcMaxViews {
		e.cgroups = make(map[procKey]string)
	}
	cg := ""
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if p, ok := strings.CutPrefix(l, "0::"); ok {
				cg = p
				break
			}
		}
	}
	e.cgroups[k] = cg
	return cg
}

// procStart returns pid's start time, in clock ticks since boot, from
// /proc/PID/stat (field 22, counted after the command name, which may hold
// spaces and parentheses); 0 when it cannot be read.
func procStart(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:])) // from field 3, the state
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

func (e *ipcEnds) get(inode uint64) *procs.Process {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[inode]
}

// name returns how lines name the end ap of an ipc connection, from the
// last IPC value learnt of it (output.EndName), and a TCP end's address.
func (e *ipcEnds) name(ap netip.AddrPort) string {
	inode, _, ok := segment.IsIPCAddr(ap)
	if !ok {
		return ap.String()
	}
	e.mu.Lock()
	v := e.views[inode]
	e.mu.Unlock()
	if v == nil {
		v = &segment.IPC{} // never seen: named by its inode
	}
	return output.EndName(ap, v)
}

// ipcTracker finds the owners of ipc connections' ends in what the feed
// learnt, and those of TCP connections with the TCP tracker (nil: none).
type ipcTracker struct {
	tcp  endsTracker
	ends *ipcEnds
}

// Ends implements endsTracker.
func (t ipcTracker) Ends(a, b netip.AddrPort) (aOwner, bOwner *procs.Process) {
	ia, _, ok := segment.IsIPCAddr(a)
	if !ok {
		if t.tcp == nil {
			return nil, nil
		}
		return t.tcp.Ends(a, b)
	}
	ib, _, _ := segment.IsIPCAddr(b)
	aOwner, bOwner = t.ends.get(ia), t.ends.get(ib)
	if aOwner == nil && bOwner == nil && t.tcp != nil {
		// Not an ipc connection zmtpdump made the addresses of: real TCP
		// in that range (a site's own unique-local prefix).
		return t.tcp.Ends(a, b)
	}
	return aOwner, bOwner
}

// openIPC opens the ipc capture of cfg.IPC (nil, nil: none asked).
func (p *Pipeline) openIPC(ctx context.Context) (*unixcap.Capture, *ipcFeed, error) {
	if len(p.cfg.IPC) == 0 {
		return nil, nil, nil
	}
	c, err := unixcap.Open(unixcap.Config{Paths: p.cfg.IPC, RingSize: p.cfg.Loader.RingSize})
	if err != nil {
		return nil, nil, fmt.Errorf("--ipc: %w", err)
	}
	return c, newIPCFeed(ctx, c, p.cfg.IPC), nil
}

// ipcOwners makes p's owners find those of ipc connections too.
func (p *Pipeline) ipcOwners(f *ipcFeed) {
	p.ipcEnds = f.ends // before any segment: the diagnosis names ends by it
	if p.procs == nil {
		p.procs = &owners{tr: ipcTracker{ends: f.ends}, pid: p.cfg.PID, comm: p.cfg.Comm}
		return
	}
	p.procs.tr = ipcTracker{tcp: p.procs.tr, ends: f.ends}
}

// ipcPcapInterface describes the -w file's interface of ipc streams.
func ipcPcapInterface(paths []string) pcapfile.Interface {
	where := strings.Join(paths, " ")
	return pcapfile.Interface{
		Name:        "ipc",
		Index:       IPCIfindex,
		Link:        pcapfile.LinkRaw,
		Description: "ipc:// (Unix stream sockets) at " + where,
		Comment:     ipcPcapComment(where),
	}
}

// ipcPcapComment says what the packets of the ipc interface are.
func ipcPcapComment(where string) string {
	return "The packets of interface ipc are synthesized by zmtpdump from the sends (write, writev, sendto, sendmsg) " +
		"on the Unix stream sockets of " + where + ": TCP over IPv6 between addresses of fd7a:6970:6300::/48, " +
		"the socket's inode in the low 64 bits, port 1 for the accepting (server) end and 2 for the connecting end; " +
		"the SYN's sequence number is 0 and the byte at stream offset N has sequence number 1+N, SYN and FIN mark connect and close. No such packet was on a network."
}

// ipcPacketComment describes an ipc connection in the comment of its
// first packet in the -w file: its path and the processes at its ends.
func ipcPacketComment(v *segment.IPC) string {
	return "ipc:// connection at " + output.Printable(v.Path) + ": client " +
		output.EndName(segment.IPCAddr(v.ClientInode, false), v) + ", server " +
		output.EndName(segment.IPCAddr(v.ServerInode, true), v) +
		" (packets synthesized by zmtpdump from Unix stream socket sends)"
}

// ipcBanner is the start-up line's part for ipc.
func ipcBanner(paths []string, mech unixcap.Mechanism) string {
	quoted := make([]string, len(paths))
	for i, s := range paths {
		quoted[i] = output.Printable(s)
	}
	return "ipc:// at " + strings.Join(quoted, ", ") + " (" + string(mech) + ")"
}
