package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/procs"
	"github.com/zmtpdump/zmtpdump/segment"
)

// flushDelay is how long after the first record of a burst its output is
// written out, if the ring is empty by then (terminals see lines at once,
// pipes get them in blocks).
const flushDelay = 20 * time.Millisecond

// liveSource reads the ring buffer of a live capture. Next polls the ring
// by itself (see loader.PollInterval). Output is written out once the
// records of a burst are handled (flushDelay after the first one, when
// the ring is empty) and housekeeping runs once a second, also when
// records never stop coming.
//
// With ipc captured too, the feed wakes a waiting read of the TCP ring
// when it hands over a batch (tcpRing.Wake), and the loop takes at most
// ipcBatchLen ipc segments in a row before it looks at the TCP ring
// without waiting: neither capture starves the other, and an idle one
// costs nothing.
type liveSource struct {
	p      *Pipeline
	c      tcpRing // nil: no TCP capture (--ipc alone)
	ipc    *ipcFeed
	stderr io.Writer
	status *status // nil: no status line
	// nextHousekeeping is when housekeeping is due next.
	nextHousekeeping time.Time
	// dirty: records were handled since output was last written out.
	dirty bool
	// rearm: the deadline is to be set to nextHousekeeping again.
	rearm bool
	n     uint
	// deadline is the reads' deadline (see setDeadline).
	deadline time.Time
	// ipcRun counts the ipc segments taken since the TCP ring was last
	// looked at.
	ipcRun int
}

// tcpRing is what the loop needs of the TCP capture (a loader.Capture).
type tcpRing interface {
	Next(seg *segment.Segment) error
	SetDeadline(t time.Time)
	Wake()
	Stats() (loader.Stats, error)
	CheckInterfaces() ([]loader.InterfaceChange, error)
}

func (s *liveSource) next(seg *segment.Segment) error {
	for {
		if s.ipc != nil && (s.c == nil || s.ipcRun < ipcBatchLen) {
			ok, err := s.ipc.take(seg)
			if err != nil {
				return err
			}
			if ok {
				s.ipcRun++
				s.got()
				return nil
			}
		}
		// ipc segments may be waiting: look at the TCP ring, not waiting.
		probe := s.c != nil && s.ipcRun >= ipcBatchLen
		s.ipcRun = 0
		if s.rearm {
			s.rearm = false
			s.setDeadline(s.nextHousekeeping)
		}
		var err error
		if probe {
			s.c.SetDeadline(time.Now())
			seg.IPC = nil
			err = s.c.Next(seg)
			s.c.SetDeadline(s.deadline)
		} else {
			err = s.read(seg)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if s.ipc != nil && time.Now().Before(s.deadline) && !s.p.met.pending() {
				// Not the deadline: the probe found nothing, or the feed
				// woke the read with a batch.
				if s.c != nil {
					s.c.SetDeadline(s.deadline)
				}
				continue
			}
			s.rearm = true
			dirty := s.dirty
			s.dirty = false
			if dirty || !time.Now().Before(s.nextHousekeeping) || s.p.met.pending() {
				return errIdle
			}
			continue
		}
		if errors.Is(err, loader.ErrClosed) || errors.Is(err, errStopped) {
			// Interrupted (ctx is done): what the ipc capture read before
			// goes out first.
			if s.ipc != nil && s.ipc.last(seg) {
				s.got()
				return nil
			}
			return io.EOF
		}
		if err != nil {
			return err
		}
		s.got()
		return nil
	}
}

// got notes a record read: the output is written out flushDelay after the
// first of a burst, if nothing more came by then.
func (s *liveSource) got() {
	if !s.dirty {
		s.dirty = true
		s.setDeadline(time.Now().Add(flushDelay))
	}
}

// read reads the TCP ring, or with --ipc alone waits for the ipc capture.
func (s *liveSource) read(seg *segment.Segment) error {
	if s.c == nil {
		return s.ipc.wait(seg, s.deadline)
	}
	seg.IPC = nil // the loader's records fill every other field
	return s.c.Next(seg)
}

