package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
)

// TestLiveBrokenPipe captures live with -w, its stdout a pipe whose reader
// goes away after one line (zmtpdump -i lo -w f | head -1): zmtpdump is not
// killed by SIGPIPE but stops by itself, prints its statistics on stderr,
// exits 0, and leaves a whole -w file (read back to its end, and by
// tcpdump without a "truncated" warning).
func TestLiveBrokenPipe(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	file := filepath.Join(t.TempDir(), "live.pcapng")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stats := statsFile(t)
	cmd := exec.Command(built.zmtpdump, "-i", "lo", "--port", fmt.Sprint(port), "-w", file, "--stats-file", stats)
	cmd.Stdout = w
	d, err := livetest.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer d.Kill()
	if err := d.WaitListening(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	peers := make(chan struct{})
	go func() {
		defer close(peers)
		ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
		recv := exec.Command(built.peer, "-type", "pull", "-bind", ep, "-count", "40")
		if err := recv.Start(); err != nil {
			t.Error(err)
			return
		}
		time.Sleep(100 * time.Millisecond)
		if out, err := exec.Command(built.peer, "-type", "push", "-connect", ep, "-count", "40", "-interval", "25ms").CombinedOutput(); err != nil {
			t.Errorf("sender: %v\n%s", err, out)
		}
		recv.Wait()
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if err != nil || !strings.Contains(line, fmt.Sprint(port)) {
		t.Errorf("first line %q: %v", line, err)
	}
	select {
	case <-d.Exited():
		if err := d.Wait(); err != nil {
			t.Fatalf("zmtpdump -w %s | head -1: %v\nstderr: %s", file, err, d.Stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("zmtpdump did not stop when its stdout closed\nstderr: %s", d.Stderr.String())
	}
	<-peers
	if st, err := livetest.ReadStatsFile(stats); err != nil || st.PacketsCaptured == 0 {
		t.Errorf("no exit statistics (%v): %s", err, d.Stderr.String())
	}
	rd, err := pcapfile.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var seg segment.Segment
	n := 0
	for ; ; n++ {
		if err := rd.Next(&seg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s after %d packets: %v", file, n, err)
		}
	}
	if n == 0 {
		t.Error("the -w file holds no packet")
	}
	if tcpdump, err := exec.LookPath("tcpdump"); err == nil {
		out, err := exec.Command(tcpdump, "-nn", "-r", file).CombinedOutput()
		if err != nil || strings.Contains(string(out), "truncated") {
			t.Errorf("tcpdump -r %s: %v\n%s", file, err, out)
		}
	}
}
