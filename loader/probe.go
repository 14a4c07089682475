package loader

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// Feature is one probed kernel capability: nil Err means available.
type Feature struct {
	Name string
	Err  error
}

// Report is what Probe found.
type Report struct {
	// Kernel is the running kernel's release, for display only: decisions
	// are taken from the probes, never from the version.
	Kernel string
	// Features in display order.
	Features []Feature
	// Capabilities lists the relevant capabilities and whether this process
	// holds them.
	Capabilities []Capability
	// Lockdown is the kernel lockdown mode ("none" when off, "" when the
	// kernel does not say). The capture program uses no helper that
	// lockdown forbids: it works in every mode (tested in confidentiality).
	Lockdown string
	// Backend is what a capture would use, "" if none works.
	Backend Backend
	// Reason says why capture is impossible when Backend is "".
	Reason string
}

// Capability is one Linux capability and whether it is effective.
type Capability struct {
	Name string
	Held bool
}

// Capabilities zmtpdump needs (from include/uapi/linux/capability.h).
var capNumbers = []struct {
	name string
	bit  uint
}{{"CAP_NET_ADMIN", 12}, {"CAP_NET_RAW", 13}, {"CAP_SYS_ADMIN", 21}, {"CAP_PERFMON", 38}, {"CAP_BPF", 39}}

// Probe checks, by trying each, what this kernel and this process can do.
// It loads and attaches small programs (on lo) and removes them at once.
func Probe() Report {
	var r Report
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		r.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	r.Capabilities = effectiveCaps()
	_ = rlimitLift()

	ring := explain(features.HaveMapType(ebpf.RingBuf))
	add := func(name string, err error) error {
		r.Features = append(r.Features, Feature{name, err})
		return err
	}
	add("BPF ring buffer (Linux 5.8+)", ring)
	sock := add("socket filter programs", probeProgram(ebpf.SocketFilter))
	add("BPF_PROG_TEST_RUN", probeTestRun())
	_, btfErr := btf.LoadKernelSpec()
	add("kernel BTF", btfErr)
	tcx := add("TCX (Linux 6.6+)", probeTCX())
	add("kernel-side ZMTP framing (bpf_loop, Linux 5.17+)", probeLoop())
	add("process attribution (BTF tracepoint programs, Linux 5.5+)", probeProcesses())
	r.Lockdown = lockdown()

	switch {
	case errors.Is(ring, ErrPermission):
		r.Reason = ring.Error()
	case ring != nil:
		r.Reason = "no BPF ring buffer: " + ring.Error()
	case tcx == nil:
		r.Backend = TCX
	case sock == nil:
		r.Backend = Socket
	default:
		r.Reason = "neither TCX nor socket filters can be used: " + sock.Error()
	}
	return r
}

func rlimitLift() error {
	return unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY})
}

// trivial returns a program that returns 0.
func trivial(t ebpf.ProgramType) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{Type: t, License: "GPL", Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}}
}

func probeProgram(t ebpf.ProgramType) error {
	p, err := ebpf.NewProgram(trivial(t))
	if err != nil {
		return explain(err)
	}
	return p.Close()
}

func probeTestRun() error {
	p, err := ebpf.NewProgram(trivial(ebpf.SocketFilter))
	if err != nil {
		return explain(err)
	}
	defer p.Close()
	_, err = p.Run(&ebpf.RunOptions{Data: make([]byte, 64)})
	return explain(err)
}

// probeTCX attaches a do-nothing program to lo's ingress with TCX and
// detaches it.
func probeTCX() error {
	spec := trivial(ebpf.SchedCLS)
	spec.Instructions = asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()} // TCX_NEXT
	p, err := ebpf.NewProgram(spec)
	if err != nil {
		return explain(err)
	}
	defer p.Close()
	l, err := link.AttachTCX(link.TCXOptions{Interface: loopbackIndex(), Program: p, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		return explain(err)
	}
	return l.Close()
}

// probeLoop reports whether bpf_loop, which kernel-side framing needs, is
// there for TC and socket filter programs.
func probeLoop() error {
	for _, t := range []ebpf.ProgramType{ebpf.SchedCLS, ebpf.SocketFilter} {
		if err := features.HaveProgramHelper(t, asm.FnLoop); err != nil {
			return explain(err)
		}
	}
	return nil
}

// probeProcesses opens and closes a ProcessTracker.
func probeProcesses() error {
	t, err := OpenProcessTracker()
	if err != nil {
		return err
	}
	return t.Close()
}

// explain shortens the usual failures.
func explain(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("not supported by this kernel: %w", err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		if m := missingCaps(); m != "" {
			return fmt.Errorf("%w; missing %s", ErrPermission, m)
		}
		return fmt.Errorf("%w (%v)", ErrPermission, err)
	}
	return err
}

// missingCaps names the capabilities a capture needs that this process
// lacks ("" if none): CAP_BPF to load programs and maps, CAP_NET_ADMIN to
// attach them; CAP_SYS_ADMIN stands in for both, as it does in the kernel.
// (CAP_PERFMON only relaxes the verifier's Spectre rules, which the capture
// program does not need: measured on 6.18. The process tracker's tracing
// program does need it.)
func missingCaps() string { return missingCapsOf("CAP_BPF", "CAP_NET_ADMIN") }

// missingCapsOf names those of the capabilities that this process lacks,
// "" if it holds CAP_SYS_ADMIN or them all.
func missingCapsOf(names ...string) string {
	held := make(map[string]bool)
	for _, c := range effectiveCaps() {
		held[c.Name] = c.Held
	}
	if held["CAP_SYS_ADMIN"] {
		return ""
	}
	var missing []string
	for _, name := range names {
		if !held[name] {
			missing = append(missing, name)
		}
	}
	return strings.Join(missing, ", ")
}

// effectiveCaps reads this process's effective capabilities.
func effectiveCaps() []Capability {
	var eff uint64
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
				eff, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			}
		}
		f.Close()
	}
	caps := make([]Capability, len(capNumbers))
	for i, c := range capNumbers {
		caps[i] = Capability{c.name, eff&(1<<c.bit) != 0}
	}
	return caps
}

// lockdown returns the kernel lockdown mode, "" if it cannot be read.
func lockdown() string {
	b, err := os.ReadFile("/sys/kernel/security/lockdown")
	if err != nil {
		return ""
	}
	// The active mode is in brackets: "none [integrity] confidentiality".
	s := string(b)
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return ""
	}
	return s[i+1 : j]
}
