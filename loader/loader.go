package loader

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/rlimit"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/internal/kernel"
)

// DefaultRingSize is the ring buffer size used when Config.RingSize is 0:
// on lo a record can hold a 64 KiB GSO packet, and at full speed the reader
// must stay that far behind without loss (see README "Overhead").
const DefaultRingSize = 64 << 20

// wakeupBytes is how much must wait in the ring before the kernel wakes the
// reader (a sixteenth of the ring, at most 2 MiB); below that it wakes the
// reader for a record that finds the ring empty, at most every 10 ms, and
// the reader polls for the rest (see PollInterval).
func wakeupBytes(ring int) uint64 { return uint64(min(ring/16, 2<<20)) }

// PollInterval is how often Next looks into the ring, while records come,
// for those the kernel did not wake it for. Each look that finds nothing
// doubles the interval, up to MaxPollInterval: an idle capture costs
// almost nothing, and the first record after a lull wakes the reader.
const PollInterval = 50 * time.Millisecond

// MaxPollInterval bounds the polling interval of an idle capture.
const MaxPollInterval = time.Second

// Backend is how the capture program is attached.
type Backend string

// Backends.
const (
	// Auto picks TCX where the kernel has it, else Socket.
	Auto Backend = "auto"
	// TCX attaches TC programs with TCX links (Linux 6.6+).
	TCX Backend = "tcx"
	// Socket runs the program as the filter of AF_PACKET sockets (any
	// kernel with BPF ring buffers, 5.8+).
	Socket Backend = "socket"
)

// AnyInterface, as the only interface, captures on every interface that is
// up, and follows them as they come and go (see CheckInterfaces).
const AnyInterface = "any"

// Config says what to capture and where.
type Config struct {
	// Interfaces to attach to, by name; AnyInterface for all.
	Interfaces []string
	// Ports selects TCP packets whose source or destination port is in
	// the list; an empty list selects every TCP packet.
	Ports []uint16
	// RingSize is the BPF ring buffer size in bytes: a power of two and a
	// multiple of the page size. 0 means DefaultRingSize.
	RingSize int
	// Filter, if set, returns the body of the kernel's filter function for
	// interfaces whose link-layer header is l2len bytes long (14 for
	// Ethernet, 0 for raw IP): eBPF instructions that take the skb in R1
	// and return 0 in R0 to reject the packet. Packets must pass both Ports
	// and Filter.
	Filter func(l2len int) (asm.Instructions, error)
	// Backend forces an attach method; "" means Auto.
	Backend Backend
	// Netns, if set, is the path of a network namespace to capture in
	// (/var/run/netns/NAME, /proc/PID/ns/net): Interfaces are that
	// namespace's. Entering it needs CAP_SYS_ADMIN.
	Netns string
	// FrameKeep, if not 0, turns on kernel-side framing: the kernel follows
	// the ZMTP frames of every connection whose start it sees and ships of
	// each message frame its header and first FrameKeep body bytes (whole
	// commands); a Segment then says how many payload bytes it leaves out
	// (PayloadLen beyond Payload) and Capture.Framing reports it on. It
	// needs bpf_loop (Linux 5.17); older kernels ship whole payloads.
	// Kernel-side framing marks frame boundaries (see Marks).
	FrameKeep int
	// Marks walks the ZMTP frames of every connection direction whose
	// start the kernel sees (or that Capture.Join joined) even when
	// FrameKeep is 0, and ships every payload byte, one record a packet as
	// without framing: each Segment of a walked direction that holds the
	// start of a frame header says where in its Boundary, with the
	// direction's frame and message counts before it. FrameKeep > 0 marks
	// too. Capture.Marks reports whether the kernel walks; it needs
	// bpf_loop (Linux 5.17), like FrameKeep.
	Marks bool
	// FlowStates is how many connection directions kernel-side framing
	// (or Marks) follows at once (least recently used forgotten first); 0
	// means DefaultFlowStates. The kernel preallocates them: about 160
	// bytes each (measured on 6.18), 2.6 MB for the default.
	FlowStates int
}

// DefaultFlowStates is the default Config.FlowStates.
const DefaultFlowStates = 16384

// ErrClosed is returned by Next after Interrupt or Close.
var ErrClosed = errors.New("capture closed")

