package filter

import "golang.org/x/net/bpf"

// arithLevels are pcap-filter's binary arithmetic operators from the
// loosest binding to the tightest; all associate to the left. libpcap binds
// '^' looser than '|' (unlike C): "ip[0] ^ 1 | 2" is ip[0] ^ 3.
var arithLevels = []map[string]bpf.ALUOp{
	{"^": bpf.ALUOpXor},
	{"|": bpf.ALUOpOr},
	{"&": bpf.ALUOpAnd},
	{"<<": bpf.ALUOpShiftLeft, ">>": bpf.ALUOpShiftRight},
	{"+": bpf.ALUOpAdd, "-": bpf.ALUOpSub},
	{"*": bpf.ALUOpMul, "/": bpf.ALUOpDiv, "%": bpf.ALUOpMod},
}

// arith parses arithmetic at precedence level and tighter.
func (p *parser) arith(level int) (arith, error) {
	if level == len(arithLevels) {
		return p.arithUnary()
	}
	l, err := p.arith(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op, ok := arithLevels[level][t.text]
		if !ok || t.kind != tokOp {
			return l, nil
		}
		p.next()
		r, err := p.arith(level + 1)
		if err != nil {
			return nil, err
		}
		if l, err = mkBin(op, l, r); err != nil {
			return nil, err
		}
	}
}

func (p *parser) arithUnary() (arith, error) {
	if p.peek().is("-") {
		p.next()
		x, err := p.arithUnary()
		if err != nil {
			return nil, err
		}
		if k, ok := x.(numArith); ok {
			return numArith(-uint32(k)), nil
		}
		return negArith{x}, nil
	}
	return p.arithPrimary()
}

func (p *parser) arithPrimary() (arith, error) {
	t := p.next()
	switch {
	case t.kind == tokNum:
		v, err := parseNumber(t.text)
		if err != nil {
			return nil, &syntaxError{t, "expected a number"}
		}
		return numArith(v), nil
	case t.is("("):
		e, err := p.arith(0)
		if err != nil {
			return nil, err
		}
		return e, p.expect(")")
	case t.is("len", "length"):
		return lenArith{}, nil
	case t.kind == tokWord && p.peek().is("["):
		return p.byteLoad(t)
	case t.kind == tokWord:
		if v, ok := arithConsts[t.text]; ok {
			return numArith(v), nil
		}
	}
	return nil, &syntaxError{t, "expected a number, len or proto[offset]"}
}

// byteLoad parses proto[offset] or proto[offset:size] after proto.
func (p *parser) byteLoad(proto token) (arith, error) {
	if !protoNames[proto.text] && proto.text != "ether" && proto.text != "link" {
		return nil, &syntaxError{proto, "expected a protocol before '['"}
	}
	p.next()
	idx, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	size := 1
	if p.peek().is(":") {
		p.next()
		t := p.next()
		v, err := parseNumber(t.text)
		if t.kind != tokNum || err != nil {
			return nil, &syntaxError{t, "expected a size: 1, 2 or 4"}
		}
		size = int(min(v, 1<<20))
	}
	if err := p.expect("]"); err != nil {
		return nil, err
	}
	ld, err := p.lay.byteLoad(proto.text, idx, size)
	if err != nil {
		return nil, err
	}
	return ld, nil
}
