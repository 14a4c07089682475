package filter

import (
	"errors"
	"testing"

	"golang.org/x/net/bpf"
)

// FuzzCompile: any input either fails to compile or gives a program within
// the kernel's limits that the VM runs and that translates to eBPF, and
// Match agrees with the program run directly.
func FuzzCompile(f *testing.F) {
	for _, s := range append(append(diffExprs, failExprs...), bigExprs()...) {
		f.Add(s)
	}
	for _, s := range []string{"ether host 1:2:3:4:5:6", "((((port 1))))", "- - -1 = 1", "ip[ip[ip[0]]:4] = 1"} {
		f.Add(s)
	}
	frames := corpus(f)
	f.Fuzz(func(t *testing.T, expr string) {
		for _, lt := range linkTypes {
			p, err := Compile(expr, lt)
			if err != nil {
				var se *syntaxError
				if errors.As(err, &se) && errors.Is(err, ErrUnsupported) {
					t.Fatalf("%q: syntax error wraps ErrUnsupported", expr)
				}
				continue
			}
			insns := p.CBPF()
			if len(insns) == 0 || len(insns) > MaxInstructions {
				t.Fatalf("%q on %v: %d instructions", expr, lt, len(insns))
			}
			vm, err := bpf.NewVM(insns)
			if err != nil {
				t.Fatalf("%q on %v: %v", expr, lt, err)
			}
			for _, fr := range framesFor(frames, lt)[:6] {
				n, err := vm.Run(fr.data)
				if err != nil {
					t.Fatalf("%q on %v: VM: %v", expr, lt, err)
				}
				if p.Match(fr.data) != (n > 0) {
					t.Fatalf("%q on %v: Match disagrees with the VM", expr, lt)
				}
			}
			if _, err := p.EBPF(Symbol); err != nil && len(insns) < 2000 {
				t.Fatalf("%q on %v: eBPF: %v", expr, lt, err)
			}
			_ = p.String()
		}
	})
}
