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
	c := newBenchConn(b, "PUSH", "PULL", args...)
	defer c.p.Close()
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
		c.send(c.cli, c.srv, &c.cseq, segment.ACK|segment.PSH, batch)
	}
	b.StopTimer()
	c.done(b, uint64(b.N*perSeg))
}

// benchReqRep runs the pipeline over REQ/REP round trips: each a request
// (the empty delimiter frame, then 64 bytes) in one segment and its reply
// in the next, the workload whose latency the diagnosis measures (reply
// matched to request). It reports the cost per message, requests and
// replies counted.
func benchReqRep(b *testing.B, args ...string) {
	c := newBenchConn(b, "REQ", "REP", args...)
	defer c.p.Close()
	msg := []byte{1, 0, 0, 64}
	for i := range 64 {
		msg = append(msg, byte('a'+i%26))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.send(c.cli, c.srv, &c.cseq, segment.ACK|segment.PSH, msg)
		c.send(c.srv, c.cli, &c.sseq, segment.ACK|segment.PSH, msg)
	}
	b.StopTimer()
	c.done(b, uint64(2*b.N))
}

// The detectors' cost: the REQ/REP workload (every reply matched to its
// request for the latency figures) with diagnosis on (the default) and off.
func BenchmarkPipelineReqRep(b *testing.B)     { benchReqRep(b, "-q") }
func BenchmarkPipelineReqRepJSON(b *testing.B) { benchReqRep(b, "--json") }
func BenchmarkPipelineReqRepNoProblems(b *testing.B) {
	benchReqRep(b, "-q", "--no-problems")
}
func BenchmarkPipelineReqRepJSONNoProblems(b *testing.B) {
	benchReqRep(b, "--json", "--no-problems")
}
func BenchmarkPipelineJSONNoProblems(b *testing.B) {
	benchPipeline(b, "--json", "--no-problems")
}

// benchConn is one synthetic connection fed to a pipeline, its handshake
// done.
type benchConn struct {
	p          *session.Pipeline
	cli, srv   netip.AddrPort
	cseq, sseq uint32
	t          time.Time
}

// newBenchConn returns a pipeline of the command line args (after -i lo)
// that has seen the SYNs, greetings and READYs of a connection between
// socket types cliType and srvType.
func newBenchConn(b *testing.B, cliType, srvType string, args ...string) *benchConn {
	cfg, err := parse(append([]string{"-i", "lo"}, args...)...)
	if err != nil {
		b.Fatal(err)
	}
	c := &benchConn{
		p:   newPipeline(&cfg, io.Discard),
		cli: netip.MustParseAddrPort("127.0.0.1:40000"), srv: netip.MustParseAddrPort("127.0.0.1:7001"),
		cseq: 1000, sseq: 5000,
		t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
	}
	greeting := zGreeting3("NULL", false)
	ready := func(typ string) []byte { return zCommand("READY", zProps("Socket-Type", typ)) }
	c.send(c.cli, c.srv, &c.cseq, segment.SYN, nil)
	c.send(c.srv, c.cli, &c.sseq, segment.SYN|segment.ACK, nil)
	c.send(c.cli, c.srv, &c.cseq, segment.ACK|segment.PSH, greeting)
	c.send(c.srv, c.cli, &c.sseq, segment.ACK|segment.PSH, greeting)
	c.send(c.cli, c.srv, &c.cseq, segment.ACK|segment.PSH, ready(cliType))
	c.send(c.srv, c.cli, &c.sseq, segment.ACK|segment.PSH, ready(srvType))
	return c
}

// send feeds the pipeline one segment from from to to, 1µs after the last.
func (c *benchConn) send(from, to netip.AddrPort, seq *uint32, flags uint8, payload []byte) {
	seg := segment.Segment{Time: c.t, Src: from, Dst: to, Seq: *seq, Flags: flags, PayloadLen: len(payload), Payload: payload}
	if flags&segment.SYN != 0 {
		*seq++
	}
	*seq += uint32(len(payload))
	c.p.Add(&seg)
	c.t = c.t.Add(time.Microsecond)
}

// done flushes the pipeline, checks that it decoded want messages and
// reports the cost per message.
func (c *benchConn) done(b *testing.B, want uint64) {
	if err := c.p.Flush(); err != nil {
		b.Fatal(err)
	}
	if got := c.p.Messages(); got != want {
		b.Fatalf("%d messages decoded, want %d", got, want)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/msg")
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
