package main

import (
	"io"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/segment"
)

// openConns returns the segments of n ZMTP 3.1 connections that each
// open (SYN, SYN-ACK), exchange greetings and READY (PUSH to PULL), send
// one message of frames frames of 100 bytes each and stay open: the state
// a connection keeps between messages.
func openConns(n, frames int) []segment.Segment {
	srv := netip.MustParseAddrPort("10.0.0.1:7001")
	t := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	greeting := zGreeting3("NULL", false)
	ready := func(typ string) []byte { return zCommand("READY", zProps("Socket-Type", typ)) }
	var msg []byte
	for i := range frames {
		more := byte(1)
		if i == frames-1 {
			more = 0
		}
		msg = append(msg, more, 100)
		for j := range 100 {
			msg = append(msg, byte('a'+(i+j)%26))
		}
	}
	segs := make([]segment.Segment, 0, 7*n)
	for i := range n {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(20000+i%40000))
		cseq, sseq := uint32(1000+i), uint32(900000+i)
		send := func(from, to netip.AddrPort, seq *uint32, flags uint8, payload []byte) {
			segs = append(segs, segment.Segment{Time: t, Src: from, Dst: to, Seq: *seq, Flags: flags, Window: 502, WScale: -1, PayloadLen: len(payload), Payload: payload})
			if flags&segment.SYN != 0 {
				*seq++
			}
			*seq += uint32(len(payload))
			t = t.Add(time.Microsecond)
		}
		send(cli, srv, &cseq, segment.SYN, nil)
		send(srv, cli, &sseq, segment.SYN|segment.ACK, nil)
		send(cli, srv, &cseq, segment.ACK|segment.PSH, greeting)
		send(srv, cli, &sseq, segment.ACK|segment.PSH, greeting)
		send(cli, srv, &cseq, segment.ACK|segment.PSH, ready("PUSH"))
		send(srv, cli, &sseq, segment.ACK|segment.PSH, ready("PULL"))
		send(cli, srv, &cseq, segment.ACK|segment.PSH, msg)
	}
	return segs
}

