package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

var (
	ts  = time.Date(2026, 11, 27, 12, 13, 35, 584123456, time.UTC)
	src = netip.MustParseAddrPort("127.0.0.1:47563")
	dst = netip.MustParseAddrPort("[::1]:7001")
)

// hostile holds every byte value, quotes and backslashes.
func hostile() []byte {
	b := []byte(`a"b\c`)
	for i := 0; i < 256; i++ {
		b = append(b, byte(i))
	}
	return b
}

func events() []zmtp.Event {
	return []zmtp.Event{
		&zmtp.Greeting{Major: 3, Minor: 0, Mechanism: "NULL"},
		&zmtp.Command{Kind: zmtp.KindReady, Name: "READY", Size: 26, Properties: []zmtp.Property{
			{Name: []byte("Socket-Type"), Value: []byte("PUSH")},
			{Name: hostile(), Value: hostile()},
			{Name: []byte("Identity"), Value: nil},
		}},
		&zmtp.Command{Kind: zmtp.KindError, Name: "ERROR", Size: 10, Reason: hostile()},
		&zmtp.Command{Name: "X-WEIRD", Size: 300, Data: hostile(), Truncated: true},
		&zmtp.Message{Frames: []zmtp.Frame{{Size: 1, Data: []byte("1")}}, Bytes: 1},
		&zmtp.Message{Frames: []zmtp.Frame{{Size: 5, Data: []byte("hello"), More: true}, {Size: 300, Data: hostile()[:4]}}, FramesOmitted: 2, Bytes: 400},
		&zmtp.Gap{Bytes: 7},
		&zmtp.Error{Err: errors.New(`bad "thing" at offset 9`)},
	}
}

func TestText(t *testing.T) {
	var buf bytes.Buffer
	p := NewText(&buf, Options{Location: time.UTC})
	for _, ev := range events() {
		if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, ev); err != nil {
			t.Fatal(err)
		}
	}
	seg := segment.Segment{Time: ts, Src: src, Dst: dst, Flags: segment.SYN | segment.ACK, Seq: 1, Ack: 2, PacketLen: 74, PayloadLen: 100, Payload: make([]byte, 60)}
	if err := p.Packet(&seg); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		`greeting: ZMTP 3.0, mechanism NULL, as-server 0`,
		`READY: Socket-Type="PUSH" 50 55 53 48, "a\"b\\c\x00`,
		`ERROR: reason "a\"b\\c\x00\x01`,
		`X-WEIRD: "a\"b\\c`,
		`message: "1" 31`,
		`message (4 frames, 400 bytes): "hello" 68 65 6c 6c 6f +MORE | "a\"b\\" 61 22 62 5c ... (300 bytes, 4 shown) | (2 more frames)`,
		`gap: 7 bytes lost`,
		`error: bad "thing" at offset 9`,
		`tcp SYN ACK, seq 1, ack 2, packet 74, payload 100 (60 captured)`,
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i, l := range got {
		prefix := "12:13:35.584123 127.0.0.1:47563 > [::1]:7001: "
		if !strings.HasPrefix(l, prefix) {
			t.Errorf("line %d lacks the time and endpoints: %q", i, l)
			continue
		}
		if !strings.HasPrefix(l[len(prefix):], want[i]) {
			t.Errorf("line %d:\n got %q\nwant prefix %q", i, l[len(prefix):], want[i])
		}
		for _, c := range l {
			if c < 0x20 || c >= 0x7f {
				t.Errorf("line %d has a raw byte %#x: %q", i, c, l)
				break
			}
		}
	}
	if !strings.Contains(got[3], `(size 300, cut)`) {
		t.Errorf("a cut command must say so: %q", got[3])
	}
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	p := NewJSON(&buf)
	for _, ev := range events() {
		if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, ev); err != nil {
			t.Fatal(err)
		}
	}
	seg := segment.Segment{Time: ts, Src: src, Dst: dst, Flags: segment.FIN | segment.ACK, PacketLen: 66}
	if err := p.Packet(&seg); err != nil {
		t.Fatal(err)
	}
	if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, &zmtp.Gap{Bytes: 9}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	var kinds []string
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", l, err)
		}
		if m["ts"] != "2026-11-27T12:13:35.584123456Z" || m["src"] != "127.0.0.1:47563" || m["dst"] != "[::1]:7001" {
			t.Errorf("common keys wrong: %q", l)
		}
		kinds = append(kinds, m["event"].(string))
		switch m["event"] {
		case "command":
			if m["name"] == "READY" {
				props := m["properties"].([]any)
				p0 := props[0].(map[string]any)
				if p0["name"] != "Socket-Type" || p0["value_hex"] != "50555348" {
					t.Errorf("READY property: %v", p0)
				}
				p1 := props[1].(map[string]any)
				if !strings.HasPrefix(p1["value_hex"].(string), "6122625c630001") {
					t.Errorf("binary value: %v", p1)
				}
			}
			if m["name"] == "ERROR" && !strings.HasPrefix(m["reason"].(string), "a\"b\\c\x00") {
				t.Errorf("ERROR reason: %q", m["reason"])
			}
		case "message":
			frames := m["frames"].([]any)
			last := frames[len(frames)-1].(map[string]any)
			if len(frames) == 2 && (last["size"] != 300.0 || last["truncated"] != true || last["data_hex"] != "6122625c") {
				t.Errorf("cut frame: %v", last)
			}
		case "tcp":
			if f := m["flags"].([]any); len(f) != 2 || f[0] != "FIN" || f[1] != "ACK" || m["packet_size"] != 66.0 {
				t.Errorf("tcp: %q", l)
			}
		case "gap":
			if m["bytes"] != 7.0 && m["bytes"] != 9.0 {
				t.Errorf("gap: %q", l)
			}
		case "error":
			if m["reason"] != `bad "thing" at offset 9` {
				t.Errorf("error: %q", l)
			}
		}
	}
	want := "greeting command command command message message gap error tcp gap"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("events %q, want %q", got, want)
	}
}