// setDeadline sets the reads' deadline.
func (s *liveSource) setDeadline(t time.Time) {
	s.deadline = t
	if s.c != nil {
		s.c.SetDeadline(t)
	}
}

// due: once a second at most, checked every 256 packets.
func (s *liveSource) due(seg *segment.Segment) (time.Time, bool) {
	if seg == nil {
		now := time.Now()
		return now, !now.Before(s.nextHousekeeping)
	}
	if s.n++; s.n%256 != 0 {
		return time.Time{}, false
	}
	now := time.Now()
	return now, now.After(s.nextHousekeeping)
}

func (s *liveSource) housekeep(now time.Time) error {
	s.nextHousekeeping = now.Add(expireEvery)
	if err := s.p.sink.flush(); err != nil {
		return err
	}
	if err := s.tick(); err != nil {
		return err
	}
	if s.c == nil {
		return nil
	}
	changes, err := s.c.CheckInterfaces()
	if err != nil {
		// Keep what was decoded: drain the ring, then stop.
		s.drain()
		return err
	}
	if len(changes) > 0 {
		s.status.clear() // redrawn at the next tick
	}
	return s.interfacesChanged(changes)
}

func (s *liveSource) end() time.Time {
	s.status.clear()
	return time.Now()
}

// tick, about once a second, writes the -w file out and redraws the
// status line.
func (s *liveSource) tick() error {
	now := time.Now()
	if s.p.pcap.due(now) {
		if err := s.p.pcap.flush(now); err != nil {
			return err
		}
	}
	if s.status.due(now) {
		var ks loader.Stats
		if s.c != nil {
			var err error
			if ks, err = s.c.Stats(); err != nil {
				return err
			}
		}
		if s.ipc != nil {
			is := s.ipc.stats()
			ks.Lost += is.Lost
		}
		packets, _, _ := s.p.sink.totals()
		s.status.show(now, packets, s.p.sink.messageCount(), ks.Lost)
	}
	return nil
}

// drain decodes the records still in the ring, without waiting for more.
func (s *liveSource) drain() {
	var seg segment.Segment
	s.c.SetDeadline(time.Now())
	for s.c.Next(&seg) == nil {
		s.p.Add(&seg)
	}
	for s.ipc != nil {
		if ok, _ := s.ipc.take(&seg); !ok {
			break
		}
		s.p.Add(&seg)
	}
}

