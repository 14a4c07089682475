package loader

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// dupWindow is how close in time two sightings of the same packet on two
// interfaces must be to count as one packet (a veth and its bridge see it
// within microseconds; a TCP retransmission comes 200 ms later at least).
const dupWindow = 5 * time.Millisecond

// dedupSlots bounds the memory of the duplicate filter.
const dedupSlots = 4096

// dedup drops a packet already seen on another interface a moment ago. It
// is a fixed-size table indexed by a hash of the packet's identity: a
// collision only forgets a packet, it never drops a different one, since
// the whole identity is compared.
type dedup struct {
	on      bool
	slots   []dedupSlot
	dropped uint64
	// first is, after seen reported a copy, the interface of the packet
	// it is a copy of.
	first int
}

type dedupKey struct {
	src, dst   netip.AddrPort
	seq, ack   uint32
	flags      uint8
	payloadLen int
}

type dedupSlot struct {
	key     dedupKey
	ifindex int
	when    time.Time
}

func newDedup(on bool) dedup {
	if !on {
		return dedup{}
	}
	return dedup{on: true, slots: make([]dedupSlot, dedupSlots)}
}

// seen records seg and reports whether it is a copy of a packet another
// interface showed within dupWindow.
func (d *dedup) seen(seg *segment.Segment) bool {
	if !d.on {
		return false
	}
	k := dedupKey{seg.Src, seg.Dst, seg.Seq, seg.Ack, seg.Flags, seg.PayloadLen}
	h := uint32(2166136261)
	for _, v := range []uint32{seg.Seq, seg.Ack, uint32(seg.Src.Port())<<16 | uint32(seg.Dst.Port()), uint32(seg.PayloadLen)} {
		h = (h ^ v) * 16777619
	}
	s := &d.slots[h%dedupSlots]
	if s.key == k && s.ifindex != seg.Ifindex && seg.Time.Sub(s.when) < dupWindow && seg.Time.Sub(s.when) > -dupWindow {
		d.dropped++
		d.first = s.ifindex
		return true
	}
	*s = dedupSlot{key: k, ifindex: seg.Ifindex, when: seg.Time}
	return false
}
