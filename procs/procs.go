package procs

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/internal/kernel"
)

// Process is the owner of one end of a TCP connection on this host: the
// process that connected its socket, or accepted it.
type Process struct {
	// PID is the process id (thread group id) as the initial PID namespace
	// numbers it: the host's, not a container's.
	PID int
	// Comm is the process's command name, at most 15 bytes (the kernel's
	// task comm of its main thread).
	Comm string
	// CgroupID is the cgroup v2 id of the thread that made the call.
	CgroupID uint64
	// Cgroup is that cgroup's path, "" if it could not be found.
	Cgroup string
	// ContainerID is the 64-hex-digit container id found in Cgroup
	// (Docker, containerd, CRI-O, Podman), "" if none.
	ContainerID string
	// Netns is the inode number of the socket's network namespace.
	Netns uint32
	// Cookie is the socket's cookie, unique for the kernel's lifetime.
	Cookie uint64
	// Server is true for the end that accepted the connection, false for
	// the end that connected.
	Server bool
	// Since is when the socket connected or was accepted.
	Since time.Time
}

// Tracker records which process owns each end of the TCP connections
// made on this host, in every network namespace, from the moment it is
// opened. The connecting end is credited to the process that
// called connect(2); the accepting end to the process that called listen(2)
// on the listener it came from, or, where the kernel allows fexit programs,
// to the one that accepted it. Its methods are safe for concurrent use.
type Tracker struct {
	coll    *ebpf.Collection
	conns   *ebpf.Map
	links   []link.Link
	cgroups *cgroupIndex
	base    time.Time
	// acceptProg is fexit/inet_accept where the kernel took it; accept
	// reports it attached.
	acceptProg *ebpf.Program
	accept     bool
}

// DefaultEntries is how many connection ends a Tracker remembers; the
// least recently used make room for new ones.
const DefaultEntries = 65536

// ErrUnavailable wraps the reasons process attribution cannot run here:
// no kernel BTF (CONFIG_DEBUG_INFO_BTF), no BTF tracepoint programs
// (Linux 5.5+), or missing privileges.
var ErrUnavailable = errors.New("process attribution unavailable")

// Role values of struct owner in bpf/procs.c.
const (
	roleListen = 2
	roleAccept = 3
)

// loadAccept loads the fexit/inet_accept program of spec alone, with the
// maps of coll; nil if the kernel refuses it.
func loadAccept(spec *ebpf.CollectionSpec, coll *ebpf.Collection, opts ebpf.CollectionOptions) *ebpf.Program {
	for name := range spec.Programs {
		if name != bpf.ProcsProgProcsAccept {
			delete(spec.Programs, name)
		}
	}
	opts.MapReplacements = coll.Maps
	c, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		return nil
	}
	p := c.Programs[bpf.ProcsProgProcsAccept]
	delete(c.Programs, bpf.ProcsProgProcsAccept)
	c.Close()
	return p
}

// Open loads and attaches the programs of bpf/procs.c.
// Connections opened before it returns are not known to it, nor are those
// accepted from listeners opened before it, unless fexit works here. It
// needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); every failure wraps
// ErrUnavailable. The caller must Close it.
func Open() (t *Tracker, err error) {
	fail := func(what string, err error) error {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			if m := kernel.MissingCaps("CAP_BPF", "CAP_PERFMON"); m != "" {
				return fmt.Errorf("%w: %s: permission denied (needs CAP_BPF and CAP_PERFMON); missing %s", ErrUnavailable, what, m)
			}
		}
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, kernel.Explain(err))
	}
	// The kernel's BTF is decoded once, in a cache both loads below share
	// (decoding it is the largest part of zmtpdump's start-up cost).
	cache := btf.NewCache()
	if _, err := cache.Kernel(); err != nil {
		return nil, fail("kernel BTF (CONFIG_DEBUG_INFO_BTF)", err)
	}
	opts := ebpf.CollectionOptions{Cache: cache}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fail("lift the locked-memory limit", err)
	}
	spec, err := bpf.LoadProcs()
	if err != nil {
		return nil, fmt.Errorf("load eBPF spec: %w", err)
	}
	spec.Maps[bpf.ProcsMapConns].MaxEntries = DefaultEntries
	t = &Tracker{cgroups: newCgroupIndex(cgroupRoot())}
	// fexit/inet_accept is a refinement: some kernels refuse fentry and
	// fexit (no trampolines, or a security policy) while they take BTF
	// tracepoints. Without it the listener's owner stands for the
	// accepting process. It is loaded on its own, after the rest, so that
	// a refusal costs no second load of everything.
	acceptSpec := spec.Copy()
	delete(spec.Programs, bpf.ProcsProgProcsAccept)
	t.coll, err = ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return nil, fmt.Errorf("%w: the kernel's verifier refused the process tracker: %w", ErrUnavailable, err)
		}
		return nil, fail("load the process tracker", err)
	}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	t.acceptProg = loadAccept(acceptSpec, t.coll, opts)
	t.conns = t.coll.Maps[bpf.ProcsMapConns]
	l, err := link.AttachTracing(link.TracingOptions{Program: t.coll.Programs[bpf.ProcsProgProcsState]})
	if err != nil {
		return nil, fail("attach to the sock:inet_sock_set_state tracepoint", err)
	}
	t.links = append(t.links, l)
	if t.acceptProg != nil {
		l, err := link.AttachTracing(link.TracingOptions{Program: t.acceptProg})
		if err == nil {
			t.accept = true
			t.links = append(t.links, l)
		}
	}
	if t.base, err = kernel.MonotonicBase(); err != nil {
		return nil, err
	}
	return t, nil
}

