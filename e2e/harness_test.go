package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// bins holds the binaries TestMain builds.
type bins struct {
	zmtpdump string
	peer     string
	skip     string // why live tests cannot run here
}

var built bins

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zmtpdump-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		built = bins{zmtpdump: filepath.Join(dir, "zmtpdump"), peer: filepath.Join(dir, "zmqpeer")}
		for _, b := range []struct {
			out, pkg string
			cgo      string
		}{{built.zmtpdump, "../cmd/zmtpdump", "0"}, {built.peer, "../testpeers/zmqpeer", "1"}} {
			cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b.pkg, err, out)
				return 1
			}
		}
		built.skip = liveUnavailable()
		return m.Run()
	}()
	os.Exit(code)
}

// liveUnavailable says why a live capture cannot run here, or "".
func liveUnavailable() string {
	if os.Geteuid() != 0 {
		return "live capture needs root"
	}
	if _, err := os.Stat("/sys/fs/bpf"); err != nil {
		return "no BPF filesystem: kernel without BPF?"
	}
	return ""
}

// requireLive skips the test when live capture is impossible here, or fails
// it when ZMTPDUMP_REQUIRE_E2E=1.
func requireLive(t *testing.T) {
	t.Helper()
	if built.skip == "" {
		return
	}
	skip.Unavailable(t, "%s (needs root and Linux 6.6+ with BPF ring buffers and TCX)", built.skip)
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := livetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// dump is a running zmtpdump.
type dump struct {
	*livetest.Dump
}

// startDump starts zmtpdump with args and waits until it is capturing.
func startDump(t *testing.T, args ...string) *dump {
	t.Helper()
	d := launchDump(t, args...)
	d.waitCapturing(t)
	return d
}

// launchDump starts zmtpdump with args, without waiting: several can then
// start at once.
func launchDump(t *testing.T, args ...string) *dump {
	t.Helper()
	d, err := livetest.Start(exec.Command(built.zmtpdump, args...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Kill)
	return &dump{d}
}

// waitCapturing waits until a launched zmtpdump says it is capturing.
func (d *dump) waitCapturing(t *testing.T) {
	t.Helper()
	if err := d.WaitListening(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// stop sends SIGINT and waits for a clean exit; it returns stdout and stderr.
func (d *dump) stop(t *testing.T) (string, string) {
	t.Helper()
	// Let the last records cross the ring buffer.
	time.Sleep(300 * time.Millisecond)
	if err := d.Stop(10 * time.Second); err != nil {
		t.Fatalf("%v\nstderr: %s", err, d.Stderr.String())
	}
	return d.Stdout.String(), d.Stderr.String()
}

// stats returns the exit statistics of a zmtpdump that has exited: from
// its --stats-file, or from the last line of its --json output.
func (d *dump) stats(t *testing.T) livetest.Stats {
	t.Helper()
	return livetest.MustStats(t, d.Dump)
}

// statsFile returns a path for zmtpdump's --stats-file, removed with the
// test's other temporary files.
func statsFile(t *testing.T) string {
	return filepath.Join(t.TempDir(), "stats.json")
}

// runPeers runs a receiver and then a sender to completion.
func runPeers(t *testing.T, recv, send []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := exec.CommandContext(ctx, built.peer, recv...)
	var rout, rerr bytes.Buffer
	r.Stdout, r.Stderr = &rout, &rerr
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let it bind
	if out, err := exec.CommandContext(ctx, built.peer, send...).CombinedOutput(); err != nil {
		t.Fatalf("sender %v: %v\n%s", send, err, out)
	}
	if err := r.Wait(); err != nil {
		t.Fatalf("receiver %v: %v\n%s%s", recv, err, rout.String(), rerr.String())
	}
}

// wantEveryMessage checks a --json capture (out, and its stderr errOut)
// of count messages of size bytes each: all of them decoded (the message
// lines holding also the words match), no gap or error event, no byte lost
// and no kernel drop. It returns the exit statistics (out's last line) for
// the caller's further checks.
func wantEveryMessage(t *testing.T, out, errOut string, count, size int, match ...string) livetest.Stats {
	t.Helper()
	words := append([]string{`"event":"message"`, fmt.Sprintf(`"size":%d`, size)}, match...)
	if got := len(livetest.Lines(out, words...)); got != count {
		t.Errorf("%d messages of %d bytes decoded, want %d\n%s", got, size, count, errOut)
	}
	if n := len(livetest.Lines(out, `"event":"gap"`)) + len(livetest.Lines(out, `"event":"error"`)); n != 0 {
		t.Errorf("%d gap or error events", n)
	}
	st, err := livetest.ReadStats(strings.NewReader(out))
	if err != nil {
		t.Fatalf("exit statistics: %v\nstderr: %s", err, errOut)
	}
	if st.BytesLost != 0 || st.RingDrops != 0 {
		t.Errorf("losses: %+v\n%s", st, errOut)
	}
	return st
}