// Capture is a running kernel capture. Next must be called from one
// goroutine; Interrupt may be called from any goroutine to make Next return
// ErrClosed.
type Capture struct {
	// sets holds one loaded program set per link-layer header length; the
	// first owns the maps the others share.
	sets    map[int]*bpf.CaptureObjects
	first   *bpf.CaptureObjects
	backend Backend
	// ifaces are the interfaces attached to, in the order attached.
	ifaces []*attachment
	rd     *ring
	// ns is the namespace captured in; nl lists its interfaces.
	ns    *netNamespace
	nl    *linkSocket
	dedup dedup
	// follow: the interfaces are AnyInterface's, followed as they come and
	// go (see follow.go).
	follow follow
	// cfg, ringSize and loIndex load the programs for a link-layer header
	// length first seen on an interface that came up later.
	cfg               Config
	ringSize, loIndex int
	// deadline is the caller's, see SetDeadline.
	deadline time.Time
	// base is the wall-clock time at which CLOCK_MONOTONIC was zero.
	base time.Time
	// poll is the current polling interval (see PollInterval).
	poll time.Duration
	// full is the program with bpf_loop loaded (not CaptureBasic); framing
	// is on (Config.FrameKeep and full); marks: the kernel walks frames
	// (Config.FrameKeep or Config.Marks, and full).
	full, framing, marks bool
}

// Open checks the kernel, loads the capture program, attaches it to every
// interface in cfg and starts reading. The caller must Close the Capture.
func Open(cfg Config) (c *Capture, err error) {
	ring := cfg.RingSize
	if ring == 0 {
		ring = DefaultRingSize
	}
	if ring < os.Getpagesize() || ring&(ring-1) != 0 {
		return nil, fmt.Errorf("ring buffer size %d: must be a power of two of at least %d bytes", ring, os.Getpagesize())
	}
	backend := cfg.Backend
	switch backend {
	case "":
		backend = Auto
	case Auto, TCX, Socket:
	default:
		return nil, fmt.Errorf("unknown backend %q: want tcx, socket or auto", backend)
	}
	// Interfaces are looked up with a netlink socket made in the target
	// namespace: it keeps answering for that namespace (CheckInterfaces).
	// With AnyInterface, link events are subscribed to before the
	// interfaces are listed, so that none that comes up after is missed.
	var (
		nl      *linkSocket
		ifaces  []iface
		loIndex int
		watch   *linkWatch
	)
	ns, err := openNetns(cfg.Netns)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	err = ns.run(func() error {
		var err error
		if nl, err = openLinkSocket(); err != nil {
			return err
		}
		if follows(cfg) {
			if watch, err = watchLinks(); err != nil {
				return err
			}
		}
		links, err := nl.links()
		if err != nil {
			return err
		}
		loIndex = loopbackOf(links)
		ifaces, err = resolveInterfaces(cfg.Interfaces, links)
		return err
	})
	if err == nil {
		c, err = openWithIfaces(cfg, ifaces, loIndex, nl)
	} else {
		nl.Close()
	}
	if err != nil {
		watch.close()
		return nil, err
	}
	c.startFollowing(watch)
	return c, nil
}

// openWithIfaces is Open once the interfaces are known: loIndex is the
// loopback interface's index in their namespace, nl (owned by the Capture
// from now on) lists that namespace's interfaces.
func openWithIfaces(cfg Config, ifaces []iface, loIndex int, nl *linkSocket) (c *Capture, err error) {
	ringSize := cfg.RingSize
	if ringSize == 0 {
		ringSize = DefaultRingSize
	}
	backend := cfg.Backend
	if backend == "" {
		backend = Auto
	}

	// Say which capability is missing before a probe fails for want of it.
	if m := kernel.MissingCaptureCaps(); m != "" {
		nl.Close()
		return nil, fmt.Errorf("%w; missing %s", ErrPermission, m)
	}
	ns, err := openNetns(cfg.Netns)
	if err != nil {
		nl.Close()
		return nil, err
	}
	c = &Capture{sets: make(map[int]*bpf.CaptureObjects), ns: ns, nl: nl, dedup: newDedup(len(ifaces) > 1 || follows(cfg)),
		cfg: cfg, ringSize: ringSize, loIndex: loIndex}
	if err := rlimit.RemoveMemlock(); err != nil {
		c.Close()
		return nil, permissionError("lift the locked-memory limit", err)
	}
	if err := ringbufUnavailable(features.HaveMapType(ebpf.RingBuf)); err != nil {
		c.Close()
		return nil, err
	}
	// The full program needs bpf_loop, and ships BIG TCP packets (6.3+)
	// in several records; CaptureBasic serves older kernels.
	c.full = haveLoop()
	c.framing = cfg.FrameKeep > 0 && c.full
	c.marks = walks(cfg, c.full)
	// Every "return nil, err" below zeroes c before this runs: close the
	// capture through its own variable.
	opened := c
	defer func() {
		if err != nil {
			opened.Close()
		}
	}()
	// Auto: TCX where the kernel has it. Deciding before loading spares
	// the verifier the programs of the other backend; when the probe
	// cannot tell, everything is loaded and attachAll decides.
	if backend == Auto {
		switch err := ProbeTCX(); {
		case err == nil:
			backend = TCX
		case errors.Is(err, ebpf.ErrNotSupported):
			backend = Socket
		}
	}
	for _, ifc := range ifaces {
		if c.sets[ifc.l2len] != nil {
			continue
		}
		var same []iface
		for _, o := range ifaces {
			if o.l2len == ifc.l2len {
				same = append(same, o)
			}
		}
		if follows(cfg) {
			// Interfaces that come up later may need every program.
			same = append(same, iface{l2len: ifc.l2len})
		}
		objs := new(bpf.CaptureObjects)
		if err := loadObjects(objs, cfg, c.full, ringSize, ifc.l2len, loIndex, c.first, programsFor(backend, same)); err != nil {
			return nil, err
		}
		c.sets[ifc.l2len] = objs
		if c.first == nil {
			c.first = objs
		}
	}

	// Record the clock offset before any packet can arrive.
	c.base, err = kernel.MonotonicBase()
	if err != nil {
		return nil, err
	}
	if c.rd, err = newRing(c.first.Events, ringSize); err != nil {
		return nil, fmt.Errorf("open ring buffer reader: %w", err)
	}
	c.armPoll()
	// TCX resolves the interface index, and a packet socket binds to it, in
	// the calling thread's namespace.
	if err := ns.run(func() error { return c.attachAll(backend, ifaces) }); err != nil {
		return nil, err
	}
	return c, nil
}

