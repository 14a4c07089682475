package filter

import (
	"fmt"

	"github.com/cilium/ebpf/asm"
)

// Symbol is the name of the placeholder function whose body a capture
// program's loader replaces with the filter (see Splice): in
// bpf/capture.c, static __noinline int zd_filter(struct __sk_buff *skb).
const Symbol = "zd_filter"

// maxSpliceInsns bounds a spliced filter body (the verifier's own limit is
// far higher; a pcap filter of this size is already absurd).
const maxSpliceInsns = 16384

// Splice returns a copy of insns, a program's instructions as cilium/ebpf
// loads them from an ELF file (called functions appended, each starting
// with an instruction that carries its symbol), in which the body of the
// function named symbol is replaced by the filter's eBPF form.
//
// The replaced function's first instruction keeps its metadata (symbol, BTF
// function info and line info), so a program with BTF still has the
// func_info and line_info entries the kernel wants at every function start.
// The function runs from its symbol to the next symbol or the end. A
// filter whose eBPF form exceeds 16384 instructions is refused.
func (p *Program) Splice(insns asm.Instructions, symbol string) (asm.Instructions, error) {
	start := -1
	for i, ins := range insns {
		if ins.Symbol() == symbol {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("splice filter: no function %q", symbol)
	}
	end := start + 1
	for end < len(insns) && insns[end].Symbol() == "" {
		end++
	}
	body, err := p.EBPF(symbol)
	if err != nil {
		return nil, fmt.Errorf("splice filter: %w", err)
	}
	if len(body) > maxSpliceInsns {
		return nil, fmt.Errorf("splice filter: filter program of %d instructions exceeds %d", len(body), maxSpliceInsns)
	}
	body[0] = body[0].WithMetadata(insns[start].Metadata)
	out := make(asm.Instructions, 0, len(insns)-(end-start)+len(body))
	out = append(out, insns[:start]...)
	out = append(out, body...)
	return append(out, insns[end:]...), nil
}
