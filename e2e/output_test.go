package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// zmtpLines keeps the greeting, READY and message lines of zmtpdump's text.
func zmtpLines(out string) []string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ": greeting: ") || strings.Contains(l, ": READY: ") || strings.Contains(l, ": message: ") {
			keep = append(keep, l)
		}
	}
	return keep
}

// tcpdumpRead lists the TCP packets of a capture file with tcpdump -nn -r.
func tcpdumpRead(t *testing.T, file string) []string {
	t.Helper()
	out, err := exec.Command("tcpdump", "-nn", "-r", file).Output()
	if err != nil {
		t.Fatalf("tcpdump -nn -r %s: %v", file, err)
	}
	return livetest.Lines(string(out), "Flags [")
}

// TestLiveWritePcapng captures on lo with -w while libzmq peers talk: the
// file, read back by zmtpdump -r, shows the same greetings, READY commands
// and messages as the live text, and tcpdump lists every packet captured.
func TestLiveWritePcapng(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	file := filepath.Join(t.TempDir(), "live.pcapng")
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-w", file, "--stats-file", statsFile(t))
	pushPull(t, port, 3)
	live, _ := d.stop(t)

	want := zmtpLines(live)
	if len(want) != 7 {
		t.Fatalf("live: want 2 greetings, 2 READY and 3 messages, got:\n%s", live)
	}
	out, err := exec.Command(built.zmtpdump, "-r", file).CombinedOutput()
	if err != nil {
		t.Fatalf("zmtpdump -r %s: %v\n%s", file, err, out)
	}
	if got := zmtpLines(string(out)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("zmtpdump -r of the file:\n%s\nwant the live lines:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	pkts := tcpdumpRead(t, file)
	if n := int(d.stats(t).PacketsCaptured); len(pkts) != n {
		t.Errorf("tcpdump lists %d packets, zmtpdump captured %d:\n%s", len(pkts), n, strings.Join(pkts, "\n"))
	}
	srv := fmt.Sprintf("127.0.0.1.%d", port)
	if len(livetest.Lines(strings.Join(pkts, "\n"), "Flags [S]", "> "+srv+":")) != 1 || len(livetest.Lines(strings.Join(pkts, "\n"), "Flags [S.]", srv+" >")) != 1 {
		t.Errorf("tcpdump does not show the handshake to %s:\n%s", srv, strings.Join(pkts, "\n"))
	}
}

// TestLiveWriteStdout captures with -w -: stdout is a pcapng stream that
// tcpdump reads, with the same packets.
func TestLiveWriteStdout(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-w", "-", "--stats-file", statsFile(t))
	pushPull(t, port, 2)
	out, _ := d.stop(t)
	if !strings.HasPrefix(out, "\x0a\x0d\x0d\x0a") {
		t.Fatalf("stdout is not pcapng: %q", out[:min(len(out), 32)])
	}
	file := filepath.Join(t.TempDir(), "stdout.pcapng")
	if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if pkts, n := tcpdumpRead(t, file), int(d.stats(t).PacketsCaptured); len(pkts) != n || n == 0 {
		t.Errorf("tcpdump lists %d packets, zmtpdump captured %d", len(pkts), n)
	}
}

// TestLiveCount checks that -c N stops a live capture by itself after N
// messages, with exit status 0, having printed N messages.
func TestLiveCount(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-c", "2")
	pushPull(t, port, 5)
	select {
	case <-d.Exited():
		err := d.Wait()
		if err != nil {
			t.Fatalf("zmtpdump -c 2 exited with %v\nstderr: %s", err, d.Stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("zmtpdump -c 2 did not stop after 5 messages\nstdout: %s", d.Stdout.String())
	}
	out := d.Stdout.String()
	if got := livetest.Lines(out, ": message: "); len(got) != 2 {
		t.Errorf("want 2 messages, got %d:\n%s", len(got), out)
	}
	if !strings.Contains(d.Stderr.String(), "packets captured") {
		t.Errorf("no exit statistics:\n%s", d.Stderr.String())
	}
}

// TestLiveDuration checks that -G stops a live capture after the duration,
// with exit status 0, even when nothing is captured.
func TestLiveDuration(t *testing.T) {
	requireLive(t)
	start := time.Now()
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(freePort(t)), "-G", "2s", "-q")
	select {
	case <-d.Exited():
		err := d.Wait()
		if err != nil {
			t.Fatalf("zmtpdump -G 2s exited with %v\nstderr: %s", err, d.Stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("zmtpdump -G 2s did not stop")
	}
	if took := time.Since(start); took < 2*time.Second || took > 10*time.Second {
		t.Errorf("zmtpdump -G 2s ran for %v", took)
	}
	if out := d.Stdout.String(); out != "ZMTP conversations: 0\n" {
		t.Errorf("-q with no traffic printed %q", out)
	}
}

// TestLiveStatus forces the status line (stderr is not a terminal here):
// it is redrawn in place while capturing and erased before the exit
// statistics.
func TestLiveStatus(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-q", "--status=always", "-G", "3s", "--stats-file", statsFile(t))
	pushPull(t, port, 2)
	select {
	case <-d.Exited():
		err := d.Wait()
		if err != nil {
			t.Fatalf("zmtpdump exited with %v\nstderr: %q", err, d.Stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("zmtpdump -G 3s did not stop")
	}
	errOut := d.Stderr.String()
	if !regexp.MustCompile(`\r\d+ packets \(\d+/s\), \d+ ZMTP messages \(\d+/s\), 0 dropped by kernel\x1b\[K`).MatchString(errOut) {
		t.Errorf("no status line in stderr: %q", errOut)
	}
	if !strings.Contains(errOut, "\r\x1b[K"+fmt.Sprint(d.stats(t).PacketsCaptured)+" packets captured") {
		t.Errorf("the status line is not erased before the statistics: %q", errOut)
	}
}

// TestLoneMessagePromptly: a single message on an otherwise idle capture
// is printed within a fraction of a second, while zmtpdump keeps running
// (the kernel wakes the reader for a record that finds the ring empty, and
// output is written out once the ring is drained).
func TestLoneMessagePromptly(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port))
	time.Sleep(1500 * time.Millisecond) // let the capture go idle
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", "1"},
		[]string{"-type", "push", "-connect", ep, "-count", "1", "-wait", "100ms"})
	sent := time.Now()
	for !strings.Contains(d.Stdout.String(), `message: "1" 31`) {
		if time.Since(sent) > 250*time.Millisecond {
			t.Fatalf("the message was not printed within 250 ms of being sent\nstdout: %s", d.Stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("printed %v after the sender finished", time.Since(sent).Round(time.Millisecond))
	d.stop(t)
}