// Backend returns the attach method in use.
func (c *Capture) Backend() Backend { return c.backend }

// Interfaces returns the names of the interfaces captured on.
func (c *Capture) Interfaces() []string {
	names := make([]string, len(c.ifaces))
	for i, a := range c.ifaces {
		names[i] = a.name
	}
	return names
}

// loadObjects loads the capture programs (full: the one with bpf_loop,
// else CaptureBasic) and their maps for interfaces whose
// link-layer header is l2len bytes long, with cfg's filter spliced in. If
// share is not nil, its maps are used instead of new ones.
func loadObjects(objs *bpf.CaptureObjects, cfg Config, full bool, ring, l2len, loIndex int, share *bpf.CaptureObjects, progs []string) error {
	load, walk, keep, states := bpf.LoadCaptureBasic, uint8(0), uint32(0), uint32(1)
	if full {
		load = bpf.LoadCapture
	}
	if walks(cfg, full) {
		walk, keep, states = 1, uint32(max(cfg.FrameKeep, 0)), uint32(cfg.FlowStates)
		if states == 0 {
			states = DefaultFlowStates
		}
	}
	spec, err := load()
	if err != nil {
		return fmt.Errorf("load eBPF spec: %w", err)
	}
	spec.Maps[bpf.CaptureMapFlowstate].MaxEntries = states
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("count CPUs: %w", err)
	}
	spec.Maps[bpf.CaptureMapStaging].MaxEntries = uint32(ncpu)
	spec.Maps[bpf.CaptureMapEvents].MaxEntries = uint32(ring)
	all := uint8(0)
	if len(cfg.Ports) == 0 {
		all = 1
	}
	for name, v := range map[string]any{
		bpf.CaptureVarL2Len:           uint32(l2len),
		bpf.CaptureVarMatchAllPorts:   all,
		bpf.CaptureVarLoopbackIfindex: uint32(loIndex),
		bpf.CaptureVarWakeupBytes:     wakeupBytes(ring),
		bpf.CaptureVarFrameWalk:       walk,
		bpf.CaptureVarFrameKeep:       keep,
	} {
		if err := spec.Variables[name].Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	if progs != nil {
		// Each program costs a verifier run: only those attached.
		for name := range spec.Programs {
			if !slices.Contains(progs, name) {
				delete(spec.Programs, name)
			}
		}
	}
	if cfg.Filter != nil {
		body, err := cfg.Filter(l2len)
		if err != nil {
			return err
		}
		for _, prog := range spec.Programs {
			if err := spliceFilter(prog, body); err != nil {
				return err
			}
		}
	}
	var opts ebpf.CollectionOptions
	if share != nil {
		opts.MapReplacements = map[string]*ebpf.Map{
			bpf.CaptureMapEvents:    share.Events,
			bpf.CaptureMapPorts:     share.Ports,
			bpf.CaptureMapStaging:   share.Staging,
			bpf.CaptureMapCounters:  share.Counters,
			bpf.CaptureMapLostTotal: share.LostTotal,
			bpf.CaptureMapFlowstate: share.Flowstate,
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return fmt.Errorf("the kernel's verifier refused the capture program: %w", err)
		}
		return permissionError("load the eBPF capture program", err)
	}
	assignObjects(objs, coll)
	if share == nil {
		for _, p := range cfg.Ports {
			if err := objs.Ports.Put(uint32(p), uint8(1)); err != nil {
				objs.Close()
				return fmt.Errorf("set port %d: %w", p, err)
			}
		}
	}
	return nil
}

