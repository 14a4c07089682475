package session

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// refusedBurst returns n connection attempts from cli's address to srv,
// each a SYN from a new port answered by RST, 100 ms apart.
func refusedBurst(n int, cli netip.Addr, srv netip.AddrPort, t time.Time) []segment.Segment {
	var segs []segment.Segment
	for i := range n {
		c := netip.AddrPortFrom(cli, uint16(40000+i))
		seq := uint32(1000 * (i + 1))
		segs = append(segs,
			segment.Segment{Time: t, Src: c, Dst: srv, Seq: seq, Flags: segment.SYN},
			segment.Segment{Time: t.Add(50 * time.Microsecond), Src: srv, Dst: c, Ack: seq + 1, Flags: segment.RST | segment.ACK})
		t = t.Add(100 * time.Millisecond)
	}
	return segs
}

// TestRefusedBurst: a reconnect loop against a closed port, through
// Pipeline.Add, prints one connect-refused problem when the burst goes
// quiet (housekeeping) and counts it in the exit summary; --no-problems
// prints nothing, and --pid/--comm hide it (no owner is known of an
// attempt the kernel refused).
func TestRefusedBurst(t *testing.T) {
	cli, srv := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddrPort("127.0.0.1:17794")
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	run := func(cfg Config, filter bool) (stdout, stderr string) {
		var out, errOut bytes.Buffer
		cfg.ReadFile = "unused.pcap"
		cfg.Output = output.Options{Location: time.UTC}
		p := New(&cfg, &out, &errOut)
		if filter {
			p.procs = &owners{comm: "nobody"}
		}
		segs := refusedBurst(5, cli, srv, t0)
		for i := range segs {
			p.Add(&segs[i])
		}
		p.flushRefused(t0.Add(500*time.Millisecond), false) // still in the burst
		p.flushRefused(t0.Add(2*time.Second), false)        // quiet for 1.6 s: over
		p.flushRefused(t0.Add(3*time.Second), true)
		p.Close()
		p.sink.writeProblems()
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		return out.String(), errOut.String()
	}
	out, errOut := run(Config{}, false)
	// The sentence is diagnose's; the line around it is the pipeline's.
	head := "01:00:00.400050 127.0.0.1:40004 > 127.0.0.1:17794: problem: connect-refused: reconnect loop: 5 attempts in "
	tail := ", no listener on 127.0.0.1:17794 (attempts=5 duration=400ms rate=10)\n"
	if !strings.HasPrefix(out, head) || !strings.HasSuffix(out, tail) || strings.Count(out, "\n") != 1 {
		t.Errorf("stdout\n got %q\nwant one line %q...%q", out, head, tail)
	}
	if want := "problems: 1 connect-refused (1 connection: 127.0.0.1:40004 > 127.0.0.1:17794)\n"; errOut != want {
		t.Errorf("stderr\n got %q\nwant %q", errOut, want)
	}

	out, errOut = run(Config{JSON: true}, false)
	for _, w := range []string{`"event":"problem","kind":"connect-refused"`, `"attempts":5,"duration_us":400000,"rate":10}`,
		"\n" + `{"event":"problems","by_kind":{"connect-refused":{"count":1,"connections":["127.0.0.1:40004 > 127.0.0.1:17794"]}}}` + "\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("--json: no %s in\n%s", w, out)
		}
	}
	if strings.Count(out, "\n") != 2 || !strings.HasPrefix(errOut, "problems: 1 connect-refused") {
		t.Errorf("--json: stdout\n%s\nstderr\n%s", out, errOut)
	}

	if out, errOut = run(Config{NoProblems: true}, false); out+errOut != "" {
		t.Errorf("--no-problems prints %q, %q", out, errOut)
	}
	if out, errOut = run(Config{}, true); out+errOut != "" {
		t.Errorf("--comm prints %q, %q", out, errOut)
	}
	// Below --refused-attempts, nothing.
	if out, errOut = run(Config{Diagnose: diagnoseAttempts(6)}, false); out+errOut != "" {
		t.Errorf("--refused-attempts 6 prints %q, %q", out, errOut)
	}
}

