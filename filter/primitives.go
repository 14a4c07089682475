package filter

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
)

// EtherTypes and IP protocol numbers the primitives test.
const (
	etherIPv4 = 0x0800
	etherARP  = 0x0806
	etherRARP = 0x8035
	etherIPv6 = 0x86dd

	protoICMP   = 1
	protoIGMP   = 2
	protoTCP    = 6
	protoUDP    = 17
	protoFrag6  = 44 // IPv6 fragment header
	protoESP    = 50
	protoAH     = 51
	protoICMPv6 = 58
	protoPIM    = 103
	protoVRRP   = 112
	protoSCTP   = 132
)

// direction is a src/dst qualifier.
type direction int

const (
	dirDefault direction = iota // src or dst
	dirSrc
	dirDst
	dirOr  // src or dst
	dirAnd // src and dst
)

// combine applies a direction to tests of the source and destination fields.
func (d direction) combine(src, dst func() node) node {
	switch d {
	case dirSrc:
		return src()
	case dirDst:
		return dst()
	case dirAnd:
		return and(src(), dst())
	}
	return or(src(), dst())
}

// layout is where headers sit in the packets being filtered. "vlan" moves
// typeOff and net for every primitive after it, as in libpcap.
type layout struct {
	lt      LinkType
	typeOff uint32 // EtherType / SLL protocol field (not RawIP)
	net     uint32 // network-layer header
}

func newLayout(lt LinkType) layout {
	switch lt {
	case RawIP:
		return layout{lt: lt}
	case LinuxSLL:
		return layout{lt: lt, typeOff: 14, net: 16}
	case LinuxSLL2:
		return layout{lt: lt, typeOff: 0, net: 20}
	}
	return layout{lt: lt, typeOff: 12, net: 14}
}

// linkType tests the link-layer protocol. Raw IP has only IPv4 and IPv6,
// told apart by the version nibble; anything else never matches there.
func (l layout) linkType(etherType uint32) node {
	if l.lt == RawIP {
		switch etherType {
		case etherIPv4:
			return cmpAbs(0, 1, 0xf0, 0x40)
		case etherIPv6:
			return cmpAbs(0, 1, 0xf0, 0x60)
		}
		return constNode(false)
	}
	return cmpAbs(l.typeOff, 2, 0xffffffff, etherType)
}

func (l layout) ipv4() node { return l.linkType(etherIPv4) }
func (l layout) ipv6() node { return l.linkType(etherIPv6) }

// v4Proto: IPv4 with protocol p.
func (l layout) v4Proto(p uint32) node {
	return and(l.ipv4(), cmpAbs(l.net+9, 1, 0xffffffff, p))
}

// v6Proto: IPv6 with next header p, directly or after a fragment header
// (libpcap looks no further).
func (l layout) v6Proto(p uint32) node {
	nh := func() node { return cmpAbs(l.net+6, 1, 0xffffffff, p) }
	return and(l.ipv6(), or(nh(), and(cmpAbs(l.net+6, 1, 0xffffffff, protoFrag6), cmpAbs(l.net+40, 1, 0xffffffff, p))))
}

// notFragment: the IPv4 fragment offset is zero (first or only fragment).
func (l layout) notFragment() node {
	return &testNode{code: []bpf.Instruction{bpf.LoadAbsolute{Off: l.net + 6, Size: 2}}, op: cmpSet, k: 0x1fff, negate: true}
}

// protoPrimitive is a bare protocol name such as "tcp" or "ip6".
func (l layout) protoPrimitive(name string) (node, bool) {
	switch name {
	case "ip":
		return l.ipv4(), true
	case "ip6":
		return l.ipv6(), true
	case "arp":
		return l.linkType(etherARP), true
	case "rarp":
		return l.linkType(etherRARP), true
	case "icmp":
		return l.v4Proto(protoICMP), true
	case "igmp":
		return l.v4Proto(protoIGMP), true
	case "vrrp":
		return l.v4Proto(protoVRRP), true
	case "icmp6":
		return l.v6Proto(protoICMPv6), true
	}
	if p, ok := dualStack[name]; ok {
		return or(l.v4Proto(p), l.v6Proto(p)), true
	}
	return nil, false
}

// dualStack are the protocols a bare name matches over IPv4 and IPv6.
var dualStack = map[string]uint32{
	"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP,
	"esp": protoESP, "ah": protoAH, "pim": protoPIM,
}