// assignObjects moves the maps and programs of coll that objs names into
// it (programs not loaded stay nil) and closes the rest of coll (the
// programs keep what they use).
func assignObjects(objs *bpf.CaptureObjects, coll *ebpf.Collection) {
	take := func(dst **ebpf.Map, name string) {
		*dst = coll.Maps[name]
		delete(coll.Maps, name)
	}
	take(&objs.Events, bpf.CaptureMapEvents)
	take(&objs.Ports, bpf.CaptureMapPorts)
	take(&objs.Staging, bpf.CaptureMapStaging)
	take(&objs.Counters, bpf.CaptureMapCounters)
	take(&objs.LostTotal, bpf.CaptureMapLostTotal)
	take(&objs.Flowstate, bpf.CaptureMapFlowstate)
	for name, dst := range map[string]**ebpf.Program{
		bpf.CaptureProgCaptureIngress: &objs.CaptureIngress,
		bpf.CaptureProgCaptureEgress:  &objs.CaptureEgress,
		bpf.CaptureProgCaptureSocket:  &objs.CaptureSocket,
	} {
		*dst = coll.Programs[name]
		delete(coll.Programs, name)
	}
	coll.Close()
}

// Next blocks until the next captured segment and fills seg with it.
// seg.Payload is valid until the next call. Next returns ErrClosed once
// Interrupt or Close was called, and os.ErrDeadlineExceeded when a deadline
// set with SetDeadline passes.
//
// The kernel wakes the reader when enough records wait or a record finds
// the ring empty (see wakeupBytes); Next polls the ring for the others, at
// PollInterval while records come and less often while none do (see
// PollInterval).
func (c *Capture) Next(seg *capture.Segment) error {
	for {
		// The reader consults its deadline only when the ring is empty, so
		// it is moved only then, not once per record.
		rec, err := c.rd.read()
		if err != nil {
			if errors.Is(err, errRingClosed) {
				return ErrClosed
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.follow.apply(c) // interfaces that came or went, if any
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && (c.deadline.IsZero() || time.Now().Before(c.deadline)) {
				// Our own poll, not the caller's deadline: nothing came
				// since the last one, look less often.
				c.poll = min(2*c.poll, MaxPollInterval)
				c.armPoll()
				continue
			}
			return err
		}
		if c.poll != PollInterval {
			// Records again: poll at the short interval.
			c.poll = PollInterval
			c.armPoll()
		}
		if err := decodeRecord(rec, c.base, seg); err != nil {
			return err
		}
		if !c.dedup.seen(seg) {
			return nil
		}
	}
}

// SetDeadline makes Next return os.ErrDeadlineExceeded at t, when no record
// is waiting. The zero time removes the deadline. Call it from the
// goroutine that calls Next.
func (c *Capture) SetDeadline(t time.Time) {
	c.deadline = t
	c.armPoll()
}

// armPoll sets the reader's deadline to the next poll, or to the caller's
// deadline if that comes first.
func (c *Capture) armPoll() {
	if c.poll == 0 {
		c.poll = PollInterval
	}
	poll := time.Now().Add(c.poll)
	if !c.deadline.IsZero() && c.deadline.Before(poll) {
		poll = c.deadline
	}
	c.rd.setDeadline(poll)
}

// Interrupt makes a pending or future Next return ErrClosed. It is safe to
// call from any goroutine, more than once.
func (c *Capture) Interrupt() {
	if c.rd != nil {
		c.rd.interrupt()
	}
}

// Close detaches the programs from every interface and frees the kernel
// objects. It must not run concurrently with Next.
func (c *Capture) Close() error {
	var errs []error
	c.follow.stop()
	if c.rd != nil {
		errs = append(errs, c.rd.close())
	}
	for _, a := range c.ifaces {
		errs = append(errs, a.close())
	}
	c.ifaces = nil
	for _, objs := range c.sets {
		errs = append(errs, objs.Close())
	}
	c.sets = nil
	errs = append(errs, c.nl.Close(), c.ns.Close())
	return errors.Join(errs...)
}
