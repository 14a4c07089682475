package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/procs"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// assembler is what the pipeline needs of flows: the single-goroutine
// Assembler or the Sharded front end.
type assembler interface {
	Add(seg *capture.Segment)
	Expire(now time.Time)
	Flush(now time.Time)
	Stats() flows.Stats
}

// pipeline carries segments from a source to the printer, and to the
// pcapng writer of -w.
type pipeline struct {
	// procs finds connections' owners (live captures only; nil otherwise).
	procs *owners
	cfg   *config
	sink  *sink
	asm   assembler
	// closeAsm stops a sharded assembler's goroutines.
	closeAsm func()
	// joiner writes sync points into kernel-side framing (live captures
	// whose kernel walks frames; nil otherwise).
	joiner joiner
	// pcap writes -w's file once the interfaces are known; pcapErr is its
	// first error, which stops the capture.
	pcap    *pcapOut
	pcapErr error
	// iface describes an interface of a live capture by its index, for the
	// -w file: one that came up during the capture gets its block before
	// its first packet (nil when reading a file).
	iface func(index int) (loader.Interface, bool)
}

// shardsFor picks how many assembler goroutines a live capture gets. With
// -v, packet lines and the events they carry must come out in order: one.
// On small machines the reader and the shards would fight for the same
// cores (measured slower on 2 CPUs): one, run by the reader itself.
func shardsFor(cfg *config) int {
	if cfg.readFile != "" || cfg.verbose {
		return 0
	}
	if cfg.shards > 0 {
		return cfg.shards
	}
	if n := runtime.NumCPU(); n >= 4 {
		return n / 2
	}
	return 0
}

func newPipeline(cfg *config, stdout io.Writer) *pipeline {
	p := &pipeline{cfg: cfg}
	opts := cfg.outputOptions()
	if cfg.json {
		p.sink = newSink(output.NewJSONOptions(stdout, opts))
	} else {
		p.sink = newSink(output.NewText(stdout, opts))
	}
	p.sink.quiet = cfg.summary || cfg.writeFile == "-"
	p.sink.collect, p.sink.maxConvs = cfg.summary, cfg.summaryRows
	p.sink.limit = uint64(cfg.count)
	p.sink.finishOnClose = cfg.readFile != "" && cfg.writeFile != "" && cfg.writeFile != "-"
	zopts := zmtp.Options{MaxBody: cfg.snap}
	if cfg.snap == 0 {
		zopts.MaxBody = -1 // sizes only
	}
	factory := func(c *flows.Conn) flows.Consumer {
		s := newSession(c, p.sink, zopts, p.procs)
		s.learn = cfg.newLearning(c)
		s.joiner = p.joiner
		return s
	}
	if n := shardsFor(cfg); n > 0 {
		sh := flows.NewSharded(cfg.flows, flows.ShardConfig{Shards: n}, factory)
		p.asm, p.closeAsm = sh, sh.Close
	} else {
		p.asm, p.closeAsm = flows.New(cfg.flows, factory), func() {}
	}
	return p
}

// add handles one segment.
func (p *pipeline) add(seg *capture.Segment) {
	p.sink.count()
	if p.pcap != nil || p.cfg.verbose {
		p.procs.pass(seg, p.write) // --pid and --comm first: see ownerGate
	}
	p.asm.Add(seg)
}

// write writes seg to the -w file and prints it under -v.
func (p *pipeline) write(seg *capture.Segment) {
	if p.pcap != nil && p.pcapErr == nil {
		if p.iface != nil && !p.pcap.w.Knows(seg.Ifindex) {
			if ifc, ok := p.iface(seg.Ifindex); ok {
				p.pcapErr = p.pcap.w.AddInterface(pcapInterface(ifc, p.cfg.filterText))
			}
		}
		if p.pcapErr == nil {
			p.pcapErr = p.pcap.w.WriteSegment(seg)
		}
	}
	p.sink.printPacket(seg, p.cfg.verbose)
}

// err returns the first error writing the output or the pcapng file.
func (p *pipeline) err() error {
	if p.pcapErr != nil {
		return p.pcapErr
	}
	return p.sink.err()
}

