package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// statsKeys are the keys of the stats line, in order: a contract (README,
// "Exit statistics").
var statsKeys = []string{"event", "packets_captured", "packets_matched", "ring_drops", "events",
	"messages", "connections", "bytes_reassembled", "out_of_order", "retransmitted",
	"gaps", "bytes_lost", "bytes_not_captured", "packets_cut", "packets_unreadable",
	"packets_not_parsed", "kernel_framing", "ring_bytes", "bytes_elided",
	"directions_unframed", "joined", "rst_ignored", "fin_ignored", "acks_ignored",
	"duplicates", "interfaces_added", "interfaces_removed"}

// numberedStats returns Stats whose counts are 1, 2, 3... in field order.
func numberedStats() *Stats {
	return &Stats{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, true, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, false, 0, 0, 0, 0, 0, 0, false}
}

// jsonKeys returns the keys of the JSON object line in their order.
func jsonKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", line)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		keys = append(keys, tok.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
	}
	return keys
}

// TestStatsJSON: the stats line has exactly its keys, in order, every
// value a number but kernel_framing.
func TestStatsJSON(t *testing.T) {
	var out, stderr bytes.Buffer
	p := NewJSONOptions(&out, Options{Stderr: &stderr})
	if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, oneFrame); err != nil {
		t.Fatal(err)
	}
	if err := p.Stats(numberedStats()); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want an event and the stats line:\n%s", out.String())
	}
	last := []byte(lines[1])
	if diff := cmp.Diff(statsKeys, jsonKeys(t, last)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	var m map[string]any
	if err := json.Unmarshal(last, &m); err != nil {
		t.Fatal(err)
	}
	n := 0.0
	for _, k := range statsKeys {
		switch k {
		case "event":
			if m[k] != "stats" {
				t.Errorf("event %v", m[k])
			}
		case "kernel_framing":
			if m[k] != true {
				t.Errorf("kernel_framing %v", m[k])
			}
		default:
			if n++; m[k] != n {
				t.Errorf("%s = %v, want %v", k, m[k], n)
			}
		}
	}
	// The text for people goes to stderr too.
	var text bytes.Buffer
	if err := numberedStats().WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if stderr.String() != text.String() {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), text.String())
	}
}

// TestStatsText: the text is the exit statistics as zmtpdump always
// printed them; lines that only sometimes apply are left out at zero.
func TestStatsText(t *testing.T) {
	var buf bytes.Buffer
	p := NewText(&bytes.Buffer{}, Options{Stderr: &buf})
	if err := p.Stats(numberedStats()); err != nil {
		t.Fatal(err)
	}
	want := "1 packets captured\n2 packets matched in the kernel\n3 packets dropped by kernel (ring buffer full)\n4 ZMTP events decoded\n" +
		"6 connections, 7 bytes reassembled, 8 segments out of order, 9 retransmitted, 10 gaps (11 bytes lost), 12 bytes not captured (snap)\n" +
		"13 packets cut in the kernel (payload too large to copy), 14 unreadable there (counted as lost), 15 not parsed (later fragments, more than 6 IPv6 extension headers or 2 VLAN tags)\n" +
		"16 bytes through the ring buffer, 17 payload bytes left out by kernel framing, 18 connection directions not followed, 19 joined mid-stream\n" +
		"20 RSTs and 21 FINs outside the TCP window ignored, 22 acknowledgments of bytes never seen ignored\n" +
		"23 packets seen twice (on two interfaces) reported once\n" +
		"24 interfaces added, 25 removed during the capture\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
	buf.Reset()
	if err := p.Stats(&Stats{PacketsCaptured: 1, InterfacesAdded: 1}); err != nil {
		t.Fatal(err)
	}
	want = "1 packets captured\n0 packets matched in the kernel\n0 packets dropped by kernel (ring buffer full)\n0 ZMTP events decoded\n" +
		"0 connections, 0 bytes reassembled, 0 segments out of order, 0 retransmitted, 0 gaps (0 bytes lost), 0 bytes not captured (snap)\n" +
		"0 packets cut in the kernel (payload too large to copy), 0 unreadable there (counted as lost), 0 not parsed (later fragments, more than 6 IPv6 extension headers or 2 VLAN tags)\n" +
		"1 interface added, 0 removed during the capture\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}
}
