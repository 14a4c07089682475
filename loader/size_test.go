package loader

import (
	"testing"
)

// maxSocketInsns bounds the socket filter program's size: Linux before 6.x
// charges a socket filter (all its subprograms, as the kernel rewrote
// them) to the socket's option memory, and Debian 12's optmem_max is
// 20 KiB: a program of more than about 2,500 instructions fails at
// SO_ATTACH_BPF with ENOMEM (FINDINGS.md). The margin leaves room for the
// user's filter expression, spliced in at load time.
const maxSocketInsns = 1800

// TestSocketProgramSize loads the socket filter program in its largest
// form (kernel-side framing, which walks and marks) and checks its size as
// this kernel rewrote it. 6.1 rewrites a little differently: `make
// check-kernels` attaches it there.
func TestSocketProgramSize(t *testing.T) {
	requireBPF(t)
	p := loadTestProgram(t, Config{Ports: []uint16{7001}, FrameKeep: 64}, true, 0, 1, 1<<16)
	info, err := p.objs.CaptureSocket.Info()
	if err != nil {
		t.Fatal(err)
	}
	insns, err := info.Instructions()
	if err != nil {
		t.Skipf("this kernel does not show rewritten programs: %v", err)
	}
	n := 0
	for _, in := range insns {
		n += int(in.Size()) / 8
	}
	t.Logf("socket filter program: %d instructions (%d bytes)", n, 8*n)
	if n > maxSocketInsns {
		t.Errorf("socket filter program: %d instructions, more than %d: it may not attach on Debian 12 (optmem_max 20 KiB)", n, maxSocketInsns)
	}
}
