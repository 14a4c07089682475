package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// resyncEvents are what a direction that lost its place, or joined
// mid-stream, produces.
func resyncEvents() []zmtp.Event {
	return []zmtp.Event{
		&zmtp.Gap{Header: zmtp.Header{Offset: 100}, Bytes: 65536, Messages: 5958, MessagesKnown: true},
		&zmtp.Gap{Header: zmtp.Header{Offset: 200}, Bytes: 1448},
		&zmtp.Resync{Header: zmtp.Header{Offset: 1234}, Reason: zmtp.ResyncMidStream, Source: zmtp.SyncSearch, Skipped: 200, MessageStart: true},
		&zmtp.Resync{Header: zmtp.Header{Offset: 70000}, Reason: zmtp.ResyncGap, Source: zmtp.SyncKernel, Skipped: 12},
		&zmtp.Connection{End: segment.Finished, Sides: [2]zmtp.Side{
			{Joined: true, Major: 3, Mechanism: "CURVE", Inferred: zmtp.InferredVersion | zmtp.InferredMechanism, Messages: 3, MessageBytes: 90, Resyncs: 1},
			{Joined: true, Resyncs: 2},
		}},
	}
}

func TestTextResync(t *testing.T) {
	var buf bytes.Buffer
	p := NewText(&buf, Options{Location: time.UTC, Time: TimeNone})
	for _, ev := range resyncEvents() {
		if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"127.0.0.1:47563 > [::1]:7001: gap: 65536 bytes lost (5958 messages)",
		"127.0.0.1:47563 > [::1]:7001: gap: 1448 bytes lost",
		"127.0.0.1:47563 > [::1]:7001: resync: mid-stream, decoding from offset 1234 (200 bytes skipped, boundary found by search)",
		"127.0.0.1:47563 > [::1]:7001: resync: gap, decoding from offset 70000 (12 bytes skipped, boundary marked by the kernel; the message in progress is not shown)",
		"127.0.0.1:47563 > [::1]:7001: connection closed: 127.0.0.1:47563 -> [::1]:7001, ZMTP 3.x CURVE (inferred), joined mid-connection, 3 resyncs, 3 messages 90 bytes ->, 0 messages <-",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}

func TestJSONResync(t *testing.T) {
	var buf bytes.Buffer
	p := NewJSON(&buf)
	for _, ev := range resyncEvents() {
		if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		for _, k := range []string{"ts", "src", "dst", "src_identity_hex", "dst_identity_hex", "src_socket_type", "dst_socket_type"} {
			delete(m, k)
		}
		got = append(got, m)
	}
	want := []map[string]any{
		{"event": "gap", "bytes": 65536.0, "messages": 5958.0, "offset": 100.0},
		{"event": "gap", "bytes": 1448.0, "offset": 200.0},
		{"event": "resync", "reason": "mid-stream", "offset": 1234.0, "skipped_bytes": 200.0, "source": "search", "message_start": true},
		{"event": "resync", "reason": "gap", "offset": 70000.0, "skipped_bytes": 12.0, "source": "kernel", "message_start": false},
		{"event": "connection", "end": "closed", "version": "3.x", "mechanism": "CURVE", "src_version": "3.x", "dst_version": "",
			"joined": true, "inferred": []any{"src_version", "src_mechanism"},
			"src_to_dst": map[string]any{"messages": 3.0, "bytes": 90.0, "commands": 0.0, "stream_bytes": 0.0, "resyncs": 1.0},
			"dst_to_src": map[string]any{"messages": 0.0, "bytes": 0.0, "commands": 0.0, "stream_bytes": 0.0, "resyncs": 2.0}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}
