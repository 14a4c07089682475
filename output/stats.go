package output

import (
	"fmt"
	"io"
	"strconv"
)

// Stats are the exit statistics of a live capture: the reader's, the
// kernel's and the reassembler's counts. Text shows them for people, on
// stderr; JSON also as a last line whose keys are fixed (see AppendJSON).
type Stats struct {
	PacketsCaptured   uint64 // segments read from the ring buffer
	PacketsMatched    uint64 // packets the kernel matched
	RingDrops         uint64 // records lost, the ring buffer full
	Events            uint64 // ZMTP events decoded
	Messages          uint64 // ZMTP messages decoded
	Connections       uint64 // TCP connections seen
	BytesReassembled  uint64 // payload bytes delivered in order
	OutOfOrder        uint64 // segments held behind a hole
	Retransmitted     uint64 // segments carrying bytes seen before
	Gaps              uint64 // gaps reported
	BytesLost         uint64 // bytes the gaps lost
	BytesNotCaptured  uint64 // bytes on the wire, not captured (snap)
	PacketsCut        uint64 // payloads too large for the kernel to copy
	PacketsUnreadable uint64 // packets the kernel could not read
	PacketsNotParsed  uint64 // later fragments, too many extension headers or VLAN tags
	// KernelFraming reports that the kernel walked ZMTP frames: the four
	// counts after it are only meaningful then.
	KernelFraming      bool
	RingBytes          uint64 // bytes through the ring buffer
	BytesElided        uint64 // payload bytes left out by kernel framing
	DirectionsUnframed uint64 // connection directions not followed
	Joined             uint64 // directions joined mid-stream
	RSTIgnored         uint64 // RSTs outside the TCP window
	FINIgnored         uint64 // FINs outside the TCP window
	AcksIgnored        uint64 // acknowledgments of bytes never seen
	Duplicates         uint64 // packets seen twice (on two interfaces)
	InterfacesAdded    uint64 // interfaces -i any began capturing on
	InterfacesRemoved  uint64 // interfaces that vanished
	// IPC reports an ipc:// capture (--ipc): the counts after it are only
	// meaningful then, and only then written.
	IPC            bool
	IPCConnections uint64 // ipc connections seen (also in Connections)
	IPCRecords     uint64 // records of Unix socket sends read
	IPCLost        uint64 // ipc records lost, the ring buffer full
	IPCCut         uint64 // bytes of sends larger than their records hold
	IPCMissed      uint64 // ipc programs the kernel skipped (recursion guard)
	IPCUnreadable  uint64 // bytes of sends whose buffer the capture cannot find (sendmmsg, io_uring, ...)
	// IPCOnly reports an ipc capture without TCP (--ipc without -i): the
	// text leaves out the lines of the TCP capture's kernel counts.
	IPCOnly bool
}

// WriteText writes the statistics for people, a sentence a line; the
// lines of counts that are all zero and only sometimes apply are left out.
func (st *Stats) WriteText(w io.Writer) error {
	var b []byte
	if st.IPCOnly {
		b = fmt.Appendf(b, "%d packets captured\n%d ZMTP events decoded\n", st.PacketsCaptured, st.Events)
	} else {
		b = fmt.Appendf(b, "%d packets captured\n%d packets matched in the kernel\n%d packets dropped by kernel (ring buffer full)\n%d ZMTP events decoded\n",
			st.PacketsCaptured, st.PacketsMatched, st.RingDrops, st.Events)
	}
	b = fmt.Appendf(b, "%d connections, %d bytes reassembled, %d segments out of order, %d retransmitted, %d gaps (%d bytes lost), %d bytes not captured (snap)\n",
		st.Connections, st.BytesReassembled, st.OutOfOrder, st.Retransmitted, st.Gaps, st.BytesLost, st.BytesNotCaptured)
	if !st.IPCOnly {
		b = fmt.Appendf(b, "%d packets cut in the kernel (payload too large to copy), %d unreadable there (counted as lost), %d not parsed (later fragments, more than 6 IPv6 extension headers or 2 VLAN tags)\n",
			st.PacketsCut, st.PacketsUnreadable, st.PacketsNotParsed)
	}
	if st.KernelFraming {
		b = fmt.Appendf(b, "%d bytes through the ring buffer, %d payload bytes left out by kernel framing, %d connection directions not followed, %d joined mid-stream\n",
			st.RingBytes, st.BytesElided, st.DirectionsUnframed, st.Joined)
	}
	if st.RSTIgnored+st.FINIgnored+st.AcksIgnored > 0 {
		b = fmt.Appendf(b, "%d RSTs and %d FINs outside the TCP window ignored, %d acknowledgments of bytes never seen ignored\n",
			st.RSTIgnored, st.FINIgnored, st.AcksIgnored)
	}
	if st.Duplicates > 0 {
		b = fmt.Appendf(b, "%d packets seen twice (on two interfaces) reported once\n", st.Duplicates)
	}
	if st.InterfacesAdded+st.InterfacesRemoved > 0 {
		b = fmt.Appendf(b, "%s added, %d removed during the capture\n", Plural(st.InterfacesAdded, "interface"), st.InterfacesRemoved)
	}
	if st.IPC {
		b = fmt.Appendf(b, "%s over ipc, %d records of Unix socket sends, %d records dropped by kernel (ring buffer full), %d bytes of sends beyond what a record holds (gaps), %d bytes of sends not readable (sendmmsg, io_uring, ...: gaps), %d sends the kernel did not trace (another BPF program running)\n",
			Plural(st.IPCConnections, "connection"), st.IPCRecords, st.IPCLost, st.IPCCut, st.IPCUnreadable, st.IPCMissed)
	}
	_, err := w.Write(b)
	return err
}

