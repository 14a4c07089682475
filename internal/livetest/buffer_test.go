package livetest

import (
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLines(t *testing.T) {
	s := "a b c\nb c\nc a\n" + strings.Repeat("x", 100) + " a c"
	if got, want := Lines(s, "a", "c"), []string{"a b c", "c a", strings.Repeat("x", 100) + " a c"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := Lines(s); len(got) != 4 {
		t.Errorf("no words: %d lines, want all 4", len(got))
	}
}

func TestFreePort(t *testing.T) {
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("port %d is not free: %v", p, err)
	}
	l.Close()
}

// TestDump runs a shell that says it is listening and then waits for
// SIGINT, as a capturer does.
func TestDump(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	d, err := Start(exec.Command(sh, "-c", `trap 'echo bye; exit 0' INT; echo listening on lo >&2; while :; do sleep 0.05; done`))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Kill()
	if err := d.WaitListening(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if !d.Running() {
		t.Fatal("exited")
	}
	if err := d.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d.Running() || d.Wait() != nil || !strings.Contains(d.Stdout.String(), "bye") {
		t.Errorf("after Stop: running %v, %v, stdout %q", d.Running(), d.Wait(), d.Stdout.String())
	}
	if _, err := d.Stats(); err == nil {
		t.Error("statistics without --stats-file or --json")
	}

	// One that exits before listening.
	e, err := Start(exec.Command(sh, "-c", "echo no >&2; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WaitListening(5 * time.Second); err == nil || !strings.Contains(err.Error(), "exited before capturing") {
		t.Errorf("WaitListening: %v", err)
	}
}

// TestReceiver times the lines of a shell that prints three messages, the
// last a while after the others.
func TestReceiver(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	start := time.Now()
	r, err := StartReceiver(exec.Command(sh, "-c", "echo 1; echo 2; sleep 0.3; echo 3; echo oops >&2"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Kill()
	if err := r.WaitCount(2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	mid := r.Messages()[1].At.Add(150 * time.Millisecond)
	if got := r.Between(start, mid); len(got) != 2 || got[0].Body != "1" || got[1].Body != "2" {
		t.Errorf("before the pause: %+v", got)
	}
	if got := r.Between(mid, time.Now()); len(got) != 1 || got[0].Body != "3" {
		t.Errorf("after the pause: %+v", got)
	}
	if at, ok := r.ReceivedAt("3"); !ok || at.Before(mid) {
		t.Errorf("ReceivedAt(3): %v %v", at, ok)
	}
	if r.Stderr.String() != "oops\n" {
		t.Errorf("stderr %q", r.Stderr.String())
	}
	if err := r.WaitCount(4, time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitCount past the end: %v", err)
	}
}
