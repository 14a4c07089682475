package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// arith is an arithmetic expression of a relation such as
// "tcp[tcpflags] & tcp-syn != 0" or "len - 14 > 100".
type arith interface{ isArith() }

type numArith uint32
type lenArith struct{}

// loadArith is proto[idx:size]: its guard says the protocol is present
// (loads happen only then), base says where the protocol header starts.
type loadArith struct {
	guard node
	base  uint32
	msh   bool // base is relative to the IPv4 payload: X = 4*(pkt[mshOff]&0xf)
	msh0  uint32
	idx   arith
	size  int
}

type binArith struct {
	op   bpf.ALUOp
	l, r arith
}

type negArith struct{ x arith }

func (numArith) isArith()  {}
func (lenArith) isArith()  {}
func (loadArith) isArith() {}
func (binArith) isArith()  {}
func (negArith) isArith()  {}

// arithConsts are the names pcap-filter(7) gives to header offsets and values.
var arithConsts = map[string]uint32{
	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08,
	"tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4, "icmp-redirect": 5,
	"icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
	"icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6type": 0, "icmp6code": 1,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
	"icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
	"icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136,
	"icmp6-redirect": 137,
}

// fold computes a binary operation on constants as classic BPF would, and
// refuses what libpcap refuses.
func fold(op bpf.ALUOp, l, r uint32) (uint32, error) {
	switch op {
	case bpf.ALUOpAdd:
		return l + r, nil
	case bpf.ALUOpSub:
		return l - r, nil
	case bpf.ALUOpMul:
		return l * r, nil
	case bpf.ALUOpDiv:
		return l / r, nil
	case bpf.ALUOpMod:
		return l % r, nil
	case bpf.ALUOpAnd:
		return l & r, nil
	case bpf.ALUOpOr:
		return l | r, nil
	case bpf.ALUOpXor:
		return l ^ r, nil
	case bpf.ALUOpShiftLeft:
		return l << r, nil
	case bpf.ALUOpShiftRight:
		return l >> r, nil
	}
	return 0, fmt.Errorf("internal error: ALU op %v", op)
}

// mkBin builds l op r, folding constants and rejecting a constant zero
// divisor or a constant shift over 31 bits, as libpcap does.
func mkBin(op bpf.ALUOp, l, r arith) (arith, error) {
	if k, ok := r.(numArith); ok {
		switch {
		case (op == bpf.ALUOpDiv || op == bpf.ALUOpMod) && k == 0:
			return nil, fmt.Errorf("division by zero")
		case (op == bpf.ALUOpShiftLeft || op == bpf.ALUOpShiftRight) && k > 31:
			return nil, fmt.Errorf("shift by more than 31 bits")
		}
		if lk, ok := l.(numArith); ok {
			v, err := fold(op, uint32(lk), uint32(k))
			return numArith(v), err
		}
	}
	return binArith{op, l, r}, nil
}

// scratchSlots is the number of classic BPF scratch memory words.
const scratchSlots = 16

// arithGen compiles arithmetic into straight-line code that leaves the value
// in A, collecting the guards of the loads it makes.
type arithGen struct {
	guards []node
}

// toA compiles e; scratch words from slot up are free to use.
func (g *arithGen) toA(e arith, slot int) ([]bpf.Instruction, error) {
	switch e := e.(type) {
	case numArith:
		return []bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: uint32(e)}}, nil
	case lenArith:
		return []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtLen}}, nil
	case negArith:
		code, err := g.toA(e.x, slot)
		// A * 0xffffffff is -A mod 2^32; x/net/bpf's VM has no "neg".
		return append(code, bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 0xffffffff}), err
	case binArith:
		if k, ok := e.r.(numArith); ok {
			code, err := g.toA(e.l, slot)
			return append(code, bpf.ALUOpConstant{Op: e.op, Val: uint32(k)}), err
		}
		code, err := g.twoOperands(e.l, e.r, slot)
		return append(code, bpf.ALUOpX{Op: e.op}), err
	case loadArith:
		return g.load(e, slot)
	}
	return nil, fmt.Errorf("internal error: arith %T", e)
}

// twoOperands leaves l in A and r in X.
func (g *arithGen) twoOperands(l, r arith, slot int) ([]bpf.Instruction, error) {
	if slot >= scratchSlots {
		return nil, fmt.Errorf("%w: arithmetic nested too deeply", ErrUnsupported)
	}
	code, err := g.toA(r, slot)
	if err != nil {
		return nil, err
	}
	code = append(code, bpf.StoreScratch{Src: bpf.RegA, N: slot})
	lc, err := g.toA(l, slot+1)
	if err != nil {
		return nil, err
	}
	code = append(code, lc...)
	return append(code, bpf.LoadScratch{Dst: bpf.RegX, N: slot}), nil
}

func (g *arithGen) load(e loadArith, slot int) ([]bpf.Instruction, error) {
	g.guards = append(g.guards, e.guard)
	if k, ok := e.idx.(numArith); ok {
		if e.msh {
			return []bpf.Instruction{
				bpf.LoadMemShift{Off: e.msh0},
				bpf.LoadIndirect{Off: e.base + uint32(k), Size: e.size},
			}, nil
		}
		return []bpf.Instruction{bpf.LoadAbsolute{Off: e.base + uint32(k), Size: e.size}}, nil
	}
	code, err := g.toA(e.idx, slot)
	if err != nil {
		return nil, err
	}
	if e.msh {
		code = append(code, bpf.LoadMemShift{Off: e.msh0}, bpf.ALUOpX{Op: bpf.ALUOpAdd})
	}
	return append(code, bpf.TAX{}, bpf.LoadIndirect{Off: e.base, Size: e.size}), nil
}

// relation compiles "l op r" where op is one of = == != < <= > >=.
func relation(l arith, op string, r arith) (node, error) {
	var g arithGen
	var t testNode
	switch op {
	case "=", "==":
		t.op = cmpEq
	case "!=":
		t.op, t.negate = cmpEq, true
	case ">":
		t.op = cmpGt
	case ">=":
		t.op = cmpGe
	case "<":
		t.op, t.negate = cmpGe, true
	case "<=":
		t.op, t.negate = cmpGt, true
	default:
		return nil, fmt.Errorf("internal error: relation %q", op)
	}
	var err error
	if k, ok := r.(numArith); ok {
		t.k = uint32(k)
		t.code, err = g.toA(l, 0)
	} else {
		t.useX = true
		t.code, err = g.twoOperands(l, r, 0)
	}
	if err != nil {
		return nil, err
	}
	return and(append(g.guards, &t)...), nil
}