func run(ctx context.Context, cfg *config, stdout, stderr io.Writer) (err error) {
	if cfg.cpuProfile != "" {
		stop, err := startProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer func() {
			if perr := stop(); err == nil {
				err = perr
			}
		}()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.duration > 0 && cfg.readFile == "" {
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	text, table := stdout, stdout
	if cfg.writeFile == "-" {
		text, table = io.Discard, stderr
	}
	p := newPipeline(cfg, text)
	p.sink.stop = cancel
	if cfg.writeFile != "" {
		p.pcap = &pcapOut{name: cfg.writeFile, stdout: stdout}
	}
	if cfg.readFile != "" {
		err = p.readFile(ctx)
	} else {
		err = p.capture(ctx, stderr)
	}
	p.closeAsm()
	if ferr := p.sink.flush(); err == nil {
		err = ferr
	}
	if p.pcap != nil {
		if cerr := p.pcap.close(); err == nil {
			err = cerr
		}
	}
	if err == nil && cfg.summary {
		err = p.sink.writeConversations(table)
	}
	if errors.Is(err, os.ErrClosed) || isBrokenPipe(err) {
		return nil
	}
	return err
}

func (p *pipeline) readFile(ctx context.Context) error {
	r, err := pcapfile.Open(p.cfg.readFile)
	if err != nil {
		return err
	}
	defer r.Close()
	if p.cfg.expr != "" {
		r.SetFilter(newFileFilter(p.cfg.expr).match)
	}
	if p.pcap != nil {
		// One Ethernet interface; a pcapng file's other interfaces get one
		// each as their packets come.
		if err := p.pcap.start([]pcapfile.Interface{{Index: 0, Filter: p.cfg.filterText}}); err != nil {
			return err
		}
	}
	var seg capture.Segment
	var first, last time.Time
	defer func() { p.asm.Flush(last) }()
	for ctx.Err() == nil {
		if err := r.Next(&seg); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if !p.cfg.ports.Match(seg.Src.Port(), seg.Dst.Port()) {
			continue
		}
		if first.IsZero() {
			first = seg.Time
		}
		if p.cfg.duration > 0 && seg.Time.Sub(first) >= p.cfg.duration {
			return nil
		}
		p.add(&seg)
		// Capture time drives expiry, as the clock does live.
		if seg.Time.Sub(last) >= expireEvery {
			p.asm.Expire(seg.Time)
			last = seg.Time
		}
		if seg.Time.After(last) {
			last = seg.Time
		}
		if err := p.err(); err != nil {
			return err
		}
	}
	return nil
}

// startProfile starts a CPU profile into the file name; stop ends it.
func startProfile(name string) (stop func() error, err error) {
	f, err := createFile(name)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// expireEvery is how often idle connections are looked for.
const expireEvery = time.Second

// flushDelay is how long after the first record of a burst its output is
// written out, if the ring is empty by then (terminals see lines at once,
// pipes get them in blocks).
const flushDelay = 20 * time.Millisecond

func (p *pipeline) capture(ctx context.Context, stderr io.Writer) error {
	netns := p.cfg.netns
	if p.cfg.pid > 0 {
		netns = fmt.Sprintf("/proc/%d/ns/net", p.cfg.pid)
	}
	lcfg := loader.Config{
		Interfaces: p.cfg.interfaces,
		Ports:      p.cfg.ports.List(),
		RingSize:   p.cfg.ringKiB << 10,
		Backend:    loader.Backend(p.cfg.backend),
		Netns:      netns,
		FrameKeep:  p.cfg.frameKeep(),
		// Walk frames for their boundaries even when whole payloads are
		// shipped (-w, -v): decoding resumes exactly after a loss.
		Marks: true,
	}
	if p.cfg.expr != "" {
		lcfg.Filter = kernelFilter(p.cfg.expr)
	}
	c, err := loader.Open(lcfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if c.Marks() {
		p.joiner = c
	}
	// Process attribution: the kernel records a connection's owners when
	// it connects and is accepted (older sockets: see owners).
	tr, err := procs.Open()
	switch {
	case err == nil:
		defer tr.Close()
		p.procs = &owners{tr: tr, pid: p.cfg.pid, comm: p.cfg.comm}
	case p.cfg.pid != 0 || p.cfg.comm != "":
		return fmt.Errorf("--pid/--comm: %w", err)
	default:
		fmt.Fprintf(stderr, "zmtpdump: no process attribution: %v\n", err)
	}
	what := describePorts(p.cfg.ports.List())
	if p.cfg.expr != "" {
		what = strconv.Quote(p.cfg.expr)
		if !p.cfg.ports.Empty() {
			what += " and " + describePorts(p.cfg.ports.List())
		}
	}
	if p.pcap != nil {
		if err := p.pcap.start(pcapInterfaces(c.InterfaceList(), p.cfg.filterText)); err != nil {
			return err
		}
		p.iface = c.InterfaceByIndex
	}
	if err := dropPrivileges(p.cfg); err != nil {
		return err
	}
	where := interfaceNames(c.InterfaceList())
	if netns != "" {
		where += " in network namespace " + netns
	}
	framing := ""
	if c.Framing() {
		framing = fmt.Sprintf(", kernel keeps %d bytes of each frame body", lcfg.FrameKeep)
	}
	fmt.Fprintf(stderr, "listening on %s (%s), %s, ring buffer %d KiB%s\n",
		where, backendName(c.Backend()), what, p.cfg.ringKiB, framing)
	stop := context.AfterFunc(ctx, c.Interrupt)
	defer stop()

	var live *status
	if p.cfg.statusOn {
		live = newStatus(stderr, time.Now())
	}
	var seg capture.Segment
	var loopErr error
	var n uint
	// Next polls the ring by itself (see loader.PollInterval). Output is
	// written out once the records of a burst are handled (flushDelay
	// after the first one, when the ring is empty) and housekeeping runs
	// once a second, also when records never stop coming.
	nextHousekeeping := time.Now().Add(expireEvery)
	housekeeping := func(now time.Time) error {
		nextHousekeeping = now.Add(expireEvery)
		p.asm.Expire(now)
		if err := p.sink.flush(); err != nil {
			return err
		}
		if err := p.tick(c, live); err != nil {
			return err
		}
		changes, err := c.CheckInterfaces()
		if err != nil {
			// Keep what was decoded: drain the ring, then stop.
			p.drain(c, &seg)
			return err
		}
		if len(changes) > 0 {
			live.clear() // redrawn at the next tick
		}
		return p.interfacesChanged(stderr, changes)
	}
	dirty := false // records handled since output was last written out
	c.SetDeadline(nextHousekeeping)
	for {
		err := c.Next(&seg)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			now := time.Now()
			if dirty {
				dirty = false
				if s, ok := p.asm.(interface{ Send() }); ok {
					s.Send() // a sharded assembler's partial batches
				}
				if err := p.sink.flush(); err != nil {
					loopErr = err
					break
				}
			}
			if !now.Before(nextHousekeeping) {
				if err := housekeeping(now); err != nil {
					loopErr = err
					break
				}
			}
			c.SetDeadline(nextHousekeeping)
			continue
		}
		if err != nil {
			if !errors.Is(err, loader.ErrClosed) {
				loopErr = err
			}
			break
		}
		p.add(&seg)
		if err := p.err(); err != nil {
			loopErr = err
			break
		}
		if !dirty {
			dirty = true
			c.SetDeadline(time.Now().Add(flushDelay))
		}
		// Once a second at most, checked every 256 packets.
		if n++; n%256 == 0 {
			if now := time.Now(); now.After(nextHousekeeping) {
				if err := housekeeping(now); err != nil {
					loopErr = err
					break
				}
			}
		}
	}
	live.clear()
	p.procs.finish(p.write)
	p.asm.Flush(time.Now())
	st, err := c.Stats()
	if err != nil && loopErr == nil {
		loopErr = err
	}
	packets, events, _ := p.sink.totals()
	fs := p.asm.Stats()
	fmt.Fprintf(stderr, "%d packets captured\n%d packets matched in the kernel\n%d packets dropped by kernel (ring buffer full)\n%d ZMTP events decoded\n",
		packets, st.Matched, st.Lost, events)
	fmt.Fprintf(stderr, "%d connections, %d bytes reassembled, %d segments out of order, %d retransmitted, %d gaps (%d bytes lost), %d bytes not captured (snap)\n",
		fs.Flows, fs.Bytes, fs.OutOfOrder, fs.Retransmits, fs.Gaps, fs.LostBytes, fs.SkippedBytes)
	fmt.Fprintf(stderr, "%d packets cut in the kernel (payload too large to copy), %d unreadable there (counted as lost), %d not parsed (later fragments, more than 6 IPv6 extension headers or 2 VLAN tags)\n",
		st.Cut, st.LoadErrors, st.Skipped)
	if c.Framing() {
		fmt.Fprintf(stderr, "%d bytes through the ring buffer, %d payload bytes left out by kernel framing, %d connection directions not followed, %d joined mid-stream\n",
			st.RingBytes, st.Elided, st.Unframed, st.Joined)
	}
	if fs.IgnoredRST+fs.IgnoredFIN+fs.IgnoredAcks > 0 {
		fmt.Fprintf(stderr, "%d RSTs and %d FINs outside the TCP window ignored, %d acknowledgments of bytes never seen ignored\n",
			fs.IgnoredRST, fs.IgnoredFIN, fs.IgnoredAcks)
	}
	if st.Duplicates > 0 {
		fmt.Fprintf(stderr, "%d packets seen twice (on two interfaces) reported once\n", st.Duplicates)
	}
	if added, removed := c.InterfaceCounts(); added+removed > 0 {
		fmt.Fprintf(stderr, "%s added, %d removed during the capture\n", nInterfaces(added), removed)
	}
	return loopErr
}

// tick, about once a second, writes the -w file out and redraws the
// status line.
func (p *pipeline) tick(c *loader.Capture, st *status) error {
	now := time.Now()
	if p.pcap.due(now) {
		if err := p.pcap.flush(now); err != nil {
			return err
		}
	}
	if st.due(now) {
		ks, err := c.Stats()
		if err != nil {
			return err
		}
		packets, _, _ := p.sink.totals()
		st.show(now, packets, p.sink.messageCount(), ks.Lost)
	}
	return nil
}

// interfacesChanged says on stderr which interfaces -i any began or
// stopped capturing on, and describes those added in the -w file.
func (p *pipeline) interfacesChanged(stderr io.Writer, changes []loader.InterfaceChange) error {
	for _, ch := range changes {
		name := output.Printable(ch.Name)
		switch {
		case ch.Removed:
			fmt.Fprintf(stderr, "zmtpdump: interface %s vanished, no longer capturing on it\n", name)
			if p.pcap != nil && p.pcap.w != nil {
				p.pcap.w.Forget(ch.Index) // its index may come back as another
			}
		case ch.Err != nil && ch.Name == "":
			fmt.Fprintf(stderr, "zmtpdump: %s\n", output.Printable(ch.Err.Error()))
		case ch.Err != nil:
			fmt.Fprintf(stderr, "zmtpdump: interface %s came up, cannot capture on it: %s\n", name, output.Printable(ch.Err.Error()))
		default:
			fmt.Fprintf(stderr, "zmtpdump: interface %s came up, capturing on it too\n", name)
			if p.pcap != nil && p.pcap.w != nil && !p.pcap.w.Knows(ch.Index) {
				if err := p.pcap.w.AddInterface(pcapInterface(ch.Interface, p.cfg.filterText)); err != nil {
					return err
				}
			}
		}
	}
	return nil
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

// nInterfaces returns "1 interface" or "N interfaces".
func nInterfaces(n int) string {
	if n == 1 {
		return "1 interface"
	}
	return fmt.Sprintf("%d interfaces", n)
}

// drain decodes the records still in the ring, without waiting for more.
func (p *pipeline) drain(c *loader.Capture, seg *capture.Segment) {
	c.SetDeadline(time.Now())
	for c.Next(seg) == nil {
		p.add(seg)
	}
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
