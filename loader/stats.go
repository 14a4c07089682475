package loader

import (
	"fmt"

	"github.com/zmtpdump/zmtpdump/bpf"
)

// Stats are the kernel's counters, summed over CPUs.
type Stats struct {
	// Matched counts packets that matched the filter.
	Matched uint64
	// Lost counts matched packets dropped because the ring buffer was full.
	Lost uint64
	// Cut counts packets whose payload exceeded what one record holds.
	Cut uint64
	// LoadErrors counts packets whose payload could not be read.
	LoadErrors uint64
	// Duplicates counts packets dropped in userspace because another
	// interface had just shown the same packet (a veth and its bridge).
	Duplicates uint64
	// RingBytes counts the bytes written to the ring buffer, record
	// headers included.
	RingBytes uint64
	// Elided counts payload bytes that kernel-side framing left out
	// (inside message frame bodies, or retransmitted).
	Elided uint64
	// Unframed counts connection directions whose frames kernel-side
	// framing stopped following (then shipped whole), and joins given up
	// because the join point's byte passed unseen (see Capture.Join).
	Unframed uint64
	// Joined counts join points (Capture.Join) at which the kernel's walk
	// started.
	Joined uint64
	// Skipped counts TCP packets, of any port, the kernel could not parse
	// up to their TCP header: later fragments (IPv4, or IPv6 with a
	// fragment header), IPv6 packets with more than six extension headers
	// before their upper-layer header, frames with more than two VLAN
	// tags. Their bytes are missing from the streams (later found lost).
	Skipped uint64
	// QuietAcks counts, in count mode (Config.CountOnly), pure ACKs of
	// directions the kernel follows that it did not ship: no news (no
	// zero window, no window reopening, no probe).
	QuietAcks uint64
	// Raced counts, in count mode, walks of a direction that ran while
	// another walk of it did (packets of one flow on two CPUs) and whose
	// counts the kernel merged with the other's instead of one overwriting
	// the other (review K2).
	Raced uint64
}

// Counter indices, as enum counter in bpf/capture.c.
const (
	cntMatched = iota
	cntRingFull
	cntCut
	cntLoadErr
	cntRingBytes
	cntElided
	cntUnframed
	cntJoined
	cntSkipped
	cntQuietAcks
	cntRaced
)

// Stats reads the kernel's counters.
func (c *Capture) Stats() (Stats, error) {
	s, err := readCounters(c.first)
	s.Duplicates = c.dedup.dropped
	return s, err
}

// readCounters sums the kernel counters of objs over CPUs.
func readCounters(objs *bpf.CaptureObjects) (Stats, error) {
	var s Stats
	for _, k := range []struct {
		idx uint32
		dst *uint64
	}{{cntMatched, &s.Matched}, {cntRingFull, &s.Lost}, {cntCut, &s.Cut}, {cntLoadErr, &s.LoadErrors},
		{cntRingBytes, &s.RingBytes}, {cntElided, &s.Elided}, {cntUnframed, &s.Unframed}, {cntJoined, &s.Joined},
		{cntSkipped, &s.Skipped}, {cntQuietAcks, &s.QuietAcks}, {cntRaced, &s.Raced}} {
		var per []uint64
		if err := objs.Counters.Lookup(k.idx, &per); err != nil {
			return s, fmt.Errorf("read kernel counter %d: %w", k.idx, err)
		}
		for _, v := range per {
			*k.dst += v
		}
	}
	return s, nil
}
