package e2e

import (
	"fmt"
	"strconv"
	"testing"
)

// TestGapResume overflows a one-page ring buffer with a burst of 200,000
// small messages on one connection and then, after a pause, sends 10 more
// on the same connection. Kernel-side framing walks every packet, those
// whose records were lost too, so decoding must resume at the next frame
// boundary after each loss: the 10 late messages are decoded, every lost
// span is a gap event that counts the messages it took, and between two
// decoded messages the gaps count exactly the messages missing there.
func TestGapResume(t *testing.T) {
	requireLive(t)
	for _, backend := range []string{"tcx", "socket"} {
		t.Run(backend, func(t *testing.T) { testGapResume(t, backend) })
	}
}

func testGapResume(t *testing.T, backend string) {
	const burst, late = 200000, 10
	sent := burst + late
	port := freePort(t)
	srv := fmt.Sprintf("127.0.0.1:%d", port)
	d := startDump(t, "-i", "lo", "--backend", backend, "--port", fmt.Sprint(port), "--json", "-B", "4")
	ep := "tcp://" + srv
	n := fmt.Sprint(sent)
	// -burst: messages 1 to 200000 back to back, a pause of -interval, then
	// the last 10 back to back.
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", n, "-timeout", "25s"},
		[]string{"-type", "push", "-connect", ep, "-count", n, "-burst", fmt.Sprint(burst), "-interval", "1s", "-timeout", "25s"})
	out, errOut := d.stop(t)

	if d.stats(t).RingDrops == 0 {
		t.Fatalf("a 4 KiB ring took a burst of %d messages without loss: the test proves nothing\n%s", burst, errOut)
	}
	checkGapResume(t, out, errOut, srv, burst, late)
}

// checkGapResume checks the JSON of a PUSH sending burst+late counters to
// srv, whose ring buffer overflowed during the burst.
func checkGapResume(t *testing.T, out, errOut, srv string, burst, late int) {
	sent := burst + late
	evs := parseEvents(t, out)
	var client string
	for _, e := range evs {
		if e.Dst == srv && e.Event != "connection" {
			client = e.Src
			break
		}
	}
	if client == "" {
		t.Fatalf("no event toward %s\n%s", srv, errOut)
	}

	// Walk the direction in stream order. pending counts the messages the
	// gaps since the last decoded message say they took; resynced whether
	// a resync followed them.
	var (
		last, decoded, gaps, resyncs int
		cut                          int // messages decoded since last whose bodies the loss cut
		pending                      uint64
		resynced                     = true
		lastBodies                   []string
	)
	for _, e := range direction(evs, client, srv) {
		switch e.Event {
		case "gap":
			gaps++
			if e.Messages == nil || e.Bytes == nil || *e.Bytes == 0 {
				t.Errorf(`the kernel followed this connection from its SYN: every gap must say its "bytes" and "messages": %s`, e.line)
				continue
			}
			pending += *e.Messages
			resynced = false
		case "resync":
			resyncs++
			if e.Reason != "gap" {
				t.Errorf(`a resync after lost records must have "reason":"gap": %s`, e.line)
			}
			if e.Source != "kernel" {
				t.Errorf(`the kernel marked the boundaries of this connection: want "source":"kernel": %s`, e.line)
			}
			resynced = true
		case "message":
			decoded++
			if !resynced {
				t.Errorf("a message decoded after a gap with no resync before it: %s", e.line)
				resynced = true
			}
			if len(e.Frames) == 1 && uint64(len(e.Frames[0].DataHex)/2) < e.Frames[0].Size {
				// A body the loss cut: decoded, but which one it was
				// cannot be read.
				cut++
				continue
			}
			b, ok := e.body()
			v, err := strconv.Atoi(b)
			if !ok || err != nil || v <= last || v > sent {
				t.Fatalf("message %q after %d: never sent, or out of order: %s", b, last, e.line)
			}
			if missing := uint64(v - last - 1 - cut); missing != pending {
				t.Errorf("between messages %d and %d, %d were lost; the gaps there say %d", last, v, missing, pending)
			}
			last, pending, cut = v, 0, 0
			lastBodies = append(lastBodies, b)
		case "error":
			t.Errorf("error event: %s", e.line)
		}
	}
	if pending != 0 || cut != 0 {
		t.Errorf("after the last message decoded whole (%d), gaps say they took %d messages and %d were decoded cut", last, pending, cut)
	}
	if gaps == 0 || resyncs == 0 {
		t.Fatalf("records were dropped but %d gaps and %d resyncs were reported toward the server\n%s", gaps, resyncs, errOut)
	}
	if len(lastBodies) > late {
		lastBodies = lastBodies[len(lastBodies)-late:]
	}
	if first, end := counters(t, lastBodies, "", sent); first != burst+1 || end != sent {
		t.Errorf("the last messages decoded: %s; want the %d sent after the pause, %d to %d", summarize(lastBodies), late, burst+1, sent)
	}
	t.Logf("%d of %d messages decoded, %d gaps, %d resyncs", decoded, sent, gaps, resyncs)

	conns, dirs := connectionOf(evs, client, srv)
	if len(conns) != 1 {
		t.Fatalf("want one connection summary, got %d", len(conns))
	}
	if conns[0].Joined {
		t.Errorf(`the capture saw the connection's SYN: it must not be "joined": %s`, conns[0].line)
	}
	if d := dirs[0]; d == nil || d.Resyncs == nil || *d.Resyncs != uint64(resyncs) || d.Messages != uint64(decoded) {
		t.Errorf(`the summary must count the %d messages decoded and %d resyncs toward the server: %s`, decoded, resyncs, conns[0].line)
	}
}
