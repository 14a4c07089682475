package loader

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/rlimit"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/internal/kernel"
)

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
	// aliases: count mode's directions seen on several interfaces (alias.go).
	aliases countAliases
	// EachDirCounts' buffers; noBatch: the kernel refused batch lookups.
	batchKeys []bpf.CaptureFlowKey
	batchVals []bpf.CaptureFlowState
	noBatch   bool
	// woken is set by Wake: the next read deadline is the caller's.
	woken atomic.Bool
	// follow: the interfaces are AnyInterface's, followed as they come and
	// go (see follow.go).
	follow follow
	// cfg (with defaults) and loIndex load the programs for a link-layer
	// header length first seen on an interface that came up later.
	cfg     Config
	loIndex int
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
	// counting: count mode is on (see CountOnly); countAsked:
	// Config.CountOnly asked for it.
	counting, countAsked bool
}

// Open checks the kernel, loads the capture program, attaches it to every
// interface in cfg and starts reading. The caller must Close the Capture.
func Open(cfg Config) (c *Capture, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
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

// openWithIfaces is Open once the interfaces are known: cfg has its
// defaults, loIndex is the loopback interface's index in their namespace,
// nl (owned by the Capture from now on) lists that namespace's interfaces.
func openWithIfaces(cfg Config, ifaces []iface, loIndex int, nl *linkSocket) (c *Capture, err error) {
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
		cfg: cfg, loIndex: loIndex}
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
	backend := cfg.Backend
	if backend == Auto {
		switch err := ProbeTCX(); {
		case err == nil:
			backend = TCX
		case errors.Is(err, ebpf.ErrNotSupported):
			backend = Socket
		}
	}
	c.countAsked = cfg.CountOnly
	if backend != TCX {
		// See CountOnly: the socket filter has no room for count mode.
		c.cfg.CountOnly = false
	}
	c.counting = counts(c.cfg, c.full)
	if err := c.loadSets(backend, ifaces); err != nil {
		return nil, err
	}

	// Record the clock offset before any packet can arrive.
	c.base, err = kernel.MonotonicBase()
	if err != nil {
		return nil, err
	}
	if c.rd, err = newRing(c.first.Events, cfg.RingSize); err != nil {
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
