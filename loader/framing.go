package loader

import (
	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"

	"github.com/zmtpdump/zmtpdump/internal/kernel"
)

// Framing reports whether kernel-side framing is on (see Config.FrameKeep).
func (c *Capture) Framing() bool { return c.framing }

// Marks reports whether the kernel walks ZMTP frames and marks their
// boundaries in Segment.Boundary (Config.Marks or Config.FrameKeep, on a
// kernel with bpf_loop), so that Join can work. It is false on kernels
// without bpf_loop, which load a program that cannot walk.
func (c *Capture) Marks() bool { return c.marks }

// walks reports whether the program loaded for cfg (full: with bpf_loop)
// walks frames.
func walks(cfg Config, full bool) bool { return full && (cfg.FrameKeep > 0 || cfg.Marks) }

// haveLoop reports whether the kernel offers bpf_loop to TC and socket
// filter programs, which kernel-side framing needs.
func haveLoop() bool { return ProbeFraming() == nil }

// ProbeFraming reports whether bpf_loop, which kernel-side framing and
// Marks need, is there for TC and socket filter programs; without it a
// capture loads the program that ships whole payloads and walks nothing.
func ProbeFraming() error {
	for _, t := range []ebpf.ProgramType{ebpf.SchedCLS, ebpf.SocketFilter} {
		if err := features.HaveProgramHelper(t, asm.FnLoop); err != nil {
			return kernel.Explain(err)
		}
	}
	return nil
}
