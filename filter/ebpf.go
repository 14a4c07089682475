package filter

import (
	"fmt"
	"math"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/net/bpf"
)

// EBPFStackSize is the most stack, in bytes, a filter's eBPF function uses.
//
// The eBPF form of a filter is the body of a BPF-to-BPF function
//
//	static __noinline int zd_filter(struct __sk_buff *skb)
//
// It takes the skb context in R1 and returns in R0 the classic program's
// result: 0 to reject the packet, non-zero (262144) to accept it. Offsets
// are relative to skb->data, which is where the classic program's packet
// starts: the Ethernet header in TC programs and in socket filters on
// AF_PACKET sockets of Ethernet devices, the IP header on tun devices.
//
// Registers and stack, all private to the function:
//
//	R6      the skb context, saved from R1 (callee-saved, survives helper calls)
//	R7      classic BPF's A
//	R8      classic BPF's X
//	R1-R5   helper arguments, clobbered by bpf_skb_load_bytes
//	R0      helper results, then the return value
//	R10-8   4-byte buffer bpf_skb_load_bytes writes into
//	R10-(12+4k)  scratch word M[k], k = 0..15
//
// so the function uses at most EBPFStackSize bytes of stack, which count towards
// the kernel's 512-byte limit on a call chain. R9 is not touched. Packet
// bytes are read with bpf_skb_load_bytes (it works in TC and socket-filter
// programs and in non-linear skbs); a read past the end of the packet
// returns 0 at once, as a classic load would. len is skb->len. Division or
// modulo by a zero X returns 0, as in classic BPF; shifts by 32 or more
// give 0, as in x/net/bpf's VM.
const EBPFStackSize = 12 + 4*scratchSlots

const (
	regCtx = asm.R6
	regA   = asm.R7
	regX   = asm.R8
)

// EBPF returns the filter as the instructions of an eBPF function named
// symbol (its first instruction carries the symbol); see the package
// documentation of the calling convention. Each call returns new
// instructions that the caller may modify. It fails only if the program is
// too long for eBPF's 16-bit jump offsets.
func (p *Program) EBPF(symbol string) (asm.Instructions, error) {
	insns, err := translate(p.insns)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", p.expr, err)
	}
	insns[0] = insns[0].WithSymbol(symbol)
	return insns, nil
}

// translator turns classic BPF into eBPF. Each classic instruction becomes
// a block; jumps name blocks and are patched once all blocks are laid out.
type translator struct {
	out    asm.Instructions
	starts []int   // eBPF index of each classic instruction's block
	fixups []fixup // jumps to patch
	fail   bool    // some jump targets the shared "return 0" block
}

// fixup is the jump at out[at] to classic instruction target (-1: the fail block).
type fixup struct{ at, target int }

func scratchOff(k int) int16 { return int16(-12 - 4*k) }

func translate(prog []bpf.Instruction) (asm.Instructions, error) {
	t := &translator{starts: make([]int, len(prog))}
	t.emit(asm.Mov.Reg(regCtx, asm.R1), asm.Mov.Imm32(regA, 0), asm.Mov.Imm32(regX, 0))
	for k := range t.scratchRead(prog) {
		t.emit(asm.StoreImm(asm.R10, scratchOff(k), 0, asm.Word))
	}
	for i, ins := range prog {
		t.starts[i] = len(t.out)
		if err := t.insn(i, ins); err != nil {
			return nil, fmt.Errorf("instruction %d (%v): %w", i, ins, err)
		}
	}
	failAt := len(t.out)
	if t.fail {
		t.emit(asm.Mov.Imm32(asm.R0, 0), asm.Return())
	}
	for _, f := range t.fixups {
		to := failAt
		if f.target >= 0 {
			to = t.starts[f.target]
		}
		off := to - f.at - 1
		if off < 0 || off > math.MaxInt16 {
			return nil, fmt.Errorf("filter too large for eBPF: jump of %d instructions", off)
		}
		t.out[f.at].Offset = int16(off)
	}
	return t.out, nil
}

// scratchRead returns the scratch words the program reads, to be zeroed
// first (classic BPF's are; the verifier refuses reads of unwritten stack).
func (t *translator) scratchRead(prog []bpf.Instruction) map[int]bool {
	read := make(map[int]bool)
	for _, ins := range prog {
		if ls, ok := ins.(bpf.LoadScratch); ok {
			read[ls.N] = true
		}
	}
	return read
}

