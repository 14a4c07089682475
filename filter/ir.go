package filter

import "golang.org/x/net/bpf"

// node is the boolean form of a filter between parsing and code generation.
// Evaluation order matters (a load past the packet end rejects the whole
// packet, as in classic BPF), so and/or evaluate left before right.
type node interface{ isNode() }

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// constNode is a test without loads: true or false.
type constNode bool

// cmpOp is a classic BPF conditional jump.
type cmpOp int

const (
	cmpEq  cmpOp = iota // jeq
	cmpGt               // jgt
	cmpGe               // jge
	cmpSet              // jset
)

// testNode runs straight-line code that leaves a value in A, then compares
// A with k (or with X when useX) and succeeds when the comparison does,
// or when it does not if negate is set.
type testNode struct {
	code   []bpf.Instruction
	op     cmpOp
	k      uint32
	useX   bool
	negate bool
}

func (andNode) isNode()   {}
func (orNode) isNode()    {}
func (notNode) isNode()   {}
func (constNode) isNode() {}
func (*testNode) isNode() {}

// and joins tests that must all hold, evaluated left to right. A constant
// on the left folds away; one on the right must stay, since the left side
// may still reject the packet with an out-of-bounds load.
func and(ns ...node) node {
	var out node
	for _, n := range ns {
		switch {
		case out == nil:
			out = n
		case out == constNode(true):
			out = n
		case out == constNode(false):
			return out
		default:
			out = andNode{out, n}
		}
	}
	if out == nil {
		return constNode(true)
	}
	return out
}

// or joins alternatives, evaluated left to right; see and for folding.
func or(ns ...node) node {
	var out node
	for _, n := range ns {
		switch {
		case out == nil:
			out = n
		case out == constNode(false):
			out = n
		case out == constNode(true):
			return out
		default:
			out = orNode{out, n}
		}
	}
	if out == nil {
		return constNode(false)
	}
	return out
}

func not(n node) node {
	if c, ok := n.(constNode); ok {
		return !c
	}
	return notNode{n}
}

// cmpAbs tests the size-byte big-endian field at absolute offset off,
// masked with mask (skipped when all ones), against v.
func cmpAbs(off uint32, size int, mask, v uint32) node {
	code := []bpf.Instruction{bpf.LoadAbsolute{Off: off, Size: size}}
	if mask != 0xffffffff {
		code = append(code, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
	}
	return &testNode{code: code, op: cmpEq, k: v}
}
