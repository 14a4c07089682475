package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
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
	const n, size, trips, reqSize = 50000, 64, 40, 100
	push, req := freePort(t), freePort(t)
	file := statsFile(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(push), "--port", fmt.Sprint(req), "-q", "--status", "never", "--stats-file", file)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", push)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(n), "-timeout", "30s"},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(n), "-size", fmt.Sprint(size), "-timeout", "30s"})
	ep = fmt.Sprintf("tcp://127.0.0.1:%d", req)
	runPeers(t,
		[]string{"-type", "rep", "-bind", ep, "-count", fmt.Sprint(trips)},
		[]string{"-type", "req", "-connect", ep, "-count", fmt.Sprint(trips), "-size", fmt.Sprint(reqSize)})
	out, errOut := d.stop(t)
	if !strings.Contains(errOut, "kernel counts messages (count mode)") {
		t.Fatalf("-q alone did not turn count mode on:\n%s", errOut)
	}
	rows := countRows(t, out)
	p, ok := rows["PUSH -> PULL"]
	if !ok || p.msgs != [2]uint64{n, 0} || p.bytes != [2]uint64{n * size, 0} || p.errors+p.gaps+p.resyncs != 0 {
		t.Errorf("PUSH -> PULL row %+v, want %d messages of %d bytes, no error, gap or resync\n%s", p, n, size, out)
	}
	r, ok := rows["REQ -> REP"]
	if !ok || r.msgs[0] != trips || r.msgs[1] != trips || r.errors+r.gaps+r.resyncs != 0 {
		t.Errorf("REQ -> REP row %+v, want %d messages each way, no error, gap or resync\n%s", r, trips, out)
	}
	if !strings.Contains(out, "latency") {
		t.Errorf("no request latency under the table: the REQ/REP messages did not reach userspace\n%s", out)
	}
	st := d.stats(t)
	if st.RingDrops != 0 || st.Gaps != 0 {
		t.Errorf("losses %+v", st)
	}
	if st.RingBytes > n*size/4 {
		t.Errorf("%d bytes through the ring for %d payload bytes: count mode should ship far less", st.RingBytes, n*size)
	}
	t.Logf("ring bytes %d for %d payload bytes; %d packets captured", st.RingBytes, n*size, st.PacketsCaptured)
}

// TestCountOnlyRingOverflow shrinks the ring to one page under a blast in
// count mode: records are lost, and the counts stay exact, the kernel's
// being cumulative (and read at the close).
func TestCountOnlyRingOverflow(t *testing.T) {
	requireLive(t)
	const n, size = 300000, 64
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-B", "4", "-q", "--status", "never", "--stats-file", statsFile(t))
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(n), "-timeout", "30s"},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(n), "-size", fmt.Sprint(size), "-timeout", "30s"})
	out, errOut := d.stop(t)
	st := d.stats(t)
	if st.RingDrops == 0 {
		t.Fatalf("a 4 KiB ring took the blast without loss: the test proves nothing\n%s", errOut)
	}
	p, ok := countRows(t, out)["PUSH -> PULL"]
	if !ok || p.msgs != [2]uint64{n, 0} || p.bytes != [2]uint64{n * size, 0} {
		t.Errorf("after %d ring drops: row %+v, want exactly %d messages of %d bytes\n%s\n%s", st.RingDrops, p, n, size, out, errOut)
	}
	t.Logf("%d records dropped; row %+v", st.RingDrops, p)
}
