package filter

import (
	"errors"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// needBPF skips unless we may load BPF programs (root); with
// ZMTPDUMP_REQUIRE_E2E=1 it fails instead.
func needBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	skip.Unavailable(t, "eBPF tests need root (BPF_PROG_LOAD and BPF_PROG_TEST_RUN, kernel >= 5.1 for JMP32)")
}

// loadWrapped loads a program of type typ that calls the filter as a
// BPF-to-BPF function and returns its result, the way bpf/capture.c calls
// zd_filter.
func loadWrapped(t *testing.T, p *Program, typ ebpf.ProgramType) *ebpf.Program {
	t.Helper()
	fn, err := p.EBPF(Symbol)
	if err != nil {
		t.Fatal(err)
	}
	insns := asm.Instructions{
		asm.Call.Label(Symbol).WithSymbol("wrapper"),
		asm.Return(),
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "wrapper", Type: typ, License: "Dual MIT/GPL",
		Instructions: append(insns, fn...),
	})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("load %q: %+v\n%v", p.expr, ve, fn)
		}
		t.Fatalf("load %q: %v", p.expr, err)
	}
	return prog
}

// testRunData returns what BPF_PROG_TEST_RUN needs so that the filter sees
// exactly f at skb->data: SchedCLS programs see the data from its start
// (which must be an Ethernet-sized header, >= 14 bytes); socket filters see
// it after the first 14 bytes, which the kernel pulls as an Ethernet header,
// so raw-IP and cooked frames get a dummy one in front.
func testRunData(lt LinkType, f []byte) (ebpf.ProgramType, []byte, bool) {
	if lt == Ethernet {
		return ebpf.SchedCLS, f, len(f) >= 14
	}
	dummy := []byte{2, 0, 0, 0, 0, 0xb, 2, 0, 0, 0, 0, 0xa, 0x08, 0x00}
	return ebpf.SocketFilter, append(dummy, f...), true
}

// TestEBPFMatchesCBPF runs every expression of the differential test in the
// kernel on every frame and compares with Program.Match.
func TestEBPFMatchesCBPF(t *testing.T) {
	needBPF(t)
	all := corpus(t)
	runs, progs, skipped := 0, 0, 0
	for _, lt := range linkTypes {
		frames := framesFor(all, lt)
		typ, _, _ := testRunData(lt, nil)
		for _, expr := range append(diffExprs, bigExprs()...) {
			p, err := Compile(expr, lt)
			if err != nil {
				continue // libpcap refuses it too (checked by TestAgainstLibpcap)
			}
			prog := loadWrapped(t, p, typ)
			progs++
			for _, f := range frames {
				_, data, ok := testRunData(lt, f.data)
				if !ok {
					skipped++
					continue
				}
				ret, err := prog.Run(&ebpf.RunOptions{Data: data})
				if err != nil {
					t.Fatalf("%v %q on %q: test run: %v", lt, expr, f.name, err)
				}
				if got, want := ret != 0, p.Match(f.data); got != want {
					t.Errorf("%v %q on %q: eBPF %v (ret %d), cBPF %v\n%v", lt, expr, f.name, got, ret, want, p)
				}
				runs++
			}
			prog.Close()
		}
	}
	t.Logf("%d programs loaded, %d frame runs compared, %d runs skipped (frames under 14 bytes cannot be test-run as SchedCLS)", progs, runs, skipped)
}