func diagnoseAttempts(n int) (c diagnose.Config) {
	c.RefusedAttempts = n
	return c
}

// TestProblemsOwnerGate: a connection --comm hides prints none of its
// problems, and counts none; one it keeps prints them.
func TestProblemsOwnerGate(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	t0 := time.Unix(1000, 0)
	for _, owner := range []int{1, 2} {
		var buf bytes.Buffer
		out := newSink(output.NewText(&buf, output.Options{Location: time.UTC}))
		tr := &fakeTracker{}
		tr.own(cli, srv, owner)
		tr.own(srv, cli, owner)
		s := newSession(&flows.Conn{Client: cli, Server: srv, Start: t0}, out, zmtp.Options{}, &owners{tr: tr, comm: "p1"})
		s.seg = &segment.Segment{Time: t0}
		s.printProblems([]diagnose.Problem{{Kind: diagnose.Stalled, Text: "stalled", Time: t0, Client: cli, Server: srv}})
		if err := out.flush(); err != nil {
			t.Fatal(err)
		}
		_, events, _ := out.totals()
		kept := owner == 1
		if got := strings.Contains(buf.String(), "problem: stalled: stalled"); got != kept || (events == 1) != kept || out.problems.Empty() == kept {
			t.Errorf("owner p%d: printed %q, %d events, summary empty %v", owner, buf.String(), events, out.problems.Empty())
		}
	}
}

// TestStalledThroughPipeline: a receiver advertising a zero window for a
// second while the sender has bytes unacknowledged is a stalled problem
// when it recovers, and the connection's summary says how long.
func TestStalledThroughPipeline(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	const isnC, isnS = 1000, 5000
	at := func(s float64, from bool, seq, ack uint32, flags uint8, win uint16, p []byte) segment.Segment {
		sg := segment.Segment{Time: t0.Add(time.Duration(s * float64(time.Second))), Seq: seq, Ack: ack, Flags: flags | segment.ACK,
			Window: win, WScale: -1, Payload: p, PayloadLen: len(p)}
		sg.Src, sg.Dst = srv, cli
		if from {
			sg.Src, sg.Dst = cli, srv
		}
		if flags&segment.SYN != 0 && ack == 0 {
			sg.Flags = flags
		}
		return sg
	}
	msg := []byte{0, 5, 'h', 'e', 'l', 'l', 'o'}
	c := uint32(isnC + 1 + len(greeting))
	segs := []segment.Segment{
		at(0, true, isnC, 0, segment.SYN, 1000, nil),
		at(0, false, isnS, isnC+1, segment.SYN, 1000, nil),
		at(0, true, isnC+1, isnS+1, 0, 1000, nil),
		at(0.1, true, isnC+1, isnS+1, segment.PSH, 1000, greeting),
		at(0.1, false, isnS+1, c, segment.PSH, 1000, greeting),
		at(0.2, true, c, isnS+65, segment.PSH, 1000, msg),
		at(0.2, true, c+7, isnS+65, segment.PSH, 1000, msg),
		at(0.3, false, isnS+65, c+7, 0, 0, nil), // the second message not acknowledged: stalled
		at(1.3, false, isnS+65, c+14, 0, 1000, nil),
		at(2, true, c+14, isnS+65, segment.FIN, 1000, nil),
		at(2, false, isnS+65, c+15, segment.FIN, 1000, nil),
	}
	var buf bytes.Buffer
	cfg := Config{ReadFile: "unused.pcap", Output: output.Options{Location: time.UTC}}
	p := New(&cfg, &buf, &bytes.Buffer{})
	for i := range segs {
		p.Add(&segs[i])
	}
	p.Close()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{"01:00:01.300000 127.0.0.1:40000 > 127.0.0.1:7001: problem: stalled: ", "(duration=1s recovered=true stalled_sender=", ", stalled 1s\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if n := strings.Count(got, "problem:"); n != 1 {
		t.Errorf("%d problems, want 1:\n%s", n, got)
	}
}