// interfacesChanged says on stderr which interfaces -i any began or
// stopped capturing on, and describes those added in the -w file.
func (s *liveSource) interfacesChanged(changes []loader.InterfaceChange) error {
	pcap := s.p.pcap
	for _, ch := range changes {
		name := output.Printable(ch.Name)
		switch {
		case ch.Removed:
			fmt.Fprintf(s.stderr, "zmtpdump: interface %s vanished, no longer capturing on it\n", name)
			if pcap != nil && pcap.w != nil {
				pcap.w.Forget(ch.Index) // its index may come back as another
			}
		case ch.Err != nil && ch.Name == "":
			fmt.Fprintf(s.stderr, "zmtpdump: %s\n", output.Printable(ch.Err.Error()))
		case ch.Err != nil:
			fmt.Fprintf(s.stderr, "zmtpdump: interface %s came up, cannot capture on it: %s\n", name, output.Printable(ch.Err.Error()))
		default:
			fmt.Fprintf(s.stderr, "zmtpdump: interface %s came up, capturing on it too\n", name)
			if pcap != nil && pcap.w != nil && !pcap.w.Knows(ch.Index) {
				if err := pcap.w.AddInterface(pcapInterface(ch.Interface, s.p.cfg.FilterText)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// capture runs a live capture and returns its exit statistics (nil when
// it never started): TCP on the interfaces asked for, Unix stream sockets
// at the --ipc paths, or both in one loop.
func (p *Pipeline) capture(ctx context.Context, stderr io.Writer) (*output.Stats, error) {
	lcfg := p.cfg.Loader
	var c *loader.Capture
	if p.cfg.tcp() {
		var err error
		if c, err = loader.Open(lcfg); err != nil {
			return nil, err
		}
		defer c.Close()
		if c.Marks() {
			p.joiner = c
		}
	}
	ic, feed, err := p.openIPC(ctx)
	if err != nil {
		return nil, err
	}
	if ic != nil {
		defer ic.Close()
	}
	// Process attribution: the kernel records a connection's owners when
	// it connects and is accepted (older sockets: see owners).
	if c != nil {
		tr, err := procs.Open()
		switch {
		case err == nil:
			defer tr.Close()
			p.procs = &owners{tr: tr, pid: p.cfg.PID, comm: p.cfg.Comm}
			if p.met != nil {
				p.procs.pods = p.met.pods
			}
		case p.cfg.PID != 0 || p.cfg.Comm != "":
			return nil, fmt.Errorf("--pid/--comm: %w", err)
		default:
			fmt.Fprintf(stderr, "zmtpdump: no process attribution: %v\n", err)
		}
	}
	if feed != nil {
		p.ipcOwners(feed) // ipc records name their senders
	}
	if p.pcap != nil {
		var ifaces []pcapfile.Interface
		if c != nil {
			ifaces = pcapInterfaces(c.InterfaceList(), p.cfg.FilterText)
			p.iface = c.InterfaceByIndex
		}
		if feed != nil {
			ifaces = append(ifaces, ipcPcapInterface(p.cfg.IPC))
		}
		if err := p.pcap.start(ifaces); err != nil {
			return nil, err
		}
	}
	if err := p.openStatsFile(); err != nil {
		return nil, err
	}
	if err := dropPrivileges(p.cfg); err != nil {
		return nil, err
	}
	// Scrapes answered before the start-up line: a readiness probe on
	// /metrics turns ready once capturing.
	var wake func()
	switch {
	case c != nil:
		wake = c.Wake
	case feed != nil:
		wake = feed.wakeLoop
	}
	p.met.serve(c, wake, stderr)
	if c != nil {
		where := interfaceNames(c.InterfaceList())
		if lcfg.Netns != "" {
			where += " in network namespace " + lcfg.Netns
		}
		framing := ""
		if c.Framing() {
			framing = fmt.Sprintf(", kernel keeps %d bytes of each frame body", lcfg.FrameKeep)
		}
		framing += countModeText(c)
		fmt.Fprintf(stderr, "listening on %s (%s), %s, ring buffer %d KiB%s\n",
			where, backendName(c.Backend()), p.cfg.what(), lcfg.RingSize>>10, framing)
		stop := context.AfterFunc(ctx, c.Interrupt)
		defer stop()
	}
	if feed != nil {
		fmt.Fprintf(stderr, "listening on %s, ipc ring buffer %d KiB\n", ipcBanner(p.cfg.IPC, ic.Mechanism()), lcfg.RingSize>>10)
		if c != nil {
			feed.wake = c.Wake // before start: the goroutine reads it
		}
		feed.start()
		defer feed.stop()
	}

	src := &liveSource{p: p, ipc: feed, stderr: stderr, nextHousekeeping: time.Now().Add(expireEvery), rearm: true}
	if c != nil {
		src.c = c // a nil *loader.Capture would be a non-nil tcpRing
	}
	if p.cfg.Status {
		src.status = newStatus(stderr, time.Now())
	}
	loopErr := p.loop(src)
	p.met.ended()
	var ks loader.Stats
	if c != nil {
		ks, err = c.Stats()
		if err != nil && loopErr == nil {
			loopErr = err
		}
	}
	packets, events, _ := p.sink.totals()
	fs := p.asm.Stats()
	var added, removed int
	framing := false
	if c != nil {
		added, removed = c.InterfaceCounts()
		framing = c.Framing()
	}
	st := &output.Stats{
		PacketsCaptured:    packets,
		PacketsMatched:     ks.Matched,
		RingDrops:          ks.Lost,
		Events:             events,
		Messages:           p.sink.messageCount(),
		Connections:        fs.Flows,
		BytesReassembled:   fs.Bytes,
		OutOfOrder:         fs.OutOfOrder,
		Retransmitted:      fs.Retransmits,
		Gaps:               fs.Gaps,
		BytesLost:          fs.LostBytes,
		BytesNotCaptured:   fs.SkippedBytes,
		PacketsCut:         ks.Cut,
		PacketsUnreadable:  ks.LoadErrors,
		PacketsNotParsed:   ks.Skipped,
		KernelFraming:      framing,
		RingBytes:          ks.RingBytes,
		BytesElided:        ks.Elided,
		DirectionsUnframed: ks.Unframed,
		Joined:             ks.Joined,
		RSTIgnored:         fs.IgnoredRST,
		FINIgnored:         fs.IgnoredFIN,
		AcksIgnored:        fs.IgnoredAcks,
		Duplicates:         ks.Duplicates,
		InterfacesAdded:    uint64(added),
		InterfacesRemoved:  uint64(removed),
	}
	if feed != nil {
		is := feed.stats()
		st.IPC, st.IPCConnections, st.IPCRecords, st.IPCLost, st.IPCCut = true, p.ipcConns.Load(), is.Records, is.Lost, is.Cut
		st.IPCMissed, st.IPCUnreadable, st.IPCOnly = is.Missed, is.Other, c == nil
	}
	return st, loopErr
}

// openStatsFile creates cfg.StatsFile, if asked, as -w's file is: before
// privileges are dropped, so that what -w may write it may too, and a
// path that cannot be written is refused at the start, not at the end.
func (p *Pipeline) openStatsFile() error {
	if p.cfg.StatsFile == "" {
		return nil
	}
	f, err := p.cfg.Create(p.cfg.StatsFile)
	if err != nil {
		return fmt.Errorf("--stats-file: %w", err)
	}
	p.statsFile = f
	return nil
}

// writeStatsFile writes st (nil: the capture never started, the file stays
// empty) as a JSON object to the --stats-file opened, and closes it.
func (p *Pipeline) writeStatsFile(st *output.Stats) error {
	f := p.statsFile
	if f == nil {
		return nil
	}
	p.statsFile = nil
	var err error
	if st != nil {
		_, err = f.Write(append(st.AppendJSON(nil), '\n'))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--stats-file: %w", err)
	}
	return nil
}

// what says what is captured, for the start-up line.
func (c *Config) what() string {
	if c.Expr == "" {
		return describePorts(c.Ports.List())
	}
	what := strconv.Quote(c.Expr)
	if !c.Ports.Empty() {
		what += " and " + describePorts(c.Ports.List())
	}
	return what
}

// interfaceNames lists the interfaces for a message: their names escaped
// (see output.Printable), separated by commas.
func interfaceNames(ifaces []loader.Interface) string {
	names := make([]string, len(ifaces))
	for i, ifc := range ifaces {
		names[i] = output.Printable(ifc.Name)
	}
	return strings.Join(names, ", ")
}

func describePorts(ports []uint16) string {
	if len(ports) == 0 {
		return "all TCP ports"
	}
	if len(ports) > 8 {
		return fmt.Sprintf("%d ports", len(ports))
	}
	words := make([]string, len(ports))
	for i, p := range ports {
		words[i] = strconv.Itoa(int(p))
	}
	if len(words) == 1 {
		return "port " + words[0]
	}
	return "ports " + strings.Join(words, ", ")
}

func backendName(b loader.Backend) string {
	if b == loader.TCX {
		return "TCX"
	}
	return "socket filter"
}