// retainedPerConn feeds segs (of n connections) to the pipeline -q builds
// and returns the heap it then holds per connection, measured after a
// garbage collection with the connections still open.
func retainedPerConn(tb testing.TB, n int, segs []segment.Segment, args ...string) float64 {
	tb.Helper()
	cfg, err := parse(append([]string{"-r", "unused.pcap"}, args...)...)
	if err != nil {
		tb.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := newPipeline(&cfg, io.Discard)
	for i := range segs {
		p.Add(&segs[i])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := p.Reassembly().ActiveFlows; got != n {
		tb.Fatalf("%d connections open, want %d", got, n)
	}
	if got := p.Messages(); got != uint64(n) {
		tb.Fatalf("%d messages decoded, want %d", got, n)
	}
	runtime.KeepAlive(p)
	p.Close()
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n)
}

// maxBytesPerConn is what an open connection between messages may hold:
// at the default --max-flows (100,000) about 100 MiB of heap, inside the
// DaemonSet's 512 MiB limit with room for the garbage collector, the ring
// buffer and the out-of-order bytes. It was 1024 until each decoder kept
// the counts the metrics export (zmtp.Counts: message bytes and four
// command counts, 24 bytes a direction, which moved zmtp.Conn from the
// 352-byte size class to 416): measured 1053-1071 bytes then.
const maxBytesPerConn = 1088

// diagnoseBytesPerConn is what diagnosis may add to an open connection:
// a diagnose.Conn (192 bytes, one allocation of its size class: its
// heartbeat, stall, handshake and latency states are allocated only by the
// connections that need them) and the session's pointer to it; a
// connection takes an entry in diagnose.Identities (about 140 bytes) only
// when its server is a ROUTER or its client announces an identity, and
// this PUSH/PULL one does not. Measured at about 193 bytes
// (BenchmarkOpenConnMemory: 1181 B/conn with diagnosis, 988 with
// --no-problems; it was about 950 when a Conn took 768 bytes and every
// connection had an Identities entry). With it on, an open connection
// holds about 1.2 KB: at the default --max-flows about 113 MiB, inside the
// DaemonSet's 512 MiB. --no-problems keeps maxBytesPerConn.
const diagnoseBytesPerConn = 224

// TestMemoryPerOpenConnection holds 5,000 connections open after a
// greeting, READY each way and one message, with the real decoders, and
// asserts that each costs at most maxBytesPerConn of heap, whatever the
// size of the message it sent last.
func TestMemoryPerOpenConnection(t *testing.T) {
	const n = 5000
	for _, frames := range []int{8, 64} {
		for _, mode := range [][]string{{"-q"}, {"--json"}, {"-q", "--no-problems"}, {"--json", "--no-problems"}} {
			limit := maxBytesPerConn
			if len(mode) == 1 {
				limit += diagnoseBytesPerConn
			}
			got := retainedPerConn(t, n, openConns(n, frames), mode...)
			t.Logf("%d-frame message, %v: %.0f bytes per connection", frames, mode, got)
			if got > float64(limit) {
				t.Errorf("%d-frame message, %v: %.0f bytes retained per open connection, want at most %d", frames, mode, got, limit)
			}
		}
	}
}

// BenchmarkOpenConnMemory reports the heap held per open connection
// (B/conn) by 20,000 connections that each sent a greeting, READY and one
// 8-frame (or 64-frame) message and stayed open, with -q (and with -q
// --no-problems, the same without diagnosis: the difference is
// diagnosis' share), and what that comes to at the default --max-flows
// (MiB@maxflows), which must fit the DaemonSet's 512 MiB with the ring and
// the out-of-order bytes: it fails above maxBytesPerConn (and
// diagnoseBytesPerConn with diagnosis).
func BenchmarkOpenConnMemory(b *testing.B) {
	const n = 20000
	for _, frames := range []int{8, 64} {
		for _, diag := range []bool{true, false} {
			name, args, limit := map[int]string{8: "8frames", 64: "64frames"}[frames], []string{"-q"}, maxBytesPerConn
			if diag {
				limit += diagnoseBytesPerConn
			} else {
				name, args = name+"-no-problems", append(args, "--no-problems")
			}
			b.Run(name, func(b *testing.B) {
				segs := openConns(n, frames)
				var per float64
				for b.Loop() {
					per = retainedPerConn(b, n, segs, args...)
				}
				b.ReportMetric(per, "B/conn")
				b.ReportMetric(per*flows.DefaultMaxFlows/(1<<20), "MiB@maxflows")
				if per > float64(limit) {
					b.Errorf("%.0f bytes per open connection, want at most %d", per, limit)
				}
			})
		}
	}
}

// TestSummaryRows reads 5 connections with -q and --summary-rows 2: the
// table shows the first 2 to end, and the other 3 count in a line of
// totals, so that a long capture's table stays bounded.
func TestSummaryRows(t *testing.T) {
	path := writeSegments(t, "five.pcapng", openConns(5, 8))
	got := runArgs(t, "-r", path, "-q", "--summary-rows", "2")
	for _, want := range []string{
		"ZMTP conversations: 5\n",
		"3 more conversations not shown (row limit; their errors not listed): 3 msgs (2400 bytes) ->, 0 msgs (0 bytes) <-, 0 errors, 0 gaps, 0 bytes lost, 0 resyncs\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("-q --summary-rows 2 prints\n%s\nwithout %q", got, want)
		}
	}
	if rows := strings.Count(got, "PUSH -> PULL"); rows != 2 {
		t.Errorf("%d rows, want 2:\n%s", rows, got)
	}
	all := runArgs(t, "-r", path, "-q", "--summary-rows", "0")
	if rows := strings.Count(all, "PUSH -> PULL"); rows != 5 || strings.Contains(all, "not shown") {
		t.Errorf("--summary-rows 0: %d rows, want all 5:\n%s", rows, all)
	}
}
