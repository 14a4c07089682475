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
