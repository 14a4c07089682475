package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/output"
)

// ipc:// as a user reads it: the text output, problems, --pid of a
// receiver that never sends.

// end waits for a peer expected to fail (a timeout), its error ignored.
func (p *ipcPeer) end() { _ = p.cmd.Wait() }

// TestIPCText: the text output of a live ipc capture names the ends by
// pid and the server's by its path too, escaped (a path holding ESC and
// a byte that is not UTF-8), in the events, the summary and the banner;
// no synthetic address and no raw ESC anywhere.
func TestIPCText(t *testing.T) {
	requireLive(t)
	path := filepath.Join(t.TempDir(), "e\x1bx\xff.ipc")
	d := startDump(t, "--ipc", path)
	pull, push := ipcPair(t,
		[]string{"-type", "pull", "-bind", "ipc://" + path, "-count", "3"},
		[]string{"-type", "push", "-connect", "ipc://" + path, "-count", "3", "-multipart"})
	out, errOut := d.stop(t)
	shown := output.Printable(path)
	pusher, puller := push.name(), pull.name()+" "+shown
	if msgs := livetest.Lines(out, " "+pusher+" > "+puller+`: message (2 frames, `); len(msgs) != 3 {
		t.Errorf("%d messages %s > %s, want 3\n%s", len(msgs), pusher, puller, out)
	}
	if !strings.Contains(out, "connection closed: "+pusher+" (PUSH) -> "+puller+" (PULL)") {
		t.Errorf("no connection summary naming the ends\n%s", out)
	}
	if !strings.Contains(errOut, "ipc:// at "+shown) {
		t.Errorf("the banner does not name the path escaped\n%s", errOut)
	}
	for name, s := range map[string]string{"stdout": out, "stderr": errOut} {
		if strings.Contains(s, "fd7a:") {
			t.Errorf("%s names a synthetic address\n%s", name, s)
		}
		if i := strings.IndexByte(s, 0x1b); i >= 0 {
			t.Errorf("%s holds a raw ESC: %q", name, s[max(0, i-40):min(len(s), i+40)])
		}
	}
}

// pullServer accepts one connection at path and plays a ZMTP 3.1 NULL
// PULL socket by hand, its READY sent only once the client's arrived, so
// that a libzmq client, which closes at a READY it cannot talk to, sends
// its own first: both socket types are on the wire whatever the timing.
// It returns when the client closed, and no longer listens.
func pullServer(t *testing.T, path string) (done <-chan error) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	go func() {
		defer l.Close()
		c, err := l.Accept()
		if err != nil {
			ch <- err
			return
		}
		defer c.Close()
		l.Close() // the client's reconnects are refused
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		greeting := make([]byte, 64)
		greeting[0], greeting[9], greeting[10], greeting[11] = 0xff, 0x7f, 3, 1
		copy(greeting[12:], "NULL")
		ready := append([]byte{0x04, 26, 5}, "READY"...)
		ready = append(append(append(ready, 11), "Socket-Type"...), 0, 0, 0, 4)
		ready = append(ready, "PULL"...)
		if _, err := c.Write(greeting); err != nil {
			ch <- err
			return
		}
		peer := make([]byte, 64+2)
		if _, err := io.ReadFull(c, peer); err != nil { // its greeting, its READY's header
			ch <- fmt.Errorf("read the client's greeting: %w", err)
			return
		}
		if _, err := io.ReadFull(c, make([]byte, peer[65])); err != nil {
			ch <- fmt.Errorf("read the client's READY: %w", err)
			return
		}
		if _, err := c.Write(ready); err != nil {
			ch <- err
			return
		}
		_, err = io.Copy(io.Discard, c) // until the client closes
		ch <- err
	}()
	return ch
}

