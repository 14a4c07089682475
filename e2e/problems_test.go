package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The live diagnosis tests (issue 16): real libzmq peers on lo, one of them
// stopped with SIGSTOP, zmtpdump capturing with --json. The window comes
// from the kernel (the TCP header's window and the SYN's window scale).

// problemLine is a {"event":"problem"} line: its kind, time, addresses and
// all its members (the per-kind fields).
type problemLine struct {
	line     string
	Kind     string    `json:"kind"`
	Text     string    `json:"text"`
	TS       time.Time `json:"ts"`
	Src, Dst string
	fields   map[string]any
}

// problemLines returns the problem events of a --json output, and the
// connection events as maps.
func problemLines(t *testing.T, out string) (problems []problemLine, conns []map[string]any) {
	t.Helper()
	for _, e := range parseEvents(t, out) {
		switch e.Event {
		case "problem":
			var p problemLine
			if err := json.Unmarshal([]byte(e.line), &p); err != nil {
				t.Fatalf("problem line %q: %v", e.line, err)
			}
			if err := json.Unmarshal([]byte(e.line), &p.fields); err != nil {
				t.Fatal(err)
			}
			p.line, p.Src, p.Dst = e.line, e.Src, e.Dst
			problems = append(problems, p)
		case "connection":
			var m map[string]any
			if err := json.Unmarshal([]byte(e.line), &m); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, m)
		}
	}
	return problems, conns
}

// kindsOf returns the distinct kinds of problems, in order of appearance.
func kindsOf(problems []problemLine) []string {
	var kinds []string
	for _, p := range problems {
		if !strings.Contains(" "+strings.Join(kinds, " ")+" ", " "+p.Kind+" ") {
			kinds = append(kinds, p.Kind)
		}
	}
	return kinds
}

// longestDuration returns the longest duration among a problem's fields:
// numbers under keys ending _ms, _us, _ns or _s, or Go duration strings.
func longestDuration(p problemLine) time.Duration {
	var longest time.Duration
	for k, v := range p.fields {
		var d time.Duration
		switch v := v.(type) {
		case float64:
			for _, u := range []struct {
				suffix string
				unit   time.Duration
			}{{"_ms", time.Millisecond}, {"_us", time.Microsecond}, {"_ns", time.Nanosecond}, {"_s", time.Second}} {
				if strings.HasSuffix(k, u.suffix) {
					d = time.Duration(v * float64(u.unit))
					break
				}
			}
		case string:
			d, _ = time.ParseDuration(v)
		}
		longest = max(longest, d)
	}
	return longest
}

// onPort reports whether a problem is about a connection to port.
func onPort(p problemLine, port int) bool {
	suffix := fmt.Sprintf(":%d", port)
	return strings.HasSuffix(p.Src, suffix) || strings.HasSuffix(p.Dst, suffix)
}

// signal sends sig to a started command's process.
func signal(t *testing.T, c *exec.Cmd, sig syscall.Signal) {
	t.Helper()
	if err := c.Process.Signal(sig); err != nil {
		t.Fatalf("%v to %v: %v", sig, c.Args, err)
	}
}

