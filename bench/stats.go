package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// peerReport is what a zmqpeer in load mode printed on exit.
type peerReport struct {
	verb    string // "sent" or "received"
	msgs    int64
	bytes   int64
	seconds float64
}

var reportRE = regexp.MustCompile(`report: (sent|received) (\d+) messages, (\d+) bytes in ([0-9.]+) s`)

// parseReport finds the report line in a peer's stderr.
func parseReport(stderr string) (peerReport, bool) {
	m := reportRE.FindStringSubmatch(stderr)
	if m == nil {
		return peerReport{}, false
	}
	r := peerReport{verb: m[1]}
	r.msgs, _ = strconv.ParseInt(m[2], 10, 64)
	r.bytes, _ = strconv.ParseInt(m[3], 10, 64)
	r.seconds, _ = strconv.ParseFloat(m[4], 64)
	return r, true
}

func (r peerReport) rate() float64 {
	if r.seconds <= 0 {
		return 0
	}
	return float64(r.msgs) / r.seconds
}

// capStats are a capturer's exit statistics; -1 means not known.
type capStats struct {
	captured int64
	drops    int64
	events   int64 // zmtpdump: ZMTP events decoded
	messages int64 // zmtpdump: ZMTP messages (0 also when not said)
	conns    int64 // zmtpdump: connections
	bytes    int64 // zmtpdump: bytes reassembled
	gaps     int64 // zmtpdump: gaps
	lost     int64 // zmtpdump: bytes lost in gaps
	skipped  int64 // zmtpdump: bytes not captured (left out by kernel framing)
	ring     int64 // zmtpdump: bytes through the ring buffer (kernel framing on)
	// zmtpdump with --ipc (ipc true): records of Unix socket sends, those
	// dropped with the ring full, bytes of sends beyond what records hold,
	// sends the kernel did not trace.
	ipc                                    bool
	ipcRecords, ipcLost, ipcCut, ipcMissed int64
}

// tcpdump's exit statistics (its text: tcpdump has no other).
var (
	receivedRE    = regexp.MustCompile(`(?m)^(\d+) packets received by filter`)
	tcpdumpDropRE = regexp.MustCompile(`(?m)^(\d+) packets dropped by kernel$`)
)