// SeesAccept reports whether the tracker credits accepted sockets to the
// process that accepted them (fexit works here); if not, to the process
// that listened.
func (t *Tracker) SeesAccept() bool { return t.accept }

// Lookup returns the owner of the socket whose local end is local and
// remote end remote, if it is on this host and connected or was accepted
// since the tracker opened. An IPv4-mapped IPv6 address matches its IPv4
// form.
//
// Entries are keyed by addresses and ports alone: two sockets with the
// same four in two network namespaces (127.0.0.1 in two pods, say) share
// one entry, the latest.
func (t *Tracker) Lookup(local, remote netip.AddrPort) (*Process, bool) {
	var k bpf.ProcsConnKey
	if !fillKey(&k, local, remote) {
		return nil, false
	}
	var o bpf.ProcsOwner
	if err := t.conns.Lookup(&k, &o); err != nil {
		return nil, false
	}
	p := &Process{
		PID:      int(o.Tgid),
		Comm:     commString(o.Comm),
		CgroupID: o.CgroupId,
		Netns:    o.Netns,
		Cookie:   o.Cookie,
		Server:   o.Role == roleListen || o.Role == roleAccept,
		Since:    t.base.Add(time.Duration(o.TsNs)),
	}
	p.Cgroup = t.cgroups.path(o.CgroupId, p.PID)
	p.ContainerID = ContainerID(p.Cgroup)
	return p, true
}

// Ends returns the owners of both ends of the connection between a and b:
// aOwner owns the socket at a (talking to b), bOwner the one at b. Either is
// nil when that end is not on this host or is unknown.
func (t *Tracker) Ends(a, b netip.AddrPort) (aOwner, bOwner *Process) {
	aOwner, _ = t.Lookup(a, b)
	bOwner, _ = t.Lookup(b, a)
	return aOwner, bOwner
}

// Close detaches the programs and frees the map.
func (t *Tracker) Close() error {
	var errs []error
	for _, l := range t.links {
		errs = append(errs, l.Close())
	}
	t.links = nil
	if t.acceptProg != nil {
		errs = append(errs, t.acceptProg.Close())
		t.acceptProg = nil
	}
	if t.coll != nil {
		t.coll.Close()
		t.coll = nil
	}
	return errors.Join(errs...)
}

func fillKey(k *bpf.ProcsConnKey, local, remote netip.AddrPort) bool {
	la, ra := local.Addr().Unmap(), remote.Addr().Unmap()
	switch {
	case la.Is4() && ra.Is4():
		k.Family = 4
		l4, r4 := la.As4(), ra.As4()
		copy(k.Laddr[:], l4[:])
		copy(k.Raddr[:], r4[:])
	case la.Is6() && ra.Is6():
		k.Family = 6
		k.Laddr, k.Raddr = la.As16(), ra.As16()
	default:
		return false
	}
	k.Lport, k.Rport = local.Port(), remote.Port()
	return true
}

func commString(c [16]int8) string {
	b := make([]byte, 0, len(c))
	for _, v := range c {
		if v == 0 {
			break
		}
		b = append(b, byte(v))
	}
	return string(b)
}

// cgroupRoot is where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup,
// or /sys/fs/cgroup/unified on a hybrid (v1 and v2) system.
func cgroupRoot() string {
	const root = "/sys/fs/cgroup"
	if _, err := os.Stat(root + "/cgroup.controllers"); err == nil {
		return root
	}
	if _, err := os.Stat(root + "/unified/cgroup.procs"); err == nil {
		return root + "/unified"
	}
	return root
}

// ContainerID extracts a container id from a cgroup path: the last path
// element holding 64 hex digits, bare (cgroupfs driver:
// /kubepods/besteffort/pod<uid>/<id>, /docker/<id>) or as a systemd scope
// (/system.slice/docker-<id>.scope, .../cri-containerd-<id>.scope,
// crio-<id>.scope, libpod-<id>.scope). It returns "" if there is none.
func ContainerID(cgroup string) string {
	elems := strings.Split(cgroup, "/")
	for i := len(elems) - 1; i >= 0; i-- {
		e := strings.TrimSuffix(elems[i], ".scope")
		if j := strings.LastIndexByte(e, '-'); j >= 0 {
			e = e[j+1:]
		}
		if isContainerID(e) {
			return e
		}
	}
	return ""
}

func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