// TestIPCProblemNames: a libzmq PULL connected over ipc to a PULL (one
// written by hand, see pullServer) is a socket-type mismatch; the problem
// line, its text and the exit summary name both ends by pid, the server's
// with its path, and no synthetic address is printed anywhere (text and
// JSON).
func TestIPCProblemNames(t *testing.T) {
	requireLive(t)
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skipf("no /proc/self/comm: %v", err)
	}
	for _, js := range []bool{false, true} {
		t.Run(fmt.Sprintf("json=%v", js), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.ipc")
			args := []string{"--ipc", path}
			if js {
				args = append(args, "--json")
			}
			d := startDump(t, args...)
			done := pullServer(t, path)
			waitBound(t, path)
			cl := startIPCPeer(t, "-type", "pull", "-connect", "ipc://"+path, "-count", "1", "-timeout", "1s")
			if err := <-done; err != nil {
				t.Errorf("the PULL server: %v", err)
			}
			cl.end()
			out, errOut := d.stop(t)
			client := cl.name()
			server := fmt.Sprintf("pid %d (%s) %s", os.Getpid(), output.Printable(strings.TrimSpace(string(comm))), path)
			if l := livetest.Lines(errOut, "problems: 1 socket-type-mismatch (1 connection: "+client+" > "+server+")"); len(l) != 1 {
				t.Errorf("no summary of the socket-type-mismatch naming %s > %s\n%s", client, server, errOut)
			}
			var lines []string
			if js {
				lines = livetest.Lines(out, `"src":"`+client+`","dst":"`+server+`","event":"problem"`, `"kind":"socket-type-mismatch"`)
				if !strings.Contains(out, `"socket-type-mismatch":{"count":1,"connections":["`+client+" > "+server+`"]}`) {
					t.Errorf("no JSON summary of problems naming the ends\n%s", short(out))
				}
			} else {
				lines = livetest.Lines(out, " "+client+" > "+server+": problem: socket-type-mismatch: the client is a PULL socket and the server a PULL socket")
			}
			if len(lines) != 1 {
				t.Errorf("%d socket-type-mismatch problems naming %s > %s, want 1\n%s", len(lines), client, server, short(out))
			}
			if strings.Contains(out, "fd7a:") || strings.Contains(errOut, "fd7a:") {
				t.Errorf("a synthetic address is printed\n%s\n%s", short(out), errOut)
			}
		})
	}
}

// TestIPCPidJoined: --pid of the PULL of a connection joined mid-stream,
// which sends nothing once joined (no send names its pid): its socket is
// found in /proc/PID/fd, and the messages it receives are printed, exact
// and in order.
func TestIPCPidJoined(t *testing.T) {
	requireLive(t)
	path := filepath.Join(t.TempDir(), "j.ipc")
	const n, size = 40, 300
	r := startIPCPeer(t, "-type", "pull", "-bind", "ipc://"+path, "-count", strconv.Itoa(n), "-timeout", "30s")
	waitBound(t, path)
	s := startIPCPeer(t, "-type", "push", "-connect", "ipc://"+path, "-count", strconv.Itoa(n), "-interval", "100ms", "-mix", strconv.Itoa(size))
	time.Sleep(time.Second) // joined mid-stream
	d := startDump(t, "--ipc", path, "--pid", strconv.Itoa(r.pid()), "--json", "-s", "1000")
	s.wait(t)
	r.wait(t)
	out, errOut := d.stop(t)
	var msgs []ipcEvent
	for _, ev := range ipcEvents(t, out) {
		if ev.Event == "message" && ev.Src == s.name() &&
			(ev.Dst == r.name()+" "+path || strings.HasPrefix(ev.Dst, "socket:[") && strings.HasSuffix(ev.Dst, "] "+path)) {
			msgs = append(msgs, ev)
		}
	}
	if len(msgs) < n/4 {
		t.Fatalf("--pid %d: %d messages printed, want most of those sent after the start\n%s\n%s", r.pid(), len(msgs), errOut, short(out))
	}
	first, _ := strconv.Atoi(strings.TrimRight(msgs[0].frames(t)[0], "x"))
	for i, m := range msgs {
		if got, want := m.frames(t), peerBody(first+i, size); len(got) != 1 || got[0] != want {
			t.Fatalf("message %d after the join: %.20q, want %.20q (in order, none lost)", i, got, want)
		}
	}
	if !bytes.Contains([]byte(out), []byte(`"event":"resync"`)) {
		t.Errorf("no resync: the connection was not joined mid-stream\n%s", short(out))
	}
}
