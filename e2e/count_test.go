package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// countRow is one row of the -q table.
type countRow struct {
	msgs, bytes           [2]uint64 // client to server first
	errors, gaps, resyncs uint64
	sockets               string
}

// countRows parses the -q table of out by its sockets column ("PUSH ->
// PULL").
func countRows(t *testing.T, out string) map[string]countRow {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\S+\s+\S+\s+(\S+ -> \S+)\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+\s+\S+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+$`)
	rows := map[string]countRow{}
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		var n [8]uint64
		for i := range n {
			v, err := strconv.ParseUint(m[2+i], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			n[i] = v
		}
		rows[m[1]] = countRow{msgs: [2]uint64{n[0], n[2]}, bytes: [2]uint64{n[1], n[3]}, errors: n[4], gaps: n[5], resyncs: n[7], sockets: m[1]}
	}
	return rows
}

// TestCountOnly runs -q alone, which counts in the kernel (count mode), on
// a libzmq PUSH -> PULL blast and a REQ/REP pair (whose messages still
// reach userspace, for the round trips): the table's message and byte
// counts are exactly what was sent, with no gap, error or resync, and the
// ring carried a small part of the payload.
func TestCountOnly(t *testing.T) {
	requireLive(t)
	const n, trips, reqSize = 50000, 40, 100
	size := 64
	push, req, multi := freePort(t), freePort(t), freePort(t)
	file := statsFile(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(push), "--port", fmt.Sprint(req), "--port", fmt.Sprint(multi),
		"-q", "--status", "never", "--stats-file", file)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", push)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(n), "-timeout", "30s"},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(n), "-size", fmt.Sprint(size), "-timeout", "30s"})
	ep = fmt.Sprintf("tcp://127.0.0.1:%d", req)
	runPeers(t,
		[]string{"-type", "rep", "-bind", ep, "-count", fmt.Sprint(trips)},
		// No pause before the first request: the kernel must ship it
		// before userspace has seen the READY.
		[]string{"-type", "req", "-connect", ep, "-count", fmt.Sprint(trips), "-size", fmt.Sprint(reqSize), "-wait", "0s"})
	// Two-frame messages, their first ones shipped until the READY
	// reached userspace, the rest left out: exact counts, and no message
	// taken for cut at the close (reset-mid-message).
	ep = fmt.Sprintf("tcp://127.0.0.1:%d", multi)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(n), "-timeout", "30s"},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(n), "-size", fmt.Sprint(size), "-multipart", "-wait", "0s", "-timeout", "30s"})
	out, errOut := d.stop(t)
	if !strings.Contains(errOut, "kernel counts messages (count mode)") {
		t.Fatalf("-q alone did not turn count mode on:\n%s", errOut)
	}
	if strings.Contains(out, "reset-mid-message") || strings.Contains(out, "problem") {
		t.Errorf("a problem in count mode:\n%s", out)
	}
	rows := countRows(t, out)
	var pushes []countRow
	for _, m := range regexp.MustCompile(`(?m)^.*PUSH -> PULL.*$`).FindAllString(out, -1) {
		pushes = append(pushes, countRows(t, m)["PUSH -> PULL"])
	}
	if len(pushes) != 2 {
		t.Fatalf("%d PUSH -> PULL rows, want 2\n%s", len(pushes), out)
	}
	for i, p := range pushes {
		if i == 1 {
			size += 5 // "hello", then the body
		}
		if p.msgs != [2]uint64{n, 0} || p.bytes != [2]uint64{n * uint64(size), 0} || p.errors+p.gaps+p.resyncs != 0 {
			t.Errorf("PUSH -> PULL row %+v, want %d messages of %d bytes, no error, gap or resync\n%s", p, n, size, out)
		}
	}
	r, ok := rows["REQ -> REP"]
	if !ok || r.msgs[0] != trips || r.msgs[1] != trips || r.errors+r.gaps+r.resyncs != 0 {
		t.Errorf("REQ -> REP row %+v, want %d messages each way, no error, gap or resync\n%s", r, trips, out)
	}
	if want := fmt.Sprintf("(%d replies)", trips); !strings.Contains(out, want) {
		t.Errorf("no request latency of %s under the table: the REQ/REP messages did not all reach userspace\n%s", want, out)
	}
	st := d.stats(t)
	if st.RingDrops != 0 || st.Gaps != 0 {
		t.Errorf("losses %+v", st)
	}
	payload := uint64(n * (64 + 69))
	if st.RingBytes > payload/10 {
		t.Errorf("%d bytes through the ring for %d payload bytes: count mode should ship far less", st.RingBytes, payload)
	}
	t.Logf("ring bytes %d for %d payload bytes; %d packets captured", st.RingBytes, payload, st.PacketsCaptured)
}

// TestCountOnlyRingOverflow shrinks the ring to one page and stops
// zmtpdump (SIGSTOP) for a moment in the middle of a blast in count mode:
// records are lost (count mode ships too few for a blast alone to fill
// even that ring), and the counts stay exact, the kernel's being
// cumulative (and read at the close).
func TestCountOnlyRingOverflow(t *testing.T) {
	requireLive(t)
	const n, size = 1000000, 64
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-B", "4", "-q", "--status", "never", "--stats-file", statsFile(t))
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	pull, err := livetest.StartReceiver(exec.Command(built.peer, "-type", "pull", "-bind", ep, "-count", fmt.Sprint(n), "-timeout", "60s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pull.Kill)
	time.Sleep(100 * time.Millisecond)
	push := exec.Command(built.peer, "-type", "push", "-connect", ep, "-count", fmt.Sprint(n), "-size", fmt.Sprint(size), "-timeout", "60s")
	if err := push.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { push.Process.Kill(); push.Wait() })
	time.Sleep(400 * time.Millisecond) // connected, and sending
	pid := d.Cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := push.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := pull.Wait(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	out, errOut := d.stop(t)
	st := d.stats(t)
	if st.RingDrops == 0 {
		t.Fatalf("no record lost with a 4 KiB ring and zmtpdump stopped: the test proves nothing\n%s", errOut)
	}
	p, ok := countRows(t, out)["PUSH -> PULL"]
	if !ok || p.msgs != [2]uint64{n, 0} || p.bytes != [2]uint64{n * size, 0} || p.errors != 0 {
		t.Errorf("after %d ring drops: row %+v, want exactly %d messages of %d bytes, no error\n%s\n%s", st.RingDrops, p, n, size, out, errOut)
	}
	t.Logf("%d records dropped; row %+v", st.RingDrops, p)
}

// TestCountOnlyStall stops a libzmq PULL (SIGSTOP) under -q alone, in
// count mode, where the kernel ships no pure ACK but those flow control
// needs: the zero window, the one that opens again, the probes. The table
// must count every message and its health line say the PUSH stalled about
// as long as the PULL was stopped: not missed, and not longer (a window
// reopening missed would stall it until the end).
func TestCountOnlyStall(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-q", "--status", "never")
	const count, size = 800, 32 << 10
	const stopped = 1500 * time.Millisecond
	stallPull(t, ep, count, size, stopped)
	out, errOut := d.stop(t)
	if !strings.Contains(errOut, "(count mode)") {
		t.Fatalf("not in count mode:\n%s", errOut)
	}
	p, ok := countRows(t, out)["PUSH -> PULL"]
	if !ok || p.msgs[0] != count || p.bytes[0] != count*size || p.errors+p.gaps+p.resyncs != 0 {
		t.Errorf("row %+v, want %d messages of %d bytes, no error, gap or resync\n%s", p, count, size, out)
	}
	m := regexp.MustCompile(`stalled (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no stall in the health line:\n%s", out)
	}
	got, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatal(err)
	}
	if got < stopped*2/3 || got > stopped*2 {
		t.Errorf("stalled %v, want about %v (the PULL stopped)\n%s", got, stopped, out)
	}
	t.Logf("stalled %v for a PULL stopped %v", got, stopped)
}

