package loader

import (
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// maxSocketInsns bounds the socket filter program's size: Linux before 6.x
// charges a socket filter (all its subprograms, as the kernel rewrote
// them) to the socket's option memory, and Debian 12's optmem_max is
// 20 KiB: a program of more than about 2,500 instructions fails at
// SO_ATTACH_BPF with ENOMEM (FINDINGS.md). The margin leaves room for the
// user's filter expression, spliced in at load time. On 6.18 the program
// has 1,728 (1,647 before the SYN's window scale walk, bpf_loop inlined
// included; 1,767 once records carried counts); CaptureBasic's, 1,165
// (905), its walk unrolled. Count mode's program (CaptureCount) is larger
// (TestCountProgramSize: 2,522 on 6.18, the verifier walking 38,000): the
// socket backend never loads it. 1,769 since the two ship_span call sites
// of a kept header became one (the verifier walks 15,200 to accept it).
const maxSocketInsns = 1800

// maxVerified bounds the instructions the verifier walks to accept the
// socket filter program, its work: about 13,900 with framing and 13,600
// walking for marks only on 6.18 as loadTestProgram loads it (15,100 and
// 14,700 before the window scale walk, which moved the verifier's pruning
// points; 11,277 before marks; about 39,500 in a first version that copied the mark at each of
// ship_piece's call sites, which took some 20 s to load on 6.1 in qemu).
// 6.1's verifier prunes less: 58,690 and 57,152 there (this test run in
// qemu), so older kernels get a bound of their own.
func maxVerified() int {
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		var major, minor int
		if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor); err == nil && major*100+minor < 606 {
			return 80000
		}
	}
	return 25000
}

// TestSocketProgramSize loads the socket filter program in its largest
// form (kernel-side framing, which walks and marks) and checks its size as
// this kernel rewrote it. 6.1 rewrites a little differently: `make
// check-kernels` attaches it there.
func TestSocketProgramSize(t *testing.T) {
	requireBPF(t)
	for _, cfg := range []Config{{Marks: true}, {FrameKeep: 64}} {
		p := loadTestProgram(t, cfg, true, 0, 1, 1<<16)
		info, err := p.objs.CaptureSocket.Info()
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := info.VerifiedInstructions(); ok {
			t.Logf("%+v: the verifier walked %d instructions", cfg, v)
			if limit := maxVerified(); int(v) > limit {
				t.Errorf("%+v: the verifier walked %d instructions, more than %d: loading slows down (6.1 in qemu)", cfg, v, limit)
			}
		}
	}
	p := loadTestProgram(t, Config{Ports: []uint16{7001}, FrameKeep: 64}, true, 0, 1, 1<<16)
	info, err := p.objs.CaptureSocket.Info()
	if err != nil {
		t.Fatal(err)
	}
	insns, err := info.Instructions()
	if err != nil {
		skip.Unavailable(t, "this kernel does not show rewritten programs: %v", err)
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

// TestCountProgramSize checks the reason the socket backend refuses count
// mode (Capture.CountOnly): count mode's program (CaptureCount) as a
// socket filter exceeds maxSocketInsns. It fails the day it fits (review T2).
func TestCountProgramSize(t *testing.T) {
	requireBPF(t)
	p := loadTestProgram(t, Config{Ports: []uint16{7001}, FrameKeep: 64, CountOnly: true}, true, 0, 1, 1<<16)
	info, err := p.objs.CaptureSocket.Info()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := info.VerifiedInstructions(); ok {
		t.Logf("count mode: the verifier walked %d instructions", v)
	}
	insns, err := info.Instructions()
	if err != nil {
		skip.Unavailable(t, "this kernel does not show rewritten programs: %v", err)
	}
	n := 0
	for _, in := range insns {
		n += int(in.Size()) / 8
	}
	t.Logf("count mode's program as a socket filter: %d instructions (%d bytes), budget %d", n, 8*n, maxSocketInsns)
	if n <= maxSocketInsns {
		// The reason the socket backend refuses count mode is gone:
		// let it run count mode (ProbeCounting, CountOnly), then drop
		// this test.
		t.Errorf("count mode's program fits the socket filter budget now (%d of %d instructions): the socket backend could run it (see Capture.CountOnly)", n, maxSocketInsns)
	}
}
