package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
)

// bigCapture writes a capture of n copies of push_pull_null.pcap, each a
// connection of its own (another client port, 10 ms later), and returns
// its name and its number of packets. Its text is far more than a pipe
// holds.
func bigCapture(t *testing.T, n int) (string, int) {
	t.Helper()
	one := readSegments(t, "../../testdata/push_pull_null.pcap")
	client := one[0].Src.Port()
	var segs []segment.Segment
	for i := range n {
		port := uint16(20000 + i)
		for _, seg := range one {
			seg.Time = seg.Time.Add(time.Duration(i) * 10 * time.Millisecond)
			if seg.Src.Port() == client {
				seg.Src = netip.AddrPortFrom(seg.Src.Addr(), port)
			} else {
				seg.Dst = netip.AddrPortFrom(seg.Dst.Addr(), port)
			}
			segs = append(segs, seg)
		}
	}
	return writeSegments(t, "big.pcapng", segs), len(segs)
}

// countPackets reads the capture name to its end, as tcpdump -r would: a
// file cut short is an error.
func countPackets(t *testing.T, name string) int {
	t.Helper()
	r, err := pcapfile.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var seg segment.Segment
	for n := 0; ; n++ {
		if err := r.Next(&seg); errors.Is(err, io.EOF) {
			return n
		} else if err != nil {
			t.Fatalf("%s after %d packets: %v", name, n, err)
		}
	}
}

// headOne reads one line of r, then closes it: zmtpdump | head -1.
func headOne(t *testing.T, r *os.File) string {
	t.Helper()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Errorf("first line: %v", err)
	}
	r.Close()
	return line
}

// TestBrokenPipe runs zmtpdump -r big -w out | head -1 as a process: it is
// not killed by SIGPIPE, exits 0 with nothing on stderr, and out holds
// every packet of the input (the -w file is finished, not cut at the
// buffer last written out). Without -w, zmtpdump stops reading at once.
func TestBrokenPipe(t *testing.T) {
	big, packets := bigCapture(t, 2000)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"text", nil},
		{"json", []string{"--json"}},
		{"verbose", []string{"-v"}},
		{"no -w", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.pcapng")
			args := append([]string{"-r", big}, tt.args...)
			if tt.name != "no -w" {
				args = append(args, "-w", out)
			}
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), asMainEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = w, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if line := headOne(t, r); !strings.Contains(line, "127.0.0.1") {
				t.Errorf("first line %q", line)
			}
			err = cmd.Wait()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("zmtpdump %s | head -1: %v (%s), stderr %q", strings.Join(args, " "), err, cmd.ProcessState, stderr.String())
			}
			if tt.name == "no -w" {
				return
			}
			if got := countPackets(t, out); got != packets {
				t.Errorf("the -w file holds %d packets, want all %d", got, packets)
			}
		})
	}
}

// TestBrokenPipeInProcess: the same with the command run in this process
// on a pipe it closes, and -q, whose table cannot be printed: no error.
func TestBrokenPipeInProcess(t *testing.T) {
	big, packets := bigCapture(t, 500)
	for _, extra := range [][]string{nil, {"-q"}, {"-c", "400"}} {
		t.Run(fmt.Sprint(extra), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.pcapng")
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			r.Close() // a reader gone before the first line
			var stderr bytes.Buffer
			cmd := newRootCommand(w, &stderr)
			cmd.SetArgs(append([]string{"-r", big, "-w", out}, extra...))
			if err := cmd.ExecuteContext(context.Background()); err != nil {
				t.Fatalf("%v: %v", extra, err)
			}
			want := packets
			if len(extra) > 0 && extra[0] == "-c" {
				want = countPackets(t, writeCount(t, big, out+".c"))
			}
			if got := countPackets(t, out); got != want {
				t.Errorf("the -w file holds %d packets, want %d", got, want)
			}
		})
	}
}

// writeCount writes big with -c 400 to name with stdout open, for the
// packets -c keeps.
func writeCount(t *testing.T, big, name string) string {
	t.Helper()
	runArgs(t, "-r", big, "-c", "400", "-w", name)
	return name
}
