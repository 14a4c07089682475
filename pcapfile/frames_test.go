package pcapfile

import (
	"encoding/binary"
	"net/netip"
)

// Hand-made frames for the parser tests. Every helper returns a new slice.

var be = binary.BigEndian

// tcpSeg is a TCP header with its options and payload.
type tcpSeg struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	window       uint16
	opts         []byte // a multiple of 4 bytes
	// wscale is the shift a SYN's opts give (RFC 7323: at most 14), when
	// hasWScale: what the reader must find.
	wscale    int8
	hasWScale bool
	payload   []byte
}

func (s tcpSeg) bytes() []byte {
	if len(s.opts)%4 != 0 {
		panic("TCP options must fill 32-bit words")
	}
	h := make([]byte, 20+len(s.opts), 20+len(s.opts)+len(s.payload))
	be.PutUint16(h[0:], s.sport)
	be.PutUint16(h[2:], s.dport)
	be.PutUint32(h[4:], s.seq)
	be.PutUint32(h[8:], s.ack)
	h[12] = byte(len(h)/4) << 4
	h[13] = s.flags
	be.PutUint16(h[14:], s.window)
	copy(h[20:], s.opts)
	return append(h, s.payload...)
}

// ipv4 returns an IPv4 packet of protocol proto around l4; opts (a multiple
// of 4 bytes) makes ihl larger than 5.
func ipv4(src, dst string, proto byte, opts, l4 []byte) []byte {
	if len(opts)%4 != 0 {
		panic("IPv4 options must fill 32-bit words")
	}
	ihl := 20 + len(opts)
	h := make([]byte, ihl, ihl+len(l4))
	h[0] = 0x40 | byte(ihl/4)
	be.PutUint16(h[2:], uint16(ihl+len(l4)))
	be.PutUint16(h[4:], 0x1234) // id
	be.PutUint16(h[6:], 0x4000) // DF
	h[8] = 64
	h[9] = proto
	a4 := netip.MustParseAddr(src).As4()
	copy(h[12:], a4[:])
	a4 = netip.MustParseAddr(dst).As4()
	copy(h[16:], a4[:])
	copy(h[20:], opts)
	be.PutUint16(h[10:], ipChecksum(h))
	return append(h, l4...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(be.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// ipv6 returns an IPv6 packet whose first next header is next around rest.
func ipv6(src, dst string, next byte, rest []byte) []byte {
	h := make([]byte, 40, 40+len(rest))
	h[0] = 0x60
	be.PutUint16(h[4:], uint16(len(rest)))
	h[6] = next
	h[7] = 64
	a16 := netip.MustParseAddr(src).As16()
	copy(h[8:], a16[:])
	a16 = netip.MustParseAddr(dst).As16()
	copy(h[24:], a16[:])
	return append(h, rest...)
}

// ext6 returns an IPv6 extension header of the hop-by-hop/routing/
// destination options shape: next header, length in 8-byte units past the
// first 8, padded with zeros (PadN) to size bytes.
func ext6(next byte, size int, rest []byte) []byte {
	h := make([]byte, size, size+len(rest))
	h[0] = next
	h[1] = byte(size/8 - 1)
	return append(h, rest...)
}

// frag6 returns an IPv6 fragment header at fragment offset off (8-byte units).
func frag6(next byte, off uint16, more bool, rest []byte) []byte {
	h := make([]byte, 8, 8+len(rest))
	h[0] = next
	v := off << 3
	if more {
		v |= 1
	}
	be.PutUint16(h[2:], v)
	be.PutUint32(h[4:], 0xabcd)
	return append(h, rest...)
}

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
)

// eth returns an Ethernet frame; tags are VLAN TPIDs (0x8100, 0x88a8),
// outermost first, each followed by a TCI.
func eth(ethType uint16, payload []byte, tags ...uint16) []byte {
	f := append(append([]byte{}, macB...), macA...)
	for i, tpid := range tags {
		f = be.AppendUint16(f, tpid)
		f = be.AppendUint16(f, uint16(100+i)) // VLAN id
	}
	f = be.AppendUint16(f, ethType)
	return append(f, payload...)
}

// sll returns a Linux cooked (v1) frame.
func sll(proto uint16, payload []byte) []byte {
	f := be.AppendUint16(nil, 0) // packet type: to us
	f = be.AppendUint16(f, 1)    // ARPHRD_ETHER
	f = be.AppendUint16(f, 6)    // address length
	f = append(f, macA...)
	f = append(f, 0, 0) // address padding to 8
	f = be.AppendUint16(f, proto)
	return append(f, payload...)
}

// sll2 returns a Linux cooked v2 frame.
func sll2(proto uint16, payload []byte) []byte {
	f := be.AppendUint16(nil, proto)
	f = be.AppendUint16(f, 0) // reserved
	f = be.AppendUint32(f, 7) // interface index
	f = be.AppendUint16(f, 1) // ARPHRD_ETHER
	f = append(f, 4, 6)       // packet type: outgoing, address length
	f = append(f, macA...)    // address
	f = append(f, 0, 0)       // padding to 8
	return append(f, payload...)
}

// null returns a DLT_NULL frame: a host-order (here little-endian) family.
func null(family uint32, payload []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(nil, family), payload...)
}

// nullBE is a DLT_NULL frame written on a big-endian host.
func nullBE(family uint32, payload []byte) []byte {
	return append(be.AppendUint32(nil, family), payload...)
}

// loop returns a DLT_LOOP frame: a network-order family.
func loop(family uint32, payload []byte) []byte {
	return append(be.AppendUint32(nil, family), payload...)
}

// padTo pads a frame with zeros to n bytes, as Ethernet does to 60.
func padTo(f []byte, n int) []byte {
	for len(f) < n {
		f = append(f, 0)
	}
	return f
}

// with returns a copy of b with b[i] set to v.
func with(b []byte, i int, v byte) []byte {
	c := append([]byte{}, b...)
	c[i] = v
	return c
}

// with16 returns a copy of b with a big-endian uint16 v at i.
func with16(b []byte, i int, v uint16) []byte {
	c := append([]byte{}, b...)
	be.PutUint16(c[i:], v)
	return c
}