func (t *translator) emit(insns ...asm.Instruction) { t.out = append(t.out, insns...) }

// jump emits a jump to classic instruction target (-1 for the fail block).
func (t *translator) jump(ins asm.Instruction, target int) {
	if target < 0 {
		t.fail = true
	}
	t.fixups = append(t.fixups, fixup{len(t.out), target})
	t.emit(ins)
}

func ja() asm.Instruction {
	return asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Ja)}
}

// cond32 is a 32-bit conditional jump on A against an immediate or X.
func cond32(op asm.JumpOp, k uint32, useX bool) asm.Instruction {
	ins := asm.Instruction{OpCode: asm.OpCode(asm.Jump32Class).SetJumpOp(op).SetSource(asm.ImmSource), Dst: regA, Constant: int64(int32(k))}
	if useX {
		ins.OpCode = ins.OpCode.SetSource(asm.RegSource)
		ins.Src, ins.Constant = regX, 0
	}
	return ins
}

// load reads size bytes at offset (k, plus X when indirect) into dst,
// converted from network byte order; a read out of the packet fails.
func (t *translator) load(dst asm.Register, k uint32, size int, indirect bool) error {
	var width asm.Size
	switch size {
	case 1:
		width = asm.Byte
	case 2:
		width = asm.Half
	case 4:
		width = asm.Word
	default:
		return fmt.Errorf("load size %d", size)
	}
	switch {
	case k > math.MaxInt32:
		// No packet is 2 GiB long.
		t.jump(ja(), -1)
		return nil
	case indirect:
		// X + k in 64 bits; offsets of 2^31 and more are out of any packet
		// (and the helper takes a 32-bit offset, which would wrap).
		t.emit(asm.Mov.Reg(asm.R2, regX), asm.Add.Imm(asm.R2, int32(k)),
			asm.Mov.Reg(asm.R3, asm.R2), asm.RSh.Imm(asm.R3, 31))
		t.jump(asm.Instruction{OpCode: asm.JNE.Op(asm.ImmSource), Dst: asm.R3}, -1)
	default:
		t.emit(asm.Mov.Imm32(asm.R2, int32(k)))
	}
	t.emit(asm.Mov.Reg(asm.R1, regCtx),
		asm.Mov.Reg(asm.R3, asm.R10), asm.Add.Imm(asm.R3, -8),
		asm.Mov.Imm32(asm.R4, int32(size)),
		asm.FnSkbLoadBytes.Call())
	t.jump(asm.Instruction{OpCode: asm.JNE.Op(asm.ImmSource), Dst: asm.R0}, -1)
	t.emit(asm.LoadMem(dst, asm.R10, -8, width))
	if size > 1 {
		t.emit(asm.HostTo(asm.BE, dst, width))
	}
	return nil
}

var aluOps = map[bpf.ALUOp]asm.ALUOp{
	bpf.ALUOpAdd: asm.Add, bpf.ALUOpSub: asm.Sub, bpf.ALUOpMul: asm.Mul, bpf.ALUOpDiv: asm.Div,
	bpf.ALUOpOr: asm.Or, bpf.ALUOpAnd: asm.And, bpf.ALUOpShiftLeft: asm.LSh,
	bpf.ALUOpShiftRight: asm.RSh, bpf.ALUOpMod: asm.Mod, bpf.ALUOpXor: asm.Xor,
}

func isShift(op bpf.ALUOp) bool { return op == bpf.ALUOpShiftLeft || op == bpf.ALUOpShiftRight }

