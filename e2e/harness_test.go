package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// dump is a running zmtpdump.
type dump struct {
	cmd    *exec.Cmd
	stdout lockedBuffer
	stderr *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
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
	d := &dump{cmd: exec.Command(built.zmtpdump, args...), stderr: &lockedBuffer{}, done: make(chan error, 1)}
	d.cmd.Stdout = &d.stdout
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

// waitCapturing waits until a launched zmtpdump says it is capturing.
func (d *dump) waitCapturing(t *testing.T) {
	t.Helper()
	args := d.cmd.Args[1:]
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.stderr.String(), "listening on") {
		select {
		case err := <-d.done:
			t.Fatalf("zmtpdump %v exited before capturing: %v\nstderr: %s", args, err, d.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("zmtpdump %v did not start capturing\nstderr: %s", args, d.stderr.String())
		}
	}
}

// stop sends SIGINT and waits for a clean exit; it returns stdout and stderr.
func (d *dump) stop(t *testing.T) (string, string) {
	t.Helper()
	// Let the last records cross the ring buffer.
	time.Sleep(300 * time.Millisecond)
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("zmtpdump exited with %v\nstderr: %s", err, d.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("zmtpdump did not stop on SIGINT\nstderr: %s", d.stderr.String())
	}
	return d.stdout.String(), d.stderr.String()
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

// exitStat returns the number the regular expression re captures in
// zmtpdump's exit statistics (stderr).
func exitStat(t *testing.T, stderr, re string) uint64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no %q in the exit statistics:\n%s", re, stderr)
	}
	v, _ := strconv.ParseUint(m[1], 10, 64)
	return v
}

// lines returns the lines of s that contain every one of the words.
func lines(s string, words ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
next:
	for sc.Scan() {
		for _, w := range words {
			if !strings.Contains(sc.Text(), w) {
				continue next
			}
		}
		out = append(out, sc.Text())
	}
	return out
}

// wantEveryMessage checks a --json capture (out, and its exit statistics
// errOut) of count messages of size bytes each: all of them decoded (the
// message lines holding also the words match), no gap or error event, no
// byte lost and no kernel drop. It returns the exit statistic reader for
// the caller's further checks.
func wantEveryMessage(t *testing.T, out, errOut string, count, size int, match ...string) func(re string) uint64 {
	t.Helper()
	words := append([]string{`"event":"message"`, fmt.Sprintf(`"size":%d`, size)}, match...)
	if got := len(lines(out, words...)); got != count {
		t.Errorf("%d messages of %d bytes decoded, want %d\n%s", got, size, count, errOut)
	}
	if n := len(lines(out, `"event":"gap"`)) + len(lines(out, `"event":"error"`)); n != 0 {
		t.Errorf("%d gap or error events", n)
	}
	num := func(re string) uint64 { return exitStat(t, errOut, re) }
	if num(`\((\d+) bytes lost\)`) != 0 || num(`(\d+) packets dropped by kernel`) != 0 {
		t.Errorf("losses:\n%s", errOut)
	}
	return num
}
