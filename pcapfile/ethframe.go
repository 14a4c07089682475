package pcapfile

import (
	"encoding/binary"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Header sizes and the fixed values of rebuilt headers.
const (
	ethHeaderLen  = 14
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	// tcpHeaderLen: the kernel ships no TCP options, so the rebuilt
	// header has none (data offset 5)...
	tcpHeaderLen = 20
	// ...but on a SYN whose window scale shift is known (Segment.WScale),
	// which gets a NOP and a window scale option: 4 bytes, data offset 6.
	// Wireshark then scales the windows of the connection.
	wscaleOptLen = 4
	// rebuiltTTL is the IPv4 TTL and IPv6 hop limit written (Linux's
	// default): the kernel does not ship the real one.
	rebuiltTTL = 64
	// maxIPLen is the largest IPv4 total length or IPv6 payload length.
	maxIPLen = 65535
)

// tcpOptsLen returns the length of the TCP options written in the frame of
// seg that carries its flags: a window scale option on a SYN whose shift
// is known, else none.
func tcpOptsLen(seg *segment.Segment) int {
	if seg.Flags&segment.SYN != 0 && seg.WScale >= 0 {
		return wscaleOptLen
	}
	return 0
}

// headersLen returns the length of the rebuilt headers of seg's first
// frame (later ones, of a super-packet, have no TCP options).
func headersLen(link LinkType, seg *segment.Segment) int {
	n := tcpHeaderLen + tcpOptsLen(seg) + ipv4HeaderLen
	if is6(seg) {
		n = tcpHeaderLen + tcpOptsLen(seg) + ipv6HeaderLen
	}
	if link == LinkEthernet {
		n += ethHeaderLen
	}
	return n
}

// maxChunk is the most payload one rebuilt IPv4 or IPv6 packet can say it
// carries: a GSO super-packet (or a BIG TCP one) larger than that is
// written as several packets.
func maxChunk(seg *segment.Segment) int {
	if is6(seg) {
		return maxIPLen - tcpHeaderLen - tcpOptsLen(seg)
	}
	return maxIPLen - ipv4HeaderLen - tcpHeaderLen - tcpOptsLen(seg)
}

func is6(seg *segment.Segment) bool { return seg.Src.Addr().Is6() && !seg.Src.Addr().Is4In6() }

// appendFrame appends the frame of one packet of seg to b: headers rebuilt
// from seg with the given sequence number and flags (and seg's window; on a
// SYN whose shift is known, its window scale option), then payload, the
// captured part of a TCP payload of payloadLen bytes. The IPv4 header
// checksum is always valid; the TCP checksum is valid when the whole
// payload was captured, and 0 when it was cut (it cannot be computed).
func appendFrame(b []byte, link LinkType, seg *segment.Segment, seq uint32, flags uint8, payload []byte, payloadLen int) []byte {
	be := binary.BigEndian
	v6 := is6(seg)
	hlen := tcpHeaderLen
	if flags&segment.SYN != 0 {
		hlen += tcpOptsLen(seg)
	}
	if link == LinkEthernet {
		var eth [ethHeaderLen]byte // zero destination and source addresses
		if v6 {
			be.PutUint16(eth[12:], 0x86dd)
		} else {
			be.PutUint16(eth[12:], 0x0800)
		}
		b = append(b, eth[:]...)
	}
	src, dst := seg.Src.Addr(), seg.Dst.Addr()
	tcpLen := hlen + payloadLen
	// The pseudo-header sum of the TCP checksum (RFC 793, RFC 8200 8.1).
	var pseudo uint32
	if v6 {
		var ip [ipv6HeaderLen]byte
		ip[0] = 0x60
		be.PutUint16(ip[4:], uint16(tcpLen))
		ip[6] = 6 // TCP
		ip[7] = rebuiltTTL
		s, d := src.As16(), dst.As16()
		copy(ip[8:], s[:])
		copy(ip[24:], d[:])
		pseudo = sum(0, ip[8:40]) + uint32(tcpLen>>16) + uint32(tcpLen&0xffff) + 6
		b = append(b, ip[:]...)
	} else {
		var ip [ipv4HeaderLen]byte
		ip[0] = 0x45
		be.PutUint16(ip[2:], uint16(ipv4HeaderLen+tcpLen))
		be.PutUint16(ip[6:], 0x4000) // DF, as Linux sends TCP
		ip[8] = rebuiltTTL
		ip[9] = 6 // TCP
		s, d := src.Unmap().As4(), dst.Unmap().As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		be.PutUint16(ip[10:], fold(sum(0, ip[:])))
		pseudo = sum(0, ip[12:20]) + uint32(tcpLen) + 6
		b = append(b, ip[:]...)
	}
	var tcp [tcpHeaderLen + wscaleOptLen]byte
	be.PutUint16(tcp[0:], seg.Src.Port())
	be.PutUint16(tcp[2:], seg.Dst.Port())
	be.PutUint32(tcp[4:], seq)
	be.PutUint32(tcp[8:], seg.Ack)
	tcp[12] = byte(hlen / 4 << 4)
	tcp[13] = flags
	be.PutUint16(tcp[14:], seg.Window)
	if hlen > tcpHeaderLen {
		// NOP, then kind 3, length 3, the shift (RFC 7323 section 2.2).
		tcp[20], tcp[21], tcp[22], tcp[23] = optNOP, optWindowScale, 3, byte(seg.WScale)
	}
	if len(payload) == payloadLen {
		be.PutUint16(tcp[16:], fold(sum(sum(pseudo, tcp[:hlen]), payload)))
	}
	b = append(b, tcp[:hlen]...)
	return append(b, payload...)
}

// sum adds p to the running ones' complement sum s as 16-bit big-endian
// words (RFC 1071); an odd last byte is padded with zero. p must start on
// an even offset of the checksummed data. It adds eight bytes at a time as
// two 32-bit words (2^16 = 1 in ones' complement arithmetic, RFC 1071
// section 2(B)) and returns the sum folded to 16 bits, so that callers can
// keep adding without wrapping.
func sum(s uint32, p []byte) uint32 {
	acc, acc2 := uint64(s), uint64(0)
	for len(p) >= 32 {
		p = p[:len(p):len(p)]
		a, b := binary.BigEndian.Uint64(p), binary.BigEndian.Uint64(p[8:])
		c, d := binary.BigEndian.Uint64(p[16:]), binary.BigEndian.Uint64(p[24:])
		acc += a>>32 + a&0xffffffff + b>>32 + b&0xffffffff
		acc2 += c>>32 + c&0xffffffff + d>>32 + d&0xffffffff
		p = p[32:]
	}
	acc += acc2
	for len(p) >= 8 {
		v := binary.BigEndian.Uint64(p)
		acc += v>>32 + v&0xffffffff
		p = p[8:]
	}
	for len(p) >= 2 {
		acc += uint64(p[0])<<8 | uint64(p[1])
		p = p[2:]
	}
	if len(p) == 1 {
		acc += uint64(p[0]) << 8
	}
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return uint32(acc)
}

// fold turns a running sum into a checksum: carries folded, complemented.
func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
