package loader

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/capture"
)

// DefaultRingSize is the ring buffer size used when Config.RingSize is 0.
const DefaultRingSize = 8 << 20

// Config says what to capture and where.
type Config struct {
	// Interfaces to attach to, by name.
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
}

// Stats are the kernel's counters, summed over CPUs.
type Stats struct {
	// Matched counts packets that matched the filter.
	Matched uint64
	// Lost counts matched packets dropped because the ring buffer was full.
	Lost uint64
	// Cut counts packets whose payload exceeded what one record holds.
	Cut uint64
	// LoadErrors counts packets whose payload could not be read.
	LoadErrors uint64
}

// Counter indices, as enum counter in bpf/capture.c.
const (
	cntMatched = iota
	cntRingFull
	cntCut
	cntLoadErr
)

// ErrClosed is returned by Next after Interrupt or Close.
var ErrClosed = errors.New("capture closed")

// Capture is a running kernel capture. Next must be called from one
// goroutine; Interrupt may be called from any goroutine to make Next return
// ErrClosed.
type Capture struct {
	objs  bpf.CaptureObjects
	links []link.Link
	rd    *ringbuf.Reader
	rec   ringbuf.Record
	// base is the wall-clock time at which CLOCK_MONOTONIC was zero.
	base time.Time
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
	if len(cfg.Interfaces) == 0 {
		return nil, errors.New("no interface given")
	}
	ifaces := make([]iface, 0, len(cfg.Interfaces))
	for _, name := range cfg.Interfaces {
		ifc, err := lookupInterface(name)
		if err != nil {
			return nil, err
		}
		ifaces = append(ifaces, ifc)
	}
	for _, ifc := range ifaces[1:] {
		if ifc.l2len != ifaces[0].l2len {
			return nil, fmt.Errorf("interfaces %s and %s have different link-layer headers: capture them separately", ifaces[0].name, ifc.name)
		}
	}

	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, permissionError("lift the locked-memory limit", err)
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("this kernel has no BPF ring buffer (needs Linux 5.8 or later): %w", err)
		}
		return nil, permissionError("probe for BPF ring buffers", err)
	}

	c = &Capture{}
	if err := loadObjects(&c.objs, cfg, ring, ifaces[0].l2len); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	// Record the clock offset before any packet can arrive.
	c.base, err = monotonicBase()
	if err != nil {
		return nil, err
	}
	if c.rd, err = ringbuf.NewReader(c.objs.Events); err != nil {
		return nil, fmt.Errorf("open ring buffer reader: %w", err)
	}
	for _, ifc := range ifaces {
		if err := c.attach(ifc); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// loadObjects loads the capture program and its maps for interfaces whose
// link-layer header is l2len bytes long, with cfg's filter spliced in.
func loadObjects(objs *bpf.CaptureObjects, cfg Config, ring, l2len int) error {
	spec, err := bpf.LoadCapture()
	if err != nil {
		return fmt.Errorf("load eBPF spec: %w", err)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("count CPUs: %w", err)
	}
	spec.Maps[bpf.CaptureMapStaging].MaxEntries = uint32(ncpu)
	spec.Maps[bpf.CaptureMapEvents].MaxEntries = uint32(ring)
	if err := spec.Variables[bpf.CaptureVarL2Len].Set(uint32(l2len)); err != nil {
		return fmt.Errorf("set l2_len: %w", err)
	}
	all := uint8(0)
	if len(cfg.Ports) == 0 {
		all = 1
	}
	if err := spec.Variables[bpf.CaptureVarMatchAllPorts].Set(all); err != nil {
		return fmt.Errorf("set match_all_ports: %w", err)
	}
	if cfg.Filter != nil {
		body, err := cfg.Filter(l2len)
		if err != nil {
			return err
		}
		for _, name := range []string{bpf.CaptureProgCaptureIngress, bpf.CaptureProgCaptureEgress} {
			if err := spliceFilter(spec.Programs[name], body); err != nil {
				return err
			}
		}
	}
	if err := spec.LoadAndAssign(objs, nil); err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return fmt.Errorf("the kernel's verifier refused the capture program: %w", err)
		}
		return permissionError("load the eBPF capture program", err)
	}
	for _, p := range cfg.Ports {
		if err := objs.Ports.Put(uint32(p), uint8(1)); err != nil {
			objs.Close()
			return fmt.Errorf("set port %d: %w", p, err)
		}
	}
	return nil
}

