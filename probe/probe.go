package probe

import (
	"errors"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/internal/kernel"
	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/procs"
	"github.com/zmtpdump/zmtpdump/unixcap"
)

// Feature is one probed kernel capability: nil Err means available.
type Feature struct {
	Name string
	Err  error
}

// Report is what Run found.
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
	Backend loader.Backend
	// Reason says why capture is impossible when Backend is "".
	Reason string
	// IPC is the mechanism an ipc:// capture (--ipc) would use ("tp_btf
	// sock_send_length (BTF)" or "syscall tracepoints"), "" if it cannot
	// work; IPCReason says why then.
	IPC, IPCReason string
}

// Capability is one Linux capability and whether it is effective.
type Capability = kernel.Capability

// Run checks, by trying each, what this kernel and this process can do.
// It loads and attaches small programs (on lo) and removes them at once.
func Run() Report {
	var r Report
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		r.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	r.Capabilities = kernel.EffectiveCaps()
	_ = rlimitLift()

	ring := kernel.Explain(features.HaveMapType(ebpf.RingBuf))
	add := func(name string, err error) error {
		r.Features = append(r.Features, Feature{name, err})
		return err
	}
	add("BPF ring buffer (Linux 5.8+)", ring)
	sock := add("socket filter programs", probeProgram(ebpf.SocketFilter))
	add("BPF_PROG_TEST_RUN", probeTestRun())
	_, btfErr := btf.LoadKernelSpec()
	add("kernel BTF", btfErr)
	tcx := add("TCX (Linux 6.6+)", loader.ProbeTCX())
	add("kernel-side ZMTP framing (bpf_loop, Linux 5.17+)", loader.ProbeFraming())
	add("kernel counting for -q (bpf_loop and TCX, Linux 6.6+)", loader.ProbeCounting())
	add("process attribution (BTF tracepoint programs, Linux 5.5+)", probeProcesses())
	if m, err := unixcap.Probe(); err != nil {
		add("ipc:// capture", err)
		r.IPCReason = err.Error()
	} else {
		add("ipc:// capture ("+string(m)+")", nil)
		r.IPC = string(m)
	}
	r.Lockdown = kernel.Lockdown()

	switch {
	case errors.Is(ring, kernel.ErrPermission):
		r.Reason = ring.Error()
	case ring != nil:
		r.Reason = "no BPF ring buffer: " + ring.Error()
	case tcx == nil:
		r.Backend = loader.TCX
	case sock == nil:
		r.Backend = loader.Socket
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
		return kernel.Explain(err)
	}
	return p.Close()
}

func probeTestRun() error {
	p, err := ebpf.NewProgram(trivial(ebpf.SocketFilter))
	if err != nil {
		return kernel.Explain(err)
	}
	defer p.Close()
	_, err = p.Run(&ebpf.RunOptions{Data: make([]byte, 64)})
	return kernel.Explain(err)
}

// probeProcesses opens and closes a procs.Tracker.
func probeProcesses() error {
	t, err := procs.Open()
	if err != nil {
		return err
	}
	return t.Close()
}