// tcpdumpStats reads tcpdump's exit statistics from its stderr.
func tcpdumpStats(stderr string) capStats {
	st := capStats{captured: -1, drops: -1, events: -1, messages: -1, conns: -1, bytes: -1, gaps: -1, lost: -1, skipped: -1, ring: -1}
	num := func(re *regexp.Regexp) int64 {
		m := re.FindStringSubmatch(stderr)
		if m == nil {
			return -1
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		return v
	}
	// tcpdump's "captured" leaves out what libpcap still buffered at
	// SIGINT (without --immediate-mode); "received by filter" does not.
	st.captured = num(receivedRE)
	st.drops = num(tcpdumpDropRE)
	return st
}

// zmtpdumpStats takes zmtpdump's exit statistics; the ring-buffer bytes
// are known only with kernel-side framing.
func zmtpdumpStats(z livetest.Stats) capStats {
	st := capStats{
		captured: int64(z.PacketsCaptured),
		drops:    int64(z.RingDrops),
		events:   int64(z.Events),
		messages: int64(z.Messages),
		conns:    int64(z.Connections),
		bytes:    int64(z.BytesReassembled),
		gaps:     int64(z.Gaps),
		lost:     int64(z.BytesLost),
		skipped:  int64(z.BytesNotCaptured),
		ring:     -1,
	}
	if z.KernelFraming {
		st.ring = int64(z.RingBytes)
	}
	if z.IPC {
		st.ipc = true
		st.ipcRecords, st.ipcLost, st.ipcCut, st.ipcMissed = int64(z.IPCRecords), int64(z.IPCLost), int64(z.IPCCut), int64(z.IPCMissed)
	}
	return st
}

// addZmtpdump fills in res from a zmtpdump's exit statistics (and, with
// jsonOut, the events counted in its JSON output). On an ipc workload
// (ipc) the drops and packets are the ipc ring's records ("ipc_lost" and
// "ipc_records") and decoded is the statistics' "messages"; there are no
// ring-buffer figures, and statistics without the ipc keys are an error.
func (res *result) addZmtpdump(st capStats, jc jsonCounts, jsonOut, ipc bool) error {
	if ipc && !st.ipc {
		return fmt.Errorf("exit statistics without the ipc keys (ipc_records...): --ipc did not run")
	}
	if st.gaps > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d gaps", st.gaps))
	}
	if jsonOut && jc.errors > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d error events", jc.errors))
	}
	if ipc {
		res.drops, res.packets = st.drops+st.ipcLost, st.ipcRecords
		if st.ipcCut > 0 {
			res.problems = append(res.problems, fmt.Sprintf("%d bytes of sends cut", st.ipcCut))
		}
		if st.ipcMissed > 0 {
			res.problems = append(res.problems, fmt.Sprintf("%d sends not traced", st.ipcMissed))
		}
		res.decoded = st.messages
		if jsonOut {
			res.decoded = jc.messages
		}
		return nil
	}
	res.drops, res.packets = st.drops, st.captured
	switch {
	case st.ring >= 0 && st.captured >= 0:
		// Kernel-side framing counts what it wrote.
		res.payload = st.bytes + max(st.skipped, 0) + max(st.lost, 0)
		res.ring = st.ring + st.captured*ringHeader
	case st.bytes >= 0 && st.captured >= 0:
		res.payload = st.bytes + max(st.skipped, 0) + max(st.lost, 0)
		res.ring = st.bytes + st.captured*ringRecordOverhead
	}
	switch {
	case jsonOut:
		res.decoded = jc.messages
	case st.messages > 0:
		// The exit statistics' own count (with counting in the kernel,
		// -q's messages are counted there and never decoded one by one).
		res.decoded = st.messages
	case st.events >= 0 && st.conns >= 0:
		// Two greetings and two READY commands per NULL PUSH/PULL connection.
		res.decoded = st.events - 4*st.conns
	}
	return nil
}

// jsonCounts are the events of interest in zmtpdump's JSON Lines output.
type jsonCounts struct {
	messages, gaps, errors int64
	stats                  []byte // the last exit statistics line, or nil
}

var (
	messageKey = []byte(`"event":"message"`)
	gapKey     = []byte(`"event":"gap"`)
	errorKey   = []byte(`"event":"error"`)
)

// countJSON counts message, gap and error events, one per line, and keeps
// the last exit statistics line.
func countJSON(r io.Reader) (jsonCounts, error) {
	var c jsonCounts
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: its key is near the start.
			c.add(line)
			for err == bufio.ErrBufferFull {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return c, nil
			}
			if err != nil {
				return c, err
			}
			continue
		}
		c.add(line)
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return c, err
		}
	}
}

func (c *jsonCounts) add(line []byte) {
	switch {
	case bytes.Contains(line, messageKey):
		c.messages++
	case bytes.Contains(line, gapKey):
		c.gaps++
	case bytes.Contains(line, errorKey):
		c.errors++
	case livetest.IsStatsLine(line):
		c.stats = append(c.stats[:0], bytes.TrimSpace(line)...)
	}
}

// ringRecordOverhead is what a ring-buffer record costs beyond its payload:
// the 8-byte BPF ring buffer header and the 160-byte record header (the
// event header and its counts, loader/record.go), ignoring the padding to
// 8 bytes.
const ringRecordOverhead = 8 + 160

// ringHeader is the BPF ring buffer's own header of each record, which the
// kernel's byte count (event header and payload) leaves out.
const ringHeader = 8

// result is what one run of one cell measured.
type result struct {
	appRate  float64 // messages/s of the measured flow's receiver
	appCPU   time.Duration
	hostCPU  time.Duration
	capCPU   time.Duration
	lag      time.Duration
	sent     int64 // messages the receivers of matched flows got
	decoded  int64 // ZMTP messages decoded; -1: not known
	drops    int64 // -1: not known
	packets  int64 // packets the capturer got; -1: not known
	ring     int64 // ring-buffer bytes (counted by the kernel, or estimated); -1: not known
	payload  int64 // TCP payload bytes of the streams; -1: not known
	problems []string
}