// transport are the protocols whose ports "port" tests.
var transport = map[string]uint32{"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP}

// ipProto is "[ip|ip6] proto N".
func (l layout) ipProto(qproto string, p uint32) (node, error) {
	switch qproto {
	case "":
		return or(l.v4Proto(p), l.v6Proto(p)), nil
	case "ip":
		return l.v4Proto(p), nil
	case "ip6":
		return l.v6Proto(p), nil
	}
	return nil, fmt.Errorf("'%s' modifier applied to proto", qproto)
}

// host4 is host/net on an IPv4 address v masked with mask.
func (l layout) host4(qproto string, dir direction, v, mask uint32) (node, error) {
	at := func(src, dst uint32) node {
		return dir.combine(
			func() node { return cmpAbs(src, 4, mask, v) },
			func() node { return cmpAbs(dst, 4, mask, v) })
	}
	ip := func() node { return and(l.ipv4(), at(l.net+12, l.net+16)) }
	// ARP and RARP for Ethernet/IPv4: sender address at 14, target at 24.
	arp := func(t uint32) node { return and(l.linkType(t), at(l.net+14, l.net+24)) }
	switch qproto {
	case "":
		return or(ip(), arp(etherARP), arp(etherRARP)), nil
	case "ip":
		return ip(), nil
	case "arp":
		return arp(etherARP), nil
	case "rarp":
		return arp(etherRARP), nil
	}
	return nil, fmt.Errorf("'%s' modifier applied to ip host", qproto)
}

// host6 is host/net on an IPv6 address masked with mask; words the mask
// ignores are not loaded, as in libpcap.
func (l layout) host6(qproto string, dir direction, addr, mask [16]byte) (node, error) {
	if qproto != "" && qproto != "ip6" {
		return nil, fmt.Errorf("'%s' modifier applied to ip6 host", qproto)
	}
	at := func(off uint32) func() node {
		return func() node {
			var words []node
			for i := 0; i < 4; i++ {
				m := binary.BigEndian.Uint32(mask[4*i:])
				if m != 0 {
					words = append(words, cmpAbs(off+uint32(4*i), 4, m, binary.BigEndian.Uint32(addr[4*i:])&m))
				}
			}
			return and(words...)
		}
	}
	return and(l.ipv6(), dir.combine(at(l.net+8), at(l.net+24))), nil
}

// ports is "[tcp|udp|sctp] [src|dst] port(range) lo[-hi]".
func (l layout) ports(qproto string, dir direction, lo, hi uint32) (node, error) {
	protos := []uint32{protoSCTP, protoTCP, protoUDP}
	if qproto != "" {
		p, ok := transport[qproto]
		if !ok {
			return nil, fmt.Errorf("illegal qualifier of 'port': '%s'", qproto)
		}
		protos = []uint32{p}
	}
	anyOf := func(off uint32) node {
		var alts []node
		for _, p := range protos {
			alts = append(alts, cmpAbs(off, 1, 0xffffffff, p))
		}
		return or(alts...)
	}
	// field tests the 16-bit port at off; load is the code that reads it.
	field := func(load func() []bpf.Instruction) node {
		if lo == hi {
			return &testNode{code: load(), op: cmpEq, k: lo}
		}
		return and(&testNode{code: load(), op: cmpGe, k: lo}, &testNode{code: load(), op: cmpGt, k: hi, negate: true})
	}
	v4field := func(off uint32) func() node {
		return func() node {
			return field(func() []bpf.Instruction {
				return []bpf.Instruction{bpf.LoadMemShift{Off: l.net}, bpf.LoadIndirect{Off: l.net + off, Size: 2}}
			})
		}
	}
	v6field := func(off uint32) func() node {
		return func() node {
			return field(func() []bpf.Instruction {
				return []bpf.Instruction{bpf.LoadAbsolute{Off: l.net + 40 + off, Size: 2}}
			})
		}
	}
	v4 := and(l.ipv4(), anyOf(l.net+9), l.notFragment(), dir.combine(v4field(0), v4field(2)))
	v6 := and(l.ipv6(), anyOf(l.net+6), dir.combine(v6field(0), v6field(2)))
	return or(v4, v6), nil
}

// vlan tests for an 802.1Q/802.1ad tag (and its VLAN ID when id >= 0) with
// plain loads, as libpcap does when no kernel VLAN metadata is available,
// then moves the layout past the tag.
func (l *layout) vlan(id int64) (node, error) {
	if l.lt != Ethernet {
		return nil, fmt.Errorf("no VLAN support for link type %v", l.lt)
	}
	tpid := func(v uint32) node { return cmpAbs(l.typeOff, 2, 0xffffffff, v) }
	n := or(tpid(0x8100), tpid(0x88a8), tpid(0x9100))
	if id >= 0 {
		n = and(n, cmpAbs(l.typeOff+2, 2, 0x0fff, uint32(id)))
	}
	l.typeOff += 4
	l.net += 4
	return n, nil
}

// byteLoad builds proto[idx:size].
func (l layout) byteLoad(proto string, idx arith, size int) (arith, error) {
	if size != 1 && size != 2 && size != 4 {
		return nil, fmt.Errorf("data size must be 1, 2, or 4")
	}
	ld := loadArith{guard: constNode(true), idx: idx, size: size}
	switch proto {
	case "ether", "link":
		// The link-layer header, whatever it is; "vlan" does not move it.
	case "ip":
		ld.guard, ld.base = l.ipv4(), l.net
	case "ip6":
		ld.guard, ld.base = l.ipv6(), l.net
	case "arp", "rarp":
		t := uint32(etherARP)
		if proto == "rarp" {
			t = etherRARP
		}
		ld.guard, ld.base = l.linkType(t), l.net
	case "icmp6":
		ld.guard, ld.base = and(l.ipv6(), cmpAbs(l.net+6, 1, 0xffffffff, protoICMPv6)), l.net+40
	default:
		p, ok := map[string]uint32{"tcp": protoTCP, "udp": protoUDP, "sctp": protoSCTP,
			"icmp": protoICMP, "igmp": protoIGMP, "pim": protoPIM, "vrrp": protoVRRP}[proto]
		if !ok {
			return nil, fmt.Errorf("%w: \"%s[...]\"", ErrUnsupported, proto)
		}
		ld.guard = and(l.ipv4(), cmpAbs(l.net+9, 1, 0xffffffff, p), l.notFragment())
		ld.base, ld.msh, ld.msh0 = l.net, true, l.net
	}
	return ld, nil
}