// AppendJSON appends the statistics as one JSON object, without a
// newline: {"event":"stats","packets_captured":N,...}, every key always
// present, every value a number but "kernel_framing" (true or false);
// with --ipc (Stats.IPC), the ipc keys too: "ipc_connections",
// "ipc_records", "ipc_lost", "ipc_cut", "ipc_missed", "ipc_unreadable"
// (numbers) and
// "ipc_only" (true or false).
func (st *Stats) AppendJSON(b []byte) []byte {
	b = append(b, `{"event":"stats"`...)
	for _, f := range [...]struct {
		key string
		n   uint64
	}{
		{"packets_captured", st.PacketsCaptured},
		{"packets_matched", st.PacketsMatched},
		{"ring_drops", st.RingDrops},
		{"events", st.Events},
		{"messages", st.Messages},
		{"connections", st.Connections},
		{"bytes_reassembled", st.BytesReassembled},
		{"out_of_order", st.OutOfOrder},
		{"retransmitted", st.Retransmitted},
		{"gaps", st.Gaps},
		{"bytes_lost", st.BytesLost},
		{"bytes_not_captured", st.BytesNotCaptured},
		{"packets_cut", st.PacketsCut},
		{"packets_unreadable", st.PacketsUnreadable},
		{"packets_not_parsed", st.PacketsNotParsed},
	} {
		b = appendStatsKey(b, f.key)
		b = strconv.AppendUint(b, f.n, 10)
	}
	b = appendStatsKey(b, "kernel_framing")
	b = strconv.AppendBool(b, st.KernelFraming)
	for _, f := range [...]struct {
		key string
		n   uint64
	}{
		{"ring_bytes", st.RingBytes},
		{"bytes_elided", st.BytesElided},
		{"directions_unframed", st.DirectionsUnframed},
		{"joined", st.Joined},
		{"rst_ignored", st.RSTIgnored},
		{"fin_ignored", st.FINIgnored},
		{"acks_ignored", st.AcksIgnored},
		{"duplicates", st.Duplicates},
		{"interfaces_added", st.InterfacesAdded},
		{"interfaces_removed", st.InterfacesRemoved},
	} {
		b = appendStatsKey(b, f.key)
		b = strconv.AppendUint(b, f.n, 10)
	}
	if st.IPC {
		for _, f := range [...]struct {
			key string
			n   uint64
		}{
			{"ipc_connections", st.IPCConnections},
			{"ipc_records", st.IPCRecords},
			{"ipc_lost", st.IPCLost},
			{"ipc_cut", st.IPCCut},
			{"ipc_missed", st.IPCMissed},
			{"ipc_unreadable", st.IPCUnreadable},
		} {
			b = appendStatsKey(b, f.key)
			b = strconv.AppendUint(b, f.n, 10)
		}
		b = appendStatsKey(b, "ipc_only")
		b = strconv.AppendBool(b, st.IPCOnly)
	}
	return append(b, '}')
}

func appendStatsKey(b []byte, key string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// Stats implements Printer: the statistics for people, on Options.Stderr.
// As tcpdump's, they are a courtesy: a closed or full stderr is no
// failure of the capture, and its error is not returned.
func (p *Text) Stats(st *Stats) error {
	if p.stderr != nil {
		_ = st.WriteText(p.stderr)
	}
	return nil
}

// Stats implements Printer: the statistics for people on Options.Stderr,
// then a last JSON line, {"event":"stats",...} (see Stats.AppendJSON).
// The stderr text's errors are ignored, as Text.Stats does.
func (p *JSON) Stats(st *Stats) error {
	if p.stderr != nil {
		_ = st.WriteText(p.stderr)
	}
	return p.w.end(append(st.AppendJSON(p.w.start()), '\n'))
}
