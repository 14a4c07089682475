package main

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/session"
)

// benchPipeline runs the userspace pipeline (reassembly, decoding, printing
// to io.Discard) of the small-message workload: a PUSH sending 64-byte
// messages in 8 KiB segments, as libzmq batches them. It reports the cost
// per message.
func benchPipeline(b *testing.B, args ...string) {
	cfg, err := parse(append([]string{"-i", "lo"}, args...)...)
	if err != nil {
		b.Fatal(err)
	}
	p := newPipeline(&cfg, io.Discard)
	defer p.Close()
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	t := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var cseq, sseq uint32 = 1000, 5000
	send := func(from, to netip.AddrPort, seq *uint32, flags uint8, payload []byte) {
		seg := segment.Segment{Time: t, Src: from, Dst: to, Seq: *seq, Flags: flags, PayloadLen: len(payload), Payload: payload}
		if flags&segment.SYN != 0 {
			*seq++
		}
		*seq += uint32(len(payload))
		p.Add(&seg)
		t = t.Add(time.Microsecond)
	}
	greeting := zGreeting3("NULL", false)
	ready := func(typ string) []byte { return zCommand("READY", zProps("Socket-Type", typ)) }
	send(cli, srv, &cseq, segment.SYN, nil)
	send(srv, cli, &sseq, segment.SYN|segment.ACK, nil)
	send(cli, srv, &cseq, segment.ACK|segment.PSH, greeting)
	send(srv, cli, &sseq, segment.ACK|segment.PSH, greeting)
	send(cli, srv, &cseq, segment.ACK|segment.PSH, ready("PUSH"))
	send(srv, cli, &sseq, segment.ACK|segment.PSH, ready("PULL"))
	const perSeg = 124
	var batch []byte
	for range perSeg {
		batch = append(batch, 0, 64)
		for i := range 64 {
			batch = append(batch, byte('a'+i%26))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		send(cli, srv, &cseq, segment.ACK|segment.PSH, batch)
	}
	b.StopTimer()
	if err := p.Flush(); err != nil {
		b.Fatal(err)
	}
	if got, want := p.Messages(), uint64(b.N*perSeg); got != want {
		b.Fatalf("%d messages decoded, want %d", got, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perSeg), "ns/msg")
}

// newPipeline returns the pipeline the command line cfg runs, printing to
// stdout.
func newPipeline(cfg *config, stdout io.Writer) *session.Pipeline {
	return session.New(cfg.session(), stdout, io.Discard)
}

func BenchmarkPipelineJSON(b *testing.B)  { benchPipeline(b, "--json") }
func BenchmarkPipelineText(b *testing.B)  { benchPipeline(b) }
func BenchmarkPipelineQuiet(b *testing.B) { benchPipeline(b, "-q") }

// BenchmarkPipelineQuietNoProblems is BenchmarkPipelineQuiet without
// diagnosis: the difference is the detectors' cost per message.
func BenchmarkPipelineQuietNoProblems(b *testing.B) { benchPipeline(b, "-q", "--no-problems") }
