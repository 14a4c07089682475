package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/segment"
)

// writeMerged rewrites push_pull_null.pcap as a merge of two capture
// points would order it: the segment carrying message "2" comes after the
// one carrying "3" and after the acknowledgment of both.
func writeMerged(t *testing.T) string {
	t.Helper()
	segs := readSegments(t, "../../testdata/push_pull_null.pcap")
	two := slices.IndexFunc(segs, func(s segment.Segment) bool { return bytes.Equal(s.Payload, []byte{0, 1, '2'}) })
	three := slices.IndexFunc(segs, func(s segment.Segment) bool { return bytes.Equal(s.Payload, []byte{0, 1, '3'}) })
	if two < 0 || three < two {
		t.Fatalf("messages 2 and 3 at segments %d, %d", two, three)
	}
	end := segs[three].Seq + 3
	ack := slices.IndexFunc(segs[three:], func(s segment.Segment) bool { return s.Src == segs[two].Dst && s.Has(segment.ACK) && s.Ack == end })
	if ack < 0 {
		t.Fatal("no acknowledgment of message 3")
	}
	ack += three
	moved := segs[two]
	segs = slices.Insert(slices.Delete(segs, two, two+1), ack, moved)
	return writeSegments(t, "merged.pcapng", segs)
}

// TestMerged: in a merged capture an acknowledgment may come before the
// bytes it acknowledges; --merged waits for them instead of declaring them
// lost.
func TestMerged(t *testing.T) {
	name := writeMerged(t)
	plain := runArgs(t, "-r", name, "-t", "-A")
	if !strings.Contains(plain, "gap: 3 bytes lost") || strings.Contains(plain, `message: "2"`) {
		t.Errorf("without --merged, want message 2 lost to the acknowledgment:\n%s", plain)
	}
	merged := runArgs(t, "-r", name, "-t", "-A", "--merged")
	for _, m := range []string{`message: "1"`, `message: "2"`, `message: "3"`} {
		if !strings.Contains(merged, m) {
			t.Errorf("--merged: no %s in\n%s", m, merged)
		}
	}
	if strings.Contains(merged, "gap") {
		t.Errorf("--merged: a gap in\n%s", merged)
	}
}
