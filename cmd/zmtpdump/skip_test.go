package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
)

// writeCut writes the capture src again as a pcapng file whose payloads
// are cut to snap bytes, as a capture with that snapshot length keeps
// them, and returns its name.
func writeCut(t *testing.T, src string, snap int) string {
	t.Helper()
	segs := readSegments(t, src)
	cut := 0
	for i := range segs {
		if len(segs[i].Payload) > snap {
			segs[i].Payload = segs[i].Payload[:snap]
			cut++
		}
	}
	if cut == 0 {
		t.Fatalf("%s: no payload above %d bytes", src, snap)
	}
	return writeSegments(t, filepath.Base(src)+".cut.pcapng", segs)
}

// readSegments reads every segment of the capture src, payloads copied.
func readSegments(t *testing.T, src string) []segment.Segment {
	t.Helper()
	segs, err := pcapfile.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// writeSegments writes segs as a pcapng file called name in a temporary
// directory and returns its path.
func writeSegments(t testing.TB, name string, segs []segment.Segment) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapfile.NewWriter(&buf, pcapfile.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range segs {
		if err := w.WriteSegment(&segs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSnapCut decodes captures whose large payloads were cut by a snapshot
// length, where every cut falls inside a message frame body: the bytes not
// captured are no loss. Each mode prints what the whole capture prints (the
// frames show their real sizes and at most 64 bytes, all captured): no gap
// line, no gap or lost byte in the -q table, the same notes and ladders.
func TestSnapCut(t *testing.T) {
	for _, tc := range []struct {
		capture string
		snap    int
	}{
		{"push_pull_multipart.pcap", 120},
		{"push_pull_large.pcap", 100},
		{"large_ipv6.pcap", 80},
	} {
		t.Run(tc.capture, func(t *testing.T) {
			orig := filepath.Join("../../testdata", tc.capture)
			cut := writeCut(t, orig, tc.snap)
			for _, mode := range [][]string{nil, {"--json"}, {"-q"}, {"--explain"}, {"--ladder"}, {"-X"}} {
				want := runArgs(t, append([]string{"-r", orig}, mode...)...)
				got := runArgs(t, append([]string{"-r", cut}, mode...)...)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%v: the cut capture decodes otherwise (-whole +cut):\n%s", mode, diff)
				}
				if strings.Contains(got, "gap") {
					t.Errorf("%v: a gap in\n%s", mode, got)
				}
			}
		})
	}
}

// TestSnapCutShown checks that a frame cut by the capture shows the bytes
// captured, fewer than --snap allows, with its real size.
func TestSnapCutShown(t *testing.T) {
	cut := writeCut(t, "../../testdata/push_pull_multipart.pcap", 120)
	got := runArgs(t, "-r", cut, "-s", "200", "-A", "-t")
	// 120 bytes: "hello" (2 + 5), the long frame's header (9), then 104
	// bytes of its body.
	want := `message (2 frames, 305 bytes): "hello" +MORE | "` + strings.Repeat("x", 104) + `" ... (300 bytes, 104 shown)`
	if n := strings.Count(got, want); n != 2 {
		t.Errorf("%d lines with %q in\n%s", n, want, got)
	}
	if strings.Contains(got, "gap") {
		t.Errorf("a gap in\n%s", got)
	}
}

// TestSnapCutCommand checks that bytes not captured outside a message frame
// body make the direction search for a frame boundary, as a loss does:
// nothing it cannot prove is printed, and nothing counts as lost.
func TestSnapCutCommand(t *testing.T) {
	// 20 bytes: the greetings' last pieces are cut, and every segment
	// after them, so no boundary can be proven.
	cut := writeCut(t, "../../testdata/push_pull_null.pcap", 20)
	got := runArgs(t, "-r", cut, "-t")
	for _, word := range []string{"message:", "message (", "command", "error", "gap", "lost", "resync"} {
		if strings.Contains(got, word) {
			t.Errorf("%q in\n%s", word, got)
		}
	}
	table := runArgs(t, "-r", cut, "-q")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) < 3 {
		t.Fatalf("table:\n%s", table)
	}
	// Errors, Gaps, Lost, Resyncs, End.
	if f := strings.Fields(lines[2]); len(f) < 5 || strings.Join(f[len(f)-5:], " ") != "0 0 0 0 closed" {
		t.Errorf("want 0 errors, 0 gaps, 0 lost, 0 resyncs:\n%s", table)
	}
}