// attach hooks the program to one interface. A loopback packet crosses lo's
// egress and then its ingress: hooking ingress alone sees it exactly once.
func (c *Capture) attach(ifc iface) error {
	hooks := []struct {
		prog *ebpf.Program
		at   ebpf.AttachType
	}{{c.objs.CaptureIngress, ebpf.AttachTCXIngress}}
	if !ifc.loopback {
		hooks = append(hooks, struct {
			prog *ebpf.Program
			at   ebpf.AttachType
		}{c.objs.CaptureEgress, ebpf.AttachTCXEgress})
	}
	for _, h := range hooks {
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.index, Program: h.prog, Attach: h.at})
		if err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				return fmt.Errorf("attach to %s: this kernel has no TCX (needs Linux 6.6 or later): %w", ifc.name, err)
			}
			return permissionError("attach to "+ifc.name, err)
		}
		c.links = append(c.links, l)
	}
	return nil
}

// Next blocks until the next captured segment and fills seg with it.
// seg.Payload is valid until the next call. Next returns ErrClosed once
// Interrupt or Close was called, and os.ErrDeadlineExceeded when a deadline
// set with SetDeadline passes.
func (c *Capture) Next(seg *capture.Segment) error {
	if err := c.rd.ReadInto(&c.rec); err != nil {
		if errors.Is(err, ringbuf.ErrClosed) {
			return ErrClosed
		}
		return err
	}
	return decodeRecord(c.rec.RawSample, c.base, seg)
}

// SetDeadline makes a blocked Next return os.ErrDeadlineExceeded at t. The
// zero time removes the deadline.
func (c *Capture) SetDeadline(t time.Time) { c.rd.SetDeadline(t) }

// Interrupt makes a pending or future Next return ErrClosed. It is safe to
// call from any goroutine, more than once.
func (c *Capture) Interrupt() {
	if c.rd != nil {
		c.rd.Close()
	}
}

// Stats reads the kernel's counters.
func (c *Capture) Stats() (Stats, error) {
	var s Stats
	for _, k := range []struct {
		idx uint32
		dst *uint64
	}{{cntMatched, &s.Matched}, {cntRingFull, &s.Lost}, {cntCut, &s.Cut}, {cntLoadErr, &s.LoadErrors}} {
		var per []uint64
		if err := c.objs.Counters.Lookup(k.idx, &per); err != nil {
			return s, fmt.Errorf("read kernel counter %d: %w", k.idx, err)
		}
		dst := k.dst
		for _, v := range per {
			*dst += v
		}
	}
	return s, nil
}

// Close detaches the program from every interface and frees the kernel
// objects. It must not run concurrently with Next.
func (c *Capture) Close() error {
	var errs []error
	if c.rd != nil {
		errs = append(errs, c.rd.Close())
	}
	for _, l := range c.links {
		errs = append(errs, l.Close())
	}
	c.links = nil
	errs = append(errs, c.objs.Close())
	return errors.Join(errs...)
}

// iface is an interface to attach to.
type iface struct {
	name     string
	index    int
	l2len    int
	loopback bool
}

// Link types from include/uapi/linux/if_arp.h.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
	arphrdNone     = 65534
)

func lookupInterface(name string) (iface, error) {
	ni, err := net.InterfaceByName(name)
	if err != nil {
		return iface{}, fmt.Errorf("unknown interface %q: %w", name, err)
	}
	ifc := iface{name: name, index: ni.Index, loopback: ni.Flags&net.FlagLoopback != 0}
	raw, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return iface{}, fmt.Errorf("read link type of %s: %w", name, err)
	}
	typ, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return iface{}, fmt.Errorf("link type of %s: %w", name, err)
	}
	switch typ {
	case arphrdEther, arphrdLoopback:
		ifc.l2len = 14
	case arphrdNone:
		ifc.l2len = 0
	default:
		return iface{}, fmt.Errorf("interface %s has link type %d, which zmtpdump cannot parse yet", name, typ)
	}
	return ifc, nil
}

// monotonicBase returns the wall-clock time at which CLOCK_MONOTONIC, the
// clock of bpf_ktime_get_ns, read zero.
func monotonicBase() (time.Time, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Time{}, fmt.Errorf("read CLOCK_MONOTONIC: %w", err)
	}
	return time.Now().Add(-time.Duration(ts.Nano())), nil
}

// ErrPermission marks errors caused by missing privileges.
var ErrPermission = errors.New("permission denied: run as root, or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON")

// permissionError turns EPERM and EACCES into ErrPermission with context.
func permissionError(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%s: %w (%v)", what, ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
