package filter

import (
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
)

// MaxInstructions is the most classic BPF instructions a compiled filter may
// have (the kernel's BPF_MAXINSNS).
const MaxInstructions = 4096

// acceptValue is what an accepting program returns: libpcap's default snap
// length, so that programs compare equal to tcpdump's.
const acceptValue = 262144

type label int

// item is one instruction of a program under construction, with jump
// targets still symbolic; an item with isLabel set only marks a position.
type item struct {
	ins     bpf.Instruction // straight-line instruction, or nil
	isLabel bool
	lbl     label // the label defined here (isLabel) or targeted (isJump)
	isJump  bool  // ja lbl
	isCond  bool  // conditional jump on op/k/useX to t, else f
	op      cmpOp
	k       uint32
	useX    bool
	t, f    label
}

type assembler struct {
	items  []item
	labels int
}

func (a *assembler) newLabel() label { a.labels++; return label(a.labels) }
func (a *assembler) mark(l label)    { a.items = append(a.items, item{isLabel: true, lbl: l}) }

// gen emits code for n that continues at t when n holds and at f otherwise.
// in is code whose results A and X hold on entry (nil if unknown); gen
// returns the same for its true and false exits. A test whose code equals in
// skips it: the code depends only on the packet, and having run once it
// cannot fail the second time ("tcp or udp" loads the protocol once).
func (a *assembler) gen(n node, t, f label, in []bpf.Instruction) (onT, onF []bpf.Instruction) {
	switch n := n.(type) {
	case andNode:
		// n.r is reached only from n.l's true exits.
		mid := a.newLabel()
		lt, _ := a.gen(n.l, mid, f, in)
		a.mark(mid)
		rt, _ := a.gen(n.r, t, f, lt)
		return rt, nil
	case orNode:
		mid := a.newLabel()
		_, lf := a.gen(n.l, t, mid, in)
		a.mark(mid)
		_, rf := a.gen(n.r, t, f, lf)
		return nil, rf
	case notNode:
		xt, xf := a.gen(n.x, f, t, in)
		return xf, xt
	case constNode:
		target := f
		if n {
			target = t
		}
		a.items = append(a.items, item{isJump: true, lbl: target})
		return in, in
	case *testNode:
		if !slices.Equal(n.code, in) {
			for _, ins := range n.code {
				a.items = append(a.items, item{ins: ins})
			}
		}
		if n.negate {
			t, f = f, t
		}
		a.items = append(a.items, item{isCond: true, op: n.op, k: n.k, useX: n.useX, t: t, f: f})
		return n.code, n.code
	}
	panic(fmt.Sprintf("filter: unknown node %T", n))
}

// generate compiles n to a classic BPF program returning acceptValue or 0.
func generate(n node) ([]bpf.Instruction, error) {
	var a assembler
	accept, reject := a.newLabel(), a.newLabel()
	a.gen(n, accept, reject, nil)
	a.mark(accept)
	a.items = append(a.items, item{ins: bpf.RetConstant{Val: acceptValue}})
	a.mark(reject)
	a.items = append(a.items, item{ins: bpf.RetConstant{Val: 0}})
	a.prune()
	a.dropFallThroughJumps()
	a.prune()
	if err := a.farJumps(); err != nil {
		return nil, err
	}
	return a.resolve()
}

// prune drops instructions no path reaches (the eBPF verifier refuses
// unreachable code, and it only costs space in classic BPF).
func (a *assembler) prune() {
	where := a.labelIndex()
	reach := make([]bool, len(a.items))
	work := []int{0}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		if i >= len(a.items) || reach[i] {
			continue
		}
		reach[i] = true
		it := a.items[i]
		switch {
		case it.isJump:
			work = append(work, where[it.lbl])
		case it.isCond:
			work = append(work, where[it.t], where[it.f])
		case isReturn(it.ins):
		default:
			work = append(work, i+1)
		}
	}
	kept := a.items[:0]
	for i, it := range a.items {
		if reach[i] || it.isLabel {
			kept = append(kept, it)
		}
	}
	a.items = kept
}