func (t *translator) insn(i int, ins bpf.Instruction) error {
	switch ins := ins.(type) {
	case bpf.LoadAbsolute:
		return t.load(regA, ins.Off, ins.Size, false)
	case bpf.LoadIndirect:
		return t.load(regA, ins.Off, ins.Size, true)
	case bpf.LoadMemShift:
		if err := t.load(regX, ins.Off, 1, false); err != nil {
			return err
		}
		t.emit(asm.And.Imm32(regX, 0xf), asm.LSh.Imm32(regX, 2))
	case bpf.LoadConstant:
		dst := regA
		if ins.Dst == bpf.RegX {
			dst = regX
		}
		t.emit(asm.Mov.Imm32(dst, int32(ins.Val)))
	case bpf.LoadExtension:
		if ins.Num != bpf.ExtLen {
			return fmt.Errorf("extension %d not supported", ins.Num)
		}
		t.emit(asm.LoadMem(regA, regCtx, 0, asm.Word)) // __sk_buff.len
	case bpf.LoadScratch:
		dst := regA
		if ins.Dst == bpf.RegX {
			dst = regX
		}
		t.emit(asm.LoadMem(dst, asm.R10, scratchOff(ins.N), asm.Word))
	case bpf.StoreScratch:
		src := regA
		if ins.Src == bpf.RegX {
			src = regX
		}
		t.emit(asm.StoreMem(asm.R10, scratchOff(ins.N), src, asm.Word))
	case bpf.ALUOpConstant:
		op, ok := aluOps[ins.Op]
		switch {
		case !ok:
			return fmt.Errorf("ALU op %v not supported", ins.Op)
		case isShift(ins.Op) && ins.Val >= 32:
			t.emit(asm.Mov.Imm32(regA, 0))
		case (ins.Op == bpf.ALUOpDiv || ins.Op == bpf.ALUOpMod) && ins.Val == 0:
			t.jump(ja(), -1)
		default:
			t.emit(op.Imm32(regA, int32(ins.Val)))
		}
	case bpf.ALUOpX:
		op, ok := aluOps[ins.Op]
		switch {
		case !ok:
			return fmt.Errorf("ALU op %v not supported", ins.Op)
		case ins.Op == bpf.ALUOpDiv || ins.Op == bpf.ALUOpMod:
			t.jump(asm.Instruction{OpCode: asm.OpCode(asm.Jump32Class).SetJumpOp(asm.JEq).SetSource(asm.ImmSource), Dst: regX}, -1)
			t.emit(op.Reg32(regA, regX))
		case isShift(ins.Op):
			// if X >= 32 { A = 0 } else { A op= X }
			t.emit(asm.Instruction{OpCode: asm.OpCode(asm.Jump32Class).SetJumpOp(asm.JGE).SetSource(asm.ImmSource), Dst: regX, Constant: 32, Offset: 2},
				op.Reg32(regA, regX),
				asm.Instruction{OpCode: asm.OpCode(asm.JumpClass).SetJumpOp(asm.Ja), Offset: 1},
				asm.Mov.Imm32(regA, 0))
		default:
			t.emit(op.Reg32(regA, regX))
		}
	case bpf.NegateA:
		t.emit(asm.Neg.Imm32(regA, 0))
	case bpf.TAX:
		t.emit(asm.Mov.Reg32(regX, regA))
	case bpf.TXA:
		t.emit(asm.Mov.Reg32(regA, regX))
	case bpf.RetConstant:
		t.emit(asm.Mov.Imm32(asm.R0, int32(ins.Val)), asm.Return())
	case bpf.RetA:
		t.emit(asm.Mov.Reg32(asm.R0, regA), asm.Return())
	case bpf.Jump:
		t.jump(ja(), i+1+int(ins.Skip))
	case bpf.JumpIf:
		return t.cond(i, ins.Cond, ins.Val, false, ins.SkipTrue, ins.SkipFalse)
	case bpf.JumpIfX:
		return t.cond(i, ins.Cond, 0, true, ins.SkipTrue, ins.SkipFalse)
	default:
		return fmt.Errorf("instruction %T not supported", ins)
	}
	return nil
}

// cond translates a classic conditional jump: a 32-bit eBPF jump to the
// true target, then a jump to the false one unless it is the next block.
func (t *translator) cond(i int, test bpf.JumpTest, k uint32, useX bool, skipTrue, skipFalse uint8) error {
	op, ok := map[bpf.JumpTest]asm.JumpOp{
		bpf.JumpEqual: asm.JEq, bpf.JumpNotEqual: asm.JNE, bpf.JumpGreaterThan: asm.JGT,
		bpf.JumpLessThan: asm.JLT, bpf.JumpGreaterOrEqual: asm.JGE, bpf.JumpLessOrEqual: asm.JLE,
		bpf.JumpBitsSet: asm.JSet,
	}[test]
	if !ok {
		if test != bpf.JumpBitsNotSet {
			return fmt.Errorf("jump test %v not supported", test)
		}
		op, skipTrue, skipFalse = asm.JSet, skipFalse, skipTrue
	}
	t.jump(cond32(op, k, useX), i+1+int(skipTrue))
	if skipFalse != 0 {
		t.jump(ja(), i+1+int(skipFalse))
	}
	return nil
}
