package pcapfile

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/zmtpdump/zmtpdump/segment"
)

// errNotTCP marks frames that hold no TCP segment zmtpdump can read: other
// protocols, non-first fragments, frames cut before the TCP header.
var errNotTCP = errors.New("not a TCP segment")

// Ethernet types.
const (
	etherIPv4   = 0x0800
	etherIPv6   = 0x86dd
	ether8021Q  = 0x8100
	ether8021AD = 0x88a8
	etherQinQ   = 0x9100 // the pre-802.1ad QinQ tag
)

// parseFrame fills the addressing, TCP header and payload of seg from one
// frame of link type lt. seg.Payload aliases frame. It returns errNotTCP,
// leaving seg in an unspecified state, for a frame that holds no TCP segment.
func parseFrame(lt LinkType, frame []byte, seg *segment.Segment) error {
	var ethType uint16
	var off int
	be := binary.BigEndian
	switch lt {
	case LinkEthernet:
		if len(frame) < 14 {
			return errNotTCP
		}
		ethType, off = be.Uint16(frame[12:]), 14
		for (ethType == ether8021Q || ethType == ether8021AD || ethType == etherQinQ) && len(frame) >= off+4 {
			ethType, off = be.Uint16(frame[off+2:]), off+4
		}
	case LinkSLL:
		if len(frame) < 16 {
			return errNotTCP
		}
		ethType, off = be.Uint16(frame[14:]), 16
	case LinkSLL2:
		if len(frame) < 20 {
			return errNotTCP
		}
		ethType, off = be.Uint16(frame[0:]), 20
	case LinkNull, LinkLoop:
		// A 4-byte address family, host order for NULL, network order for LOOP.
		if len(frame) < 4 {
			return errNotTCP
		}
		off = 4
		ethType = familyToEther(frame[:4])
	case LinkRaw, LinkIPv4, LinkIPv6:
		if len(frame) < 1 {
			return errNotTCP
		}
		switch frame[0] >> 4 {
		case 4:
			ethType = etherIPv4
		case 6:
			ethType = etherIPv6
		}
	default:
		return errNotTCP
	}
	return parseIP(ethType, frame[off:], seg)
}

// familyToEther maps a BSD loopback address family to an Ethernet type.
// AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 depending on the OS.
func familyToEther(b []byte) uint16 {
	v := binary.LittleEndian.Uint32(b)
	if v > 0xffff {
		v = binary.BigEndian.Uint32(b)
	}
	switch v {
	case 2:
		return etherIPv4
	case 10, 24, 28, 30:
		return etherIPv6
	}
	return 0
}

// IP protocol numbers parseIP knows.
const (
	protoHopByHop = 0
	protoTCP      = 6
	protoRouting  = 43
	protoFragment = 44
	protoAH       = 51
	protoDstOpts  = 60
)

// maxExtHeaders bounds the IPv6 extension headers parseIP walks through.
const maxExtHeaders = 8

func parseIP(ethType uint16, p []byte, seg *segment.Segment) error {
	be := binary.BigEndian
	var l4 []byte
	var room int // bytes of TCP header and payload the IP header claims
	switch ethType {
	case etherIPv4:
		if len(p) < 20 || p[0]>>4 != 4 || p[9] != protoTCP {
			return errNotTCP
		}
		if be.Uint16(p[6:])&0x1fff != 0 { // a later fragment
			return errNotTCP
		}
		ihl := int(p[0]&0x0f) * 4
		tot := int(be.Uint16(p[2:]))
		if ihl < 20 || len(p) < ihl {
			return errNotTCP
		}
		if tot == 0 {
			// Segmentation offload (TSO, BIG TCP) hands the capture
			// point packets whose length does not fit the field: trust
			// the capture, as tcpdump and Wireshark do.
			tot = len(p)
		}
		if tot < ihl {
			return errNotTCP
		}
		seg.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[12:16])), 0)
		seg.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[16:20])), 0)
		l4, room = p[ihl:], tot-ihl
	case etherIPv6:
		if len(p) < 40 || p[0]>>4 != 6 {
			return errNotTCP
		}
		seg.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(p[8:24])), 0)
		seg.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(p[24:40])), 0)
		l4, room = p[40:], int(be.Uint16(p[4:]))
		if room == 0 { // a jumbogram or BIG TCP packet: trust the capture
			room = len(l4)
		}
		// Walk the extension headers up to TCP.
		for next, i := p[6], 0; next != protoTCP; i++ {
			if i == maxExtHeaders || len(l4) < 8 {
				return errNotTCP
			}
			var n int
			switch next {
			case protoHopByHop, protoRouting, protoDstOpts:
				n = (int(l4[1]) + 1) * 8
			case protoFragment:
				if be.Uint16(l4[2:])&0xfff8 != 0 { // a later fragment
					return errNotTCP
				}
				n = 8
			case protoAH:
				n = (int(l4[1]) + 2) * 4
			default:
				return errNotTCP
			}
			if n > len(l4) || n > room {
				return errNotTCP
			}
			next, l4, room = l4[0], l4[n:], room-n
		}
	default:
		return errNotTCP
	}
	if len(l4) < 20 {
		return errNotTCP
	}
	doff := int(l4[12]>>4) * 4
	if doff < 20 || doff > room || len(l4) < doff {
		return errNotTCP
	}
	seg.Src = netip.AddrPortFrom(seg.Src.Addr(), be.Uint16(l4[0:]))
	seg.Dst = netip.AddrPortFrom(seg.Dst.Addr(), be.Uint16(l4[2:]))
	seg.Seq = be.Uint32(l4[4:])
	seg.Ack = be.Uint32(l4[8:])
	seg.Flags = l4[13]
	seg.Window = be.Uint16(l4[14:])
	seg.WScale = -1
	if seg.Flags&segment.SYN != 0 {
		seg.WScale = windowScale(l4[20:doff])
	}
	seg.PayloadLen = room - doff
	payload := l4[doff:]
	if len(payload) > seg.PayloadLen {
		payload = payload[:seg.PayloadLen] // Ethernet padding
	}
	seg.Payload = payload[:len(payload):len(payload)] // an append must not write past it
	return nil
}

// TCP option kinds (RFC 9293 section 3.2, RFC 7323 section 2.2).
const (
	optEnd         = 0
	optNOP         = 1
	optWindowScale = 3
)

// maxWindowScale is the largest window scale shift: a larger one counts as
// 14 (RFC 7323 section 2.3).
const maxWindowScale = 14

// windowScale returns the shift of the window scale option among a SYN's
// TCP options, or -1 when there is none. As bpf/capture.c's walk, it stops
// at the end of the options and at an option that is malformed or does not
// fit.
func windowScale(opts []byte) int8 {
	for len(opts) > 0 {
		switch opts[0] {
		case optEnd:
			return -1
		case optNOP:
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
			return -1
		}
		if opts[0] == optWindowScale {
			if opts[1] != 3 {
				return -1
			}
			return int8(min(opts[2], maxWindowScale))
		}
		opts = opts[opts[1]:]
	}
	return -1
}