func isReturn(ins bpf.Instruction) bool {
	switch ins.(type) {
	case bpf.RetConstant, bpf.RetA:
		return true
	}
	return false
}

// labelIndex maps each label to the index of the item it marks.
func (a *assembler) labelIndex() map[label]int {
	where := make(map[label]int)
	for i, it := range a.items {
		if it.isLabel {
			where[it.lbl] = i
		}
	}
	return where
}

// dropFallThroughJumps removes "ja L" when L follows it with no instruction between.
func (a *assembler) dropFallThroughJumps() {
	kept := a.items[:0]
	for i, it := range a.items {
		if it.isJump && a.fallsThrough(i, it.lbl) {
			continue
		}
		kept = append(kept, it)
	}
	a.items = kept
}

func (a *assembler) fallsThrough(i int, l label) bool {
	for j := i + 1; j < len(a.items) && a.items[j].isLabel; j++ {
		if a.items[j].lbl == l {
			return true
		}
	}
	return false
}

// positions numbers the real instructions; a label gets the number of the
// instruction that follows it.
func (a *assembler) positions() (pos []int, at map[label]int) {
	pos = make([]int, len(a.items))
	at = make(map[label]int)
	n := 0
	for i, it := range a.items {
		pos[i] = n
		if it.isLabel {
			at[it.lbl] = n
		} else {
			n++
		}
	}
	return pos, at
}

// farJumps routes conditional jumps whose targets lie more than 255
// instructions ahead through "ja" trampolines placed right after them
// (classic BPF conditional offsets are 8 bits, ja's are 32).
func (a *assembler) farJumps() error {
	for {
		pos, at := a.positions()
		if n := len(pos); n > 0 && pos[n-1] >= MaxInstructions {
			return fmt.Errorf("%w: filter needs more than %d instructions", ErrUnsupported, MaxInstructions)
		}
		changed := false
		var out []item
		for i, it := range a.items {
			if !it.isCond {
				out = append(out, it)
				continue
			}
			var tramp []item
			for _, tgt := range []*label{&it.t, &it.f} {
				if at[*tgt]-pos[i]-1 > 255 {
					l := a.newLabel()
					tramp = append(tramp, item{isLabel: true, lbl: l}, item{isJump: true, lbl: *tgt})
					*tgt = l
					changed = true
				}
			}
			out = append(out, it)
			out = append(out, tramp...)
		}
		a.items = out
		if !changed {
			return nil
		}
	}
}

// resolve turns items into instructions with numeric jump offsets.
func (a *assembler) resolve() ([]bpf.Instruction, error) {
	pos, at := a.positions()
	var prog []bpf.Instruction
	for i, it := range a.items {
		switch {
		case it.isLabel:
		case it.isJump:
			prog = append(prog, bpf.Jump{Skip: uint32(at[it.lbl] - pos[i] - 1)})
		case it.isCond:
			jt, jf := at[it.t]-pos[i]-1, at[it.f]-pos[i]-1
			if jt > 255 || jf > 255 || jt < 0 || jf < 0 {
				return nil, fmt.Errorf("internal error: jump offsets %d/%d", jt, jf)
			}
			test := [...]bpf.JumpTest{cmpEq: bpf.JumpEqual, cmpGt: bpf.JumpGreaterThan, cmpGe: bpf.JumpGreaterOrEqual, cmpSet: bpf.JumpBitsSet}[it.op]
			if it.useX {
				prog = append(prog, bpf.JumpIfX{Cond: test, SkipTrue: uint8(jt), SkipFalse: uint8(jf)})
			} else {
				prog = append(prog, bpf.JumpIf{Cond: test, Val: it.k, SkipTrue: uint8(jt), SkipFalse: uint8(jf)})
			}
		default:
			prog = append(prog, it.ins)
		}
	}
	if len(prog) > MaxInstructions {
		return nil, fmt.Errorf("%w: filter needs %d instructions, more than %d", ErrUnsupported, len(prog), MaxInstructions)
	}
	return prog, nil
}