// TestProblemStalled stops a PULL (SIGSTOP) with a small receive buffer
// while the PUSH keeps sending 2000-byte messages: its window closes to zero
// with data waiting, a "stalled" problem must say so with how long, and
// after SIGCONT a later stalled line must say the connection recovered;
// every message still arrives and the connection event counts the time
// stalled.
func TestProblemStalled(t *testing.T) {
	requireLive(t)
	const count, stop = 60, time.Second
	port := freePort(t)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	d := startDump(t, "-i", "lo", "--port", strconv.Itoa(port), "--json")
	recv := startReceiver(t, "", "-type", "pull", "-bind", ep, "-count", strconv.Itoa(count), "-rcvbuf", "4096", "-timeout", "30s")
	time.Sleep(200 * time.Millisecond) // let it bind
	send := startPeer(t, "", "", "-type", "push", "-connect", ep, "-count", strconv.Itoa(count),
		"-size", "2000", "-interval", "20ms", "-linger", "20s", "-timeout", "30s")
	recv.waitCount(t, 5, 10*time.Second)
	signal(t, recv.Cmd, syscall.SIGSTOP)
	stoppedAt := time.Now()
	time.Sleep(stop)
	signal(t, recv.Cmd, syscall.SIGCONT)
	contAt := time.Now()
	recv.wait(t, 30*time.Second)
	waitPeer(t, send, 30*time.Second)
	out, errOut := d.stop(t)

	wantEveryMessage(t, out, errOut, count, 2000)
	problems, conns := problemLines(t, out)
	if kinds := kindsOf(problems); len(kinds) != 1 || kinds[0] != "stalled" {
		t.Fatalf("problem kinds %q, want only stalled:\n%s", kinds, out)
	}
	var longest time.Duration
	recovered := false
	for _, p := range problems {
		if p.Text == "" {
			t.Errorf("a problem without text: %s", p.line)
		}
		if !onPort(p, port) {
			t.Errorf("a stalled line not about the connection to port %d: %s", port, p.line)
		}
		longest = max(longest, longestDuration(p))
		if p.TS.After(stoppedAt) && strings.Contains(strings.ToLower(p.line), "recover") {
			recovered = true
		}
	}
	if longest < 300*time.Millisecond || longest > stop+time.Second {
		t.Errorf("the longest duration in the stalled lines is %v; the receiver was stopped for %v:\n%s", longest, stop, out)
	}
	if !recovered {
		t.Errorf("no stalled line says the connection recovered (after SIGCONT at %v):\n%s", contAt.Format(time.StampMicro), out)
	}
	if len(conns) != 1 {
		t.Fatalf("%d connection events, want 1:\n%s", len(conns), out)
	}
	if ms, _ := conns[0]["stalled_ms"].(float64); ms < 300 || ms > float64((stop+time.Second)/time.Millisecond) {
		t.Errorf("connection stalled_ms = %v, want about %v", conns[0]["stalled_ms"], stop)
	}
}

// TestProblemHeartbeatTimeout stops a PULL (SIGSTOP) after the handshake
// while the PUSH heartbeats every 100ms (timeout 300ms): its kernel still
// ACKs the PINGs but no PONG comes back, the PUSH closes after its timeout,
// and zmtpdump must report one heartbeat-timeout, and nothing else.
func TestProblemHeartbeatTimeout(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	d := startDump(t, "-i", "lo", "--port", strconv.Itoa(port), "--json")
	server := startPeer(t, "", "", "-type", "pull", "-bind", ep, "-count", "0", "-hold", "3s")
	time.Sleep(200 * time.Millisecond) // let it bind
	client := startPeer(t, "", "", "-type", "push", "-connect", ep, "-count", "0", "-hold", "1500ms",
		"-reconnect-ivl", "10s", "-heartbeat-ivl", "100ms")
	time.Sleep(500 * time.Millisecond) // the handshake and a few PING/PONG pairs
	signal(t, server, syscall.SIGSTOP)
	stoppedAt := time.Now()
	waitPeer(t, client, 10*time.Second)
	signal(t, server, syscall.SIGCONT)
	waitPeer(t, server, 10*time.Second)
	out, _ := d.stop(t)

	problems, _ := problemLines(t, out)
	if kinds := kindsOf(problems); len(kinds) != 1 || kinds[0] != "heartbeat-timeout" {
		t.Fatalf("problem kinds %q, want only heartbeat-timeout:\n%s", kinds, out)
	}
	if len(problems) != 1 {
		t.Errorf("%d heartbeat-timeout lines, want 1:\n%s", len(problems), out)
	}
	p := problems[0]
	if p.Text == "" {
		t.Errorf("a problem without text: %s", p.line)
	}
	if !onPort(p, port) {
		t.Errorf("a heartbeat-timeout not about the connection to port %d: %s", port, p.line)
	}
	// The PUSH closes 300ms after the first PING left unanswered; a PING
	// sent just before the SIGSTOP may be the first.
	if p.TS.Before(stoppedAt.Add(-200*time.Millisecond)) || p.TS.After(stoppedAt.Add(2*time.Second)) {
		t.Errorf("heartbeat-timeout at %v, the server stopped at %v", p.TS.Format(time.StampMicro), stoppedAt.Format(time.StampMicro))
	}
}
