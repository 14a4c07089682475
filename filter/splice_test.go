package filter

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// TestSpliceIntoELF splices filters into a clang-built TC program with BTF
// (testdata/splice.c: the same hook as bpf/capture.c) and checks in the
// kernel that the program returns skb->len+1 exactly for matching frames,
// which also shows the caller's callee-saved registers survive the call.
func TestSpliceIntoELF(t *testing.T) {
	needBPF(t)
	spec, err := ebpf.LoadCollectionSpec("testdata/splice_bpfel.o")
	if err != nil {
		t.Fatal(err)
	}
	stub := spec.Programs["splice_test"]
	frames := framesFor(corpus(t), Ethernet)
	for _, expr := range []string{"", "tcp port 7001", "vlan and tcp[tcpflags] & tcp-syn != 0", "not host 10.0.0.1 and greater 60", "ip6 or arp"} {
		p, err := Compile(expr, Ethernet)
		if err != nil {
			t.Fatal(err)
		}
		ps := stub.Copy()
		if ps.Instructions, err = p.Splice(ps.Instructions, Symbol); err != nil {
			t.Fatal(err)
		}
		prog, err := ebpf.NewProgram(ps)
		if err != nil {
			t.Fatalf("%q: load spliced program: %v", expr, err)
		}
		for _, f := range frames {
			if len(f.data) < 14 {
				continue
			}
			ret, err := prog.Run(&ebpf.RunOptions{Data: f.data})
			if err != nil {
				t.Fatal(err)
			}
			want := uint32(0)
			if p.Match(f.data) {
				want = uint32(len(f.data)) + 1
			}
			if ret != want {
				t.Errorf("%q on %q: returned %d, want %d", expr, f.name, ret, want)
			}
		}
		prog.Close()
	}
}

func TestSpliceKeepsMetadata(t *testing.T) {
	p, err := Compile("tcp", Ethernet)
	if err != nil {
		t.Fatal(err)
	}
	stub := asm.Instructions{
		asm.Call.Label(Symbol).WithSymbol("main"),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol(Symbol).WithSource(asm.Comment("stub line")),
		asm.Return(),
		asm.Mov.Imm(asm.R0, 2).WithSymbol("other"),
		asm.Return(),
	}
	out, err := p.Splice(stub, Symbol)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := p.EBPF(Symbol)
	if len(out) != 4+len(body) {
		t.Fatalf("spliced program has %d instructions, want %d", len(out), 4+len(body))
	}
	first := out[2]
	if first.Symbol() != Symbol || first.Source() == nil || first.Source().String() != "stub line" {
		t.Errorf("first instruction lost its metadata: %v (source %v)", first, first.Source())
	}
	if out[2+len(body)].Symbol() != "other" {
		t.Errorf("the following function moved: %v", out[2+len(body)])
	}
	if _, err := p.Splice(stub, "missing"); err == nil {
		t.Error("splicing a missing function succeeded")
	}
}
