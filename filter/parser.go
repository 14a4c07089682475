package filter

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// qual is the qualifiers of a primitive ("tcp src port"); a bare value after
// and/or reuses the previous primitive's ("port 7001 or 7002").
type qual struct {
	proto string    // "", "ip", "tcp"...
	dir   direction // src/dst
	addr  string    // "host", "net", "port", "portrange", "proto"; "" is host
}

// syntaxError is a malformed expression; the parser backtracks on it when
// it tried an arithmetic relation that was not one.
type syntaxError struct {
	tok token
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("syntax error at %v (offset %d): %s", e.tok, e.tok.pos, e.msg)
}

func unsupportedAt(t token, what string) error {
	return fmt.Errorf("%w: %v at offset %d: %s", ErrUnsupported, t, t.pos, what)
}

type parser struct {
	toks []token
	i    int
	lay  layout
}

// parse turns a non-empty expression into a node for link type lt.
func parse(expr string, lt LinkType) (node, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, lay: newLayout(lt)}
	n, _, err := p.expr(nil)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, &syntaxError{t, "expected \"and\", \"or\" or the end"}
	}
	return n, nil
}

func (p *parser) peek() token        { return p.toks[p.i] }
func (p *parser) peekAt(k int) token { return p.toks[min(p.i+k, len(p.toks)-1)] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// is reports whether t is one of the given keywords or operators.
func (t token) is(texts ...string) bool {
	if t.kind != tokWord && t.kind != tokOp {
		return false
	}
	for _, s := range texts {
		if t.text == s {
			return true
		}
	}
	return false
}

func (p *parser) expect(op string) error {
	if t := p.next(); !t.is(op) {
		return &syntaxError{t, fmt.Sprintf("expected %q", op)}
	}
	return nil
}

// expr is a chain of terms joined by and/or, which pcap-filter gives the
// same precedence and evaluates left to right.
func (p *parser) expr(q *qual) (node, *qual, error) {
	n, q, err := p.unary(q)
	if err != nil {
		return nil, nil, err
	}
	for {
		t := p.peek()
		isAnd := t.is("and", "&&")
		if !isAnd && !t.is("or", "||") {
			return n, q, nil
		}
		p.next()
		r, rq, err := p.unary(q)
		if err != nil {
			return nil, nil, err
		}
		if isAnd {
			n = and(n, r)
		} else {
			n = or(n, r)
		}
		q = rq
	}
}

func (p *parser) unary(q *qual) (node, *qual, error) {
	if p.peek().is("not", "!") {
		p.next()
		n, q, err := p.unary(q)
		if err != nil {
			return nil, nil, err
		}
		return not(n), q, nil
	}
	return p.primary(q)
}

// protoNames may qualify a primitive or stand alone.
var protoNames = map[string]bool{
	"ip": true, "ip6": true, "arp": true, "rarp": true, "tcp": true, "udp": true, "sctp": true,
	"icmp": true, "icmp6": true, "igmp": true, "pim": true, "vrrp": true, "esp": true, "ah": true,
}

// refused are pcap-filter keywords this compiler does not implement.
var refused = map[string]bool{
	"gateway": true, "broadcast": true, "multicast": true, "protochain": true,
	"inbound": true, "outbound": true, "ifindex": true, "ifname": true, "on": true,
	"rnr": true, "rulenum": true, "reason": true, "rset": true, "ruleset": true, "srnr": true,
	"subrulenum": true, "action": true, "mpls": true, "pppoed": true, "pppoes": true,
	"geneve": true, "vxlan": true, "llc": true, "iso": true, "esis": true, "es-is": true,
	"isis": true, "is-is": true, "clnp": true, "l1": true, "l2": true, "iih": true, "lsp": true,
	"snp": true, "csnp": true, "psnp": true, "stp": true, "ipx": true, "netbeui": true,
	"decnet": true, "lat": true, "sca": true, "moprc": true, "mopdl": true, "atalk": true,
	"aarp": true, "type": true, "subtype": true, "dir": true, "addr1": true, "addr2": true,
	"addr3": true, "addr4": true, "ra": true, "ta": true, "vpi": true, "vci": true, "lane": true,
	"oam": true, "oamf4": true, "oamf4ec": true, "oamf4sc": true, "metac": true, "bcc": true,
	"sc": true, "ilmic": true, "connectmsg": true, "metaconnect": true, "radio": true,
	"fddi": true, "tr": true, "wlan": true, "igrp": true, "carp": true, "ether": true,
	"link": true, "slip": true, "ppp": true, "hdlc": true,
}

func (p *parser) primary(q *qual) (node, *qual, error) {
	t := p.peek()
	switch t.kind {
	case tokNum:
		n, ok, err := p.tryRelation()
		if ok || err != nil {
			return n, nil, err
		}
		return p.bareID(q)
	case tokEscaped:
		return nil, nil, &syntaxError{t, "a \\name only follows \"proto\""}
	case tokEOF:
		return nil, nil, &syntaxError{t, "expected a primitive"}
	case tokOp:
		switch t.text {
		case "(":
			n, ok, err := p.tryRelation()
			if ok || err != nil {
				return n, nil, err
			}
			p.next()
			n, _, err = p.expr(q)
			if err != nil {
				return nil, nil, err
			}
			// After a parenthesis, bare values continue the qualifiers from before it.
			return n, q, p.expect(")")
		case "-":
			n, err := p.relation()
			return n, nil, err
		}
		return nil, nil, &syntaxError{t, "expected a primitive"}
	}
	w := t.text
	next := p.peekAt(1)
	switch {
	case w == "len" || w == "length":
		n, err := p.relation()
		return n, nil, err
	case (protoNames[w] || w == "ether" || w == "link") && next.is("["):
		n, err := p.relation()
		return n, nil, err
	case protoNames[w], w == "src", w == "dst", w == "host", w == "net", w == "port",
		w == "portrange", w == "proto":
		return p.qualified()
	case w == "vlan":
		n, err := p.vlan()
		return n, nil, err
	case w == "greater" || w == "less":
		n, err := p.lengthCmp()
		return n, nil, err
	case refused[w]:
		return nil, nil, unsupportedAt(t, "primitive not implemented")
	}
	if _, ok := arithConsts[w]; ok {
		n, err := p.relation()
		return n, nil, err
	}
	return p.bareID(q)
}

// bareID is a value with no qualifier of its own: it takes the previous
// primitive's.
func (p *parser) bareID(q *qual) (node, *qual, error) {
	if q == nil {
		return nil, nil, &syntaxError{p.peek(), "a value needs a qualifier such as host or port"}
	}
	n, err := p.id(q)
	return n, q, err
}

// qualified parses [proto] [dir] [host|net|port|portrange|proto] value, or a
// bare protocol name.
func (p *parser) qualified() (node, *qual, error) {
	var q qual
	if t := p.peek(); protoNames[t.text] {
		q.proto = t.text
		p.next()
	}
	hasDir := false
	if t := p.peek(); t.is("src", "dst") {
		p.next()
		hasDir = true
		q.dir = dirSrc
		if t.text == "dst" {
			q.dir = dirDst
		}
		other := map[string]string{"src": "dst", "dst": "src"}[t.text]
		if c := p.peek(); c.is("or", "||", "and", "&&") && p.peekAt(1).is(other) {
			q.dir = dirOr
			if c.is("and", "&&") {
				q.dir = dirAnd
			}
			p.next()
			p.next()
		}
	}
	t := p.peek()
	switch {
	case t.is("host", "net", "port", "portrange"):
		q.addr = t.text
		p.next()
	case t.is("proto") && !hasDir:
		q.addr = "proto"
		p.next()
	case t.kind == tokWord && refused[t.text]:
		return nil, nil, unsupportedAt(t, "qualifier not implemented")
	case q.proto != "" && !hasDir:
		n, _ := p.lay.protoPrimitive(q.proto)
		return n, nil, nil
	}
	n, err := p.id(&q)
	return n, &q, err
}

// id parses the value of a primitive with qualifiers q.
func (p *parser) id(q *qual) (node, error) {
	t := p.next()
	switch q.addr {
	case "port", "portrange":
		return p.portID(q, t)
	case "proto":
		return p.protoID(q, t)
	}
	switch t.kind {
	case tokWord:
		if protoNames[t.text] || refused[t.text] || t.text == "vlan" {
			return nil, &syntaxError{t, "expected an address"}
		}
		return nil, unsupportedAt(t, "host and network names need a lookup: use an address")
	case tokNum:
		return p.addrID(q, t)
	}
	return nil, &syntaxError{t, "expected an address"}
}

func (p *parser) portID(q *qual, t token) (node, error) {
	if t.kind == tokWord {
		return nil, unsupportedAt(t, "service names need a lookup: use a port number")
	}
	lo, err := portNumber(t)
	if err != nil {
		return nil, err
	}
	hi := lo
	if q.addr == "portrange" && p.peek().is("-") {
		p.next()
		if hi, err = portNumber(p.next()); err != nil {
			return nil, err
		}
		lo, hi = min(lo, hi), max(lo, hi)
	}
	return p.lay.ports(q.proto, q.dir, lo, hi)
}

func portNumber(t token) (uint32, error) {
	if t.kind != tokNum {
		return 0, &syntaxError{t, "expected a port number"}
	}
	v, err := parseNumber(t.text)
	if err != nil {
		return 0, &syntaxError{t, "expected a port number"}
	}
	if v > 65535 {
		return 0, fmt.Errorf("illegal port number %d > 65535", v)
	}
	return v, nil
}

// protoNumbers are the names "proto \name" accepts.
var protoNumbers = map[string]uint32{
	"icmp": protoICMP, "igmp": protoIGMP, "tcp": protoTCP, "udp": protoUDP, "esp": protoESP,
	"ah": protoAH, "pim": protoPIM, "vrrp": protoVRRP, "sctp": protoSCTP,
}

func (p *parser) protoID(q *qual, t token) (node, error) {
	var v uint32
	switch t.kind {
	case tokNum:
		var err error
		if v, err = parseNumber(t.text); err != nil {
			return nil, &syntaxError{t, "expected a protocol number"}
		}
	case tokEscaped:
		var ok bool
		if v, ok = protoNumbers[t.text]; !ok {
			return nil, unsupportedAt(t, "unknown protocol name")
		}
	case tokWord:
		if protoNames[t.text] {
			return nil, &syntaxError{t, fmt.Sprintf("write \\%s or a number", t.text)}
		}
		return nil, unsupportedAt(t, "protocol names need a lookup: use a number")
	default:
		return nil, &syntaxError{t, "expected a protocol number"}
	}
	return p.lay.ipProto(q.proto, v)
}

func (p *parser) vlan() (node, error) {
	p.next()
	id := int64(-1)
	if t := p.peek(); t.kind == tokNum {
		v, err := parseNumber(t.text)
		if err != nil {
			return nil, &syntaxError{t, "expected a VLAN ID"}
		}
		if v > 4095 {
			return nil, fmt.Errorf("VLAN tag %d greater than maximum 4095", v)
		}
		p.next()
		id = int64(v)
	}
	return p.lay.vlan(id)
}

func (p *parser) lengthCmp() (node, error) {
	w := p.next()
	t := p.next()
	v, err := parseNumber(t.text)
	if t.kind != tokNum || err != nil {
		return nil, &syntaxError{t, "expected a length"}
	}
	code := []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtLen}}
	if w.text == "greater" {
		return &testNode{code: code, op: cmpGe, k: v}, nil
	}
	return &testNode{code: code, op: cmpGt, k: v, negate: true}, nil
}

// tryRelation parses "arith relop arith" if that is what comes next; it
// backtracks (ok false, no error) on a syntax error.
func (p *parser) tryRelation() (n node, ok bool, err error) {
	start := p.i
	n, err = p.relation()
	var se *syntaxError
	if errors.As(err, &se) {
		p.i = start
		return nil, false, nil
	}
	return n, err == nil, err
}

var relops = []string{"=", "==", "!=", "<", "<=", ">", ">="}

func (p *parser) relation() (node, error) {
	l, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	op := p.next()
	if !op.is(relops...) {
		return nil, &syntaxError{op, "expected a comparison"}
	}
	r, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	return relation(l, op.text, r)
}
