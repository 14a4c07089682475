package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/zmtp"
)

var oneFrame = &zmtp.Message{Frames: []zmtp.Frame{{Size: 1, Data: []byte("1")}}, Bytes: 1}

func TestTextNotes(t *testing.T) {
	var buf bytes.Buffer
	p := NewText(&buf, Options{Time: TimeNone})
	notes := []Note{{Key: "k", Stage: StageMessages, Text: strings.Repeat("word ", 40), Cite: `RFC 23 "Framing"`}}
	if err := p.Event(&Line{Time: ts, Src: src, Dst: dst, Notes: notes}, oneFrame); err != nil {
		t.Fatal(err)
	}
	if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, oneFrame); err != nil { // notes are printed once
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want event, 3 note lines, event:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(lines[1], "    [messages] word") || !strings.HasPrefix(lines[2], "      word") ||
		!strings.HasSuffix(lines[3], `(RFC 23 "Framing")`) {
		t.Errorf("notes not indented and wrapped as expected:\n%s", buf.String())
	}
	for _, l := range lines {
		if len(l) > noteWidth && strings.HasPrefix(l, " ") {
			t.Errorf("note line of %d columns, over %d: %q", len(l), noteWidth, l)
		}
	}
}

func TestJSONNotes(t *testing.T) {
	var buf bytes.Buffer
	p := NewJSON(&buf)
	notes := []Note{{Key: "message", Stage: StageMessages, Text: `a "quoted" note`, Cite: `RFC 23 "Framing"`}}
	if err := p.Event(&Line{Time: ts, Src: src, Dst: dst, Notes: notes}, oneFrame); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Notes []struct{ Key, Stage, Text, RFC string }
	}
	if err := json.Unmarshal(buf.Bytes(), &ev); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if len(ev.Notes) != 1 || ev.Notes[0].Text != `a "quoted" note` || ev.Notes[0].RFC != `RFC 23 "Framing"` {
		t.Errorf("notes %+v", ev.Notes)
	}
}
