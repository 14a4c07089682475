package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// parseNumber parses a number as pcap-filter does: decimal, 0x hexadecimal
// or 0-prefixed octal, 32 bits.
func parseNumber(s string) (uint32, error) {
	base := 10
	switch {
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	v, err := strconv.ParseUint(s, base, 32)
	return uint32(v), err
}

// addrID parses the address of a host or net primitive: an IPv6 address
// with an optional /len, or an IPv4 address of one to four dotted parts
// with an optional /len or "mask M" (net only).
func (p *parser) addrID(q *qual, t token) (node, error) {
	if strings.Contains(t.text, ":") {
		return p.addr6(q, t)
	}
	v, mask, err := p.addr4(q, t)
	if err != nil {
		return nil, err
	}
	return p.lay.host4(q.proto, q.dir, v, mask)
}

// addr4 returns the address and mask of an IPv4 host or net.
func (p *parser) addr4(q *qual, t token) (v, mask uint32, err error) {
	isNet := q.addr == "net"
	if !strings.Contains(t.text, ".") {
		// A plain number is the whole address; as a net, it is shifted
		// left until its top byte is set ("net 10" is 10.0.0.0/8).
		if v, err = parseNumber(t.text); err != nil {
			return 0, 0, &syntaxError{t, "expected an address"}
		}
		mask = 0xffffffff
		for isNet && v != 0 && v&0xff000000 == 0 {
			v, mask = v<<8, mask<<8
		}
		return v, mask, nil
	}
	v, bits, err := dotted(t)
	if err != nil {
		return 0, 0, err
	}
	// A partial address covers its leading bytes: "net 10.1" is 10.1.0.0/16.
	v <<= 32 - bits
	mask = ^uint32(0) << (32 - bits)
	switch n := p.peek(); {
	case n.is("/"):
		p.next()
		lt := p.next()
		plen, err := parseNumber(lt.text)
		if lt.kind != tokNum || err != nil {
			return 0, 0, &syntaxError{lt, "expected a prefix length"}
		}
		if plen > 32 {
			return 0, 0, fmt.Errorf("mask length must be <= 32")
		}
		mask = 0
		if plen > 0 {
			mask = ^uint32(0) << (32 - plen)
		}
	case n.is("mask"):
		p.next()
		mt := p.next()
		m, mbits, err := dotted(mt)
		if err != nil {
			return 0, 0, err
		}
		mask = m << (32 - mbits)
	default:
		return v, mask, nil
	}
	if !isNet {
		return 0, 0, fmt.Errorf("mask syntax for networks only")
	}
	if v&^mask != 0 {
		return 0, 0, fmt.Errorf("non-network bits set in %q", t.text)
	}
	return v, mask, nil
}

// dotted parses one to four dotted decimal bytes, returning them packed in
// the low bits and their bit count.
func dotted(t token) (v uint32, bits uint32, err error) {
	if t.kind != tokNum {
		return 0, 0, &syntaxError{t, "expected an IPv4 address"}
	}
	parts := strings.Split(t.text, ".")
	if len(parts) > 4 {
		return 0, 0, fmt.Errorf("bad IPv4 address %q", t.text)
	}
	for _, s := range parts {
		b, err := strconv.ParseUint(s, 10, 8)
		if err != nil {
			return 0, 0, fmt.Errorf("bad IPv4 address %q", t.text)
		}
		v = v<<8 | uint32(b)
	}
	return v, uint32(8 * len(parts)), nil
}

func (p *parser) addr6(q *qual, t token) (node, error) {
	a, err := netip.ParseAddr(t.text)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return nil, fmt.Errorf("bad IPv6 address %q", t.text)
	}
	plen := 128
	if p.peek().is("/") {
		p.next()
		lt := p.next()
		n, err := parseNumber(lt.text)
		if lt.kind != tokNum || err != nil {
			return nil, &syntaxError{lt, "expected a prefix length"}
		}
		if n > 128 {
			return nil, fmt.Errorf("mask length must be <= 128")
		}
		if q.addr != "net" {
			return nil, fmt.Errorf("mask syntax for networks only")
		}
		plen = int(n)
	} else if p.peek().is("mask") {
		return nil, fmt.Errorf("mask syntax for IPv6 networks: use /len")
	}
	addr := a.As16()
	var mask [16]byte
	for i := 0; i < plen; i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	for i := range addr {
		if addr[i]&^mask[i] != 0 {
			return nil, fmt.Errorf("non-network bits set in %q", t.text)
		}
	}
	return p.lay.host6(q.proto, q.dir, addr, mask)
}