// TestCountOnlyJoined starts -q alone while a libzmq PUSH is already
// sending (one message every 2 ms): the kernel counts from the point
// zmtpdump joined the direction at, so the row counts at least every
// message that arrived a second after zmtpdump said it was listening and
// none sent before it started, without an error.
func TestCountOnlyJoined(t *testing.T) {
	requireLive(t)
	const n = 2000
	port := freePort(t)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	pull, err := livetest.StartReceiver(exec.Command(built.peer, "-type", "pull", "-bind", ep, "-count", fmt.Sprint(n), "-print", "-timeout", "60s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pull.Kill)
	time.Sleep(100 * time.Millisecond)
	push := exec.Command(built.peer, "-type", "push", "-connect", ep, "-count", fmt.Sprint(n), "-interval", "2ms", "-timeout", "60s")
	if err := push.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { push.Process.Kill(); push.Wait() })
	if err := pull.WaitCount(100, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-q", "--status", "never")
	listening := time.Now()
	if err := push.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := pull.Wait(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	out, errOut := d.stop(t)
	if !strings.Contains(errOut, "(count mode)") {
		t.Fatalf("not in count mode:\n%s", errOut)
	}
	lo := len(pull.Between(listening.Add(time.Second), time.Now()))
	hi := len(pull.Between(started, time.Now()))
	var row countRow
	for _, r := range countRows(t, out) {
		row = r
	}
	if row.msgs[0] < uint64(lo) || row.msgs[0] > uint64(hi) || row.errors != 0 {
		t.Errorf("row %+v: want between %d and %d messages, no error\n%s\n%s", row, lo, hi, out, errOut)
	}
	t.Logf("counted %d messages of the %d that arrived after zmtpdump started (%d a second after it listened)", row.msgs[0], hi, lo)
}

// TestCountOnlyStatusLine: -q with the live status line (--status always,
// as on a terminal) still counts in the kernel, and the status line's
// message count includes the messages counted there while the connection
// is open, not only at its close.
func TestCountOnlyStatusLine(t *testing.T) {
	requireLive(t)
	const n = 20000
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-q", "--status", "always")
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(n), "-timeout", "30s", "-hold", "2500ms"},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(n), "-size", "64", "-timeout", "30s", "-hold", "2500ms"})
	out, errOut := d.stop(t)
	if !strings.Contains(errOut, "kernel counts messages (count mode)") {
		t.Fatalf("-q with the status line did not turn count mode on:\n%s", errOut)
	}
	// The peers hold the connection open for 2.5 s after the last
	// message: a status line drawn then shows every message.
	want := fmt.Sprintf(" %d ZMTP messages (", n)
	if !strings.Contains(errOut, want) {
		t.Errorf("no status line with %q while the connection was open:\n%s", want, errOut)
	}
	if r, ok := countRows(t, out)["PUSH -> PULL"]; !ok || r.msgs[0] != n {
		t.Errorf("PUSH -> PULL row %+v, want %d messages\n%s", r, n, out)
	}
}
