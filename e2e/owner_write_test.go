package e2e

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
)

// TestPidWriteVerbose runs two libzmq conversations of different
// processes, captured with --pid of one of them, -w and -v: the other's
// packets are in neither the pcapng file nor the -v output, while the
// selected conversation's are, from its SYN (seen before the kernel knows
// its owners) to its end.
func TestPidWriteVerbose(t *testing.T) {
	requireLive(t)
	mine, other := freePort(t), freePort(t)
	ep := func(port int) string { return fmt.Sprintf("tcp://127.0.0.1:%d", port) }
	// The selected process listens before zmtpdump starts (--pid needs
	// it running): its end is found in /proc.
	recv := exec.Command(built.peer, "-type", "pull", "-bind", ep(mine), "-count", "3")
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	defer recv.Process.Kill()
	time.Sleep(200 * time.Millisecond)
	file := filepath.Join(t.TempDir(), "pid.pcapng")
	d := startDump(t, "-i", "lo", "--pid", fmt.Sprint(recv.Process.Pid), "-w", file, "-v",
		"--port", fmt.Sprint(mine), "--port", fmt.Sprint(other))
	// The other conversation first, then the selected one, then the other
	// again while the selected one is open.
	pushPull(t, other, 2)
	send := exec.Command(built.peer, "-type", "push", "-connect", ep(mine), "-count", "3", "-interval", "100ms")
	if err := send.Start(); err != nil {
		t.Fatal(err)
	}
	pushPull(t, other, 2)
	if err := send.Wait(); err != nil {
		t.Fatalf("sender: %v", err)
	}
	if err := recv.Wait(); err != nil {
		t.Fatalf("receiver: %v", err)
	}
	out, stderr := d.stop(t)

	otherAddr, mineAddr := fmt.Sprintf("127.0.0.1:%d", other), fmt.Sprintf("127.0.0.1:%d", mine)
	if l := livetest.Lines(out, otherAddr); len(l) > 0 {
		t.Errorf("-v shows %d lines of the other process's connections, e.g. %q", len(l), l[0])
	}
	if syn := livetest.Lines(out, "> "+mineAddr+": tcp SYN,"); len(syn) != 1 {
		t.Errorf("-v: want the selected connection's SYN once, got %q\n%s", syn, out)
	}
	if n := len(livetest.Lines(out, "message: ")); n != 3 {
		t.Errorf("%d messages, want 3:\n%s", n, out)
	}
	r, err := pcapfile.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var seg segment.Segment
	var ours, theirs, syns int
	for {
		if err := r.Next(&seg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		switch p := int(seg.Src.Port()); {
		case p == other || int(seg.Dst.Port()) == other:
			theirs++
		case p == mine || int(seg.Dst.Port()) == mine:
			ours++
			if seg.Has(segment.SYN) {
				syns++
			}
		}
	}
	if theirs > 0 {
		t.Errorf("the pcapng file holds %d packets of the other process's connections", theirs)
	}
	// SYN, SYN-ACK, the greetings, READYs, 3 messages, FINs: at least 12.
	if ours < 12 || syns != 2 {
		t.Errorf("the pcapng file holds %d packets of the selected connection (%d with SYN), want all of them\n%s", ours, syns, stderr)
	}
	if got := strings.Count(out, "tcp "); got != ours {
		t.Errorf("-v printed %d packets, the file holds %d", got, ours)
	}
}
