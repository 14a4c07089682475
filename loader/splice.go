package loader

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// filterSymbol is the placeholder function in bpf/capture.c whose body is
// replaced by the compiled filter expression.
const filterSymbol = "zd_filter"

// maxFilterInsns bounds a spliced filter body (the verifier's own limit is
// far higher; a pcap filter of this size is already absurd).
const maxFilterInsns = 16384

// spliceFilter replaces the body of the zd_filter subprogram in prog with
// body. The replacement keeps the function's BTF so that the verifier still
// knows it takes the skb and returns an int.
func spliceFilter(prog *ebpf.ProgramSpec, body asm.Instructions) error {
	if len(body) == 0 {
		return errors.New("empty filter program")
	}
	if len(body) > maxFilterInsns {
		return fmt.Errorf("filter program of %d instructions exceeds %d", len(body), maxFilterInsns)
	}
	insns := prog.Instructions
	start := -1
	for i := range insns {
		if insns[i].Symbol() == filterSymbol {
			start = i
			break
		}
	}
	if start < 0 {
		return fmt.Errorf("program %s has no %s function to replace", prog.Name, filterSymbol)
	}
	end := len(insns)
	for i := start + 1; i < len(insns); i++ {
		if insns[i].Symbol() != "" {
			end = i
			break
		}
	}
	fn := btf.FuncMetadata(&insns[start])
	src := insns[start].Source()
	repl := make(asm.Instructions, 0, len(insns)-(end-start)+len(body))
	repl = append(repl, insns[:start]...)
	first := len(repl)
	repl = append(repl, body...)
	repl[first] = repl[first].WithSymbol(filterSymbol)
	if fn != nil {
		repl[first] = btf.WithFuncMetadata(repl[first], fn)
	}
	if src != nil {
		// With BTF, the kernel wants line info at every function's start.
		repl[first] = repl[first].WithSource(src)
	}
	repl = append(repl, insns[end:]...)
	prog.Instructions = repl
	return nil
}
