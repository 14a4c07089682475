package loader

import (
	"errors"
	"fmt"
	"net"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/internal/kernel"
)

// The TCX backend (Linux 6.6+): the TC programs hooked to an interface's
// ingress and egress with TCX links, owned by file descriptors of this
// process.

// attachTCX hooks the programs to the interface with TCX links. A loopback
// packet crosses lo's egress and then its ingress: hooking egress alone
// sees it exactly once, and in the order the sender sent it (ingress on lo
// can reorder a connection's packets: each CPU has its own backlog).
func (a *attachment) attachTCX(objs *bpf.CaptureObjects) error {
	type hook struct {
		prog *ebpf.Program
		at   ebpf.AttachType
	}
	hooks := []hook{{objs.CaptureEgress, ebpf.AttachTCXEgress}}
	if !a.loopback {
		hooks = append(hooks, hook{objs.CaptureIngress, ebpf.AttachTCXIngress})
	}
	for _, h := range hooks {
		l, err := link.AttachTCX(link.TCXOptions{Interface: a.index, Program: h.prog, Attach: h.at})
		if err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				return fmt.Errorf("attach to %s: this kernel has no TCX (needs Linux 6.6 or later; try --backend socket): %w", quoteName(a.name), err)
			}
			return permissionError("attach to "+quoteName(a.name), err)
		}
		a.links = append(a.links, l)
	}
	return nil
}

// ProbeTCX reports whether the TCX backend works here: it attaches a
// do-nothing program to lo's ingress with a TCX link and detaches it. It
// returns an error wrapping ebpf.ErrNotSupported on a kernel without TCX.
func ProbeTCX() error {
	spec := &ebpf.ProgramSpec{Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()}} // TCX_NEXT
	p, err := ebpf.NewProgram(spec)
	if err != nil {
		return kernel.Explain(err)
	}
	defer p.Close()
	l, err := link.AttachTCX(link.TCXOptions{Interface: loopbackIndex(), Program: p, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		return kernel.Explain(err)
	}
	return l.Close()
}

// loopbackIndex returns the index of this process's loopback interface,
// for ProbeTCX.
func loopbackIndex() int {
	all, err := net.Interfaces()
	if err == nil {
		for _, ni := range all {
			if ni.Flags&net.FlagLoopback != 0 {
				return ni.Index
			}
		}
	}
	return 1
}
