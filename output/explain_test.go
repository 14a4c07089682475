package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

func noteKeysOf(notes []Note) []string {
	var keys []string
	for _, n := range notes {
		keys = append(keys, n.Key)
	}
	return keys
}

var (
	oneFrame = &zmtp.Message{Frames: []zmtp.Frame{{Size: 1, Data: []byte("1")}}, Bytes: 1}
	twoFrame = &zmtp.Message{Frames: []zmtp.Frame{{Size: 0, More: true}, {Size: 1, Data: []byte("1")}}, Bytes: 1}
)

func TestExplainOncePerConnection(t *testing.T) {
	x := NewExplainer(false)
	if got := noteKeysOf(x.Notes(capture.ClientToServer, oneFrame)); !cmp.Equal(got, []string{"message"}) {
		t.Fatalf("first message: notes %v, want [message]", got)
	}
	for i := range 3 {
		if got := x.Notes(capture.ServerToClient, oneFrame); len(got) != 0 {
			t.Fatalf("message %d: notes %v, want none (once per connection)", i+2, noteKeysOf(got))
		}
	}
	// A new key still shows, an old one does not.
	if got := noteKeysOf(x.Notes(capture.ClientToServer, twoFrame)); !cmp.Equal(got, []string{"frame.more"}) {
		t.Fatalf("two frames: notes %v, want [frame.more]", got)
	}
	// Another connection starts afresh.
	if got := noteKeysOf(NewExplainer(false).Notes(capture.ClientToServer, oneFrame)); !cmp.Equal(got, []string{"message"}) {
		t.Fatalf("new connection: notes %v, want [message]", got)
	}
}

func TestExplainAll(t *testing.T) {
	x := NewExplainer(true)
	for i := range 3 {
		if got := noteKeysOf(x.Notes(capture.ClientToServer, twoFrame)); !cmp.Equal(got, []string{"message", "frame.more"}) {
			t.Fatalf("message %d: notes %v, want every note each time", i+1, got)
		}
	}
}

// TestExplainKeys checks which notes events of each kind bring, and that
// every note cites an RFC section.
func TestExplainKeys(t *testing.T) {
	null31 := &zmtp.Greeting{Header: zmtp.Header{Len: 64}, Major: 3, Minor: 1, Mechanism: "NULL"}
	null31.Signature[8] = 1
	null30 := &zmtp.Greeting{Header: zmtp.Header{Len: 64}, Major: 3, Minor: 0, Mechanism: "NULL"}
	ready := func(typ string) *zmtp.Command {
		return &zmtp.Command{Name: "READY", Mechanism: "NULL", Size: 26,
			Properties: []zmtp.Property{{Name: []byte("Socket-Type"), Value: []byte(typ)}}}
	}
	for _, tt := range []struct {
		name string
		run  func(x *Explainer) []Note
		want []string
	}{
		{"libzmq greeting in pieces", func(x *Explainer) []Note {
			x.Data(capture.ClientToServer, 10)
			x.Data(capture.ClientToServer, 1)
			x.Data(capture.ClientToServer, 60) // 53 of the greeting, 7 of READY
			return x.Notes(capture.ClientToServer, null31)
		}, []string{"greeting", "greeting.split", "greeting.padding", "greeting.as-server"}},
		{"whole greeting, mixed versions", func(x *Explainer) []Note {
			x.Notes(capture.ServerToClient, null31)
			x.Data(capture.ClientToServer, 64)
			return x.Notes(capture.ClientToServer, null30)
		}, []string{"greeting.whole", "version.mixed"}}, // greeting, as-server: shown already
		{"pieces known after a skip, not a gap", func(x *Explainer) []Note {
			x.Data(capture.ClientToServer, 10)
			x.Data(capture.ClientToServer, 1)
			x.Data(capture.ClientToServer, 53)
			x.Skip(capture.ClientToServer, 1000) // bytes not captured: no loss
			x.Data(capture.ClientToServer, 7)
			return x.Notes(capture.ClientToServer, null31)
		}, []string{"greeting", "greeting.split", "greeting.padding", "greeting.as-server"}},
		{"pieces unknown after a gap", func(x *Explainer) []Note {
			x.Gap(capture.ClientToServer, 10)
			return x.Notes(capture.ClientToServer, null30)
		}, []string{"greeting", "greeting.as-server"}},
		{"2.0 downgrade", func(x *Explainer) []Note {
			return x.Notes(capture.ClientToServer, &zmtp.Greeting{Major: 2, Revision: 3, Downgraded: true, SocketType: "PUSH", Mechanism: "NULL"})
		}, []string{"downgrade.20"}},
		{"NULL READY", func(x *Explainer) []Note { return x.Notes(capture.ServerToClient, ready("PULL")) },
			[]string{"null.ready", "ready.metadata"}},
		{"REQ delimiter", func(x *Explainer) []Note {
			x.Notes(capture.ClientToServer, ready("REQ"))
			x.Notes(capture.ServerToClient, ready("REP"))
			return x.Notes(capture.ClientToServer, twoFrame)
		}, []string{"message", "frame.more", "req.delimiter"}},
		{"3.0 subscription", func(x *Explainer) []Note {
			x.Notes(capture.ClientToServer, null30)
			return x.Notes(capture.ClientToServer, &zmtp.Message{Frames: []zmtp.Frame{{Size: 2, Data: []byte("\x01a")}}, Subscription: zmtp.Subscribe, Topic: []byte("a")})
		}, []string{"sub.30-message"}},
		{"3.1 SUBSCRIBE", func(x *Explainer) []Note {
			return x.Notes(capture.ClientToServer, &zmtp.Command{Name: "SUBSCRIBE", Size: 11, Topic: []byte("a")})
		}, []string{"sub.31-command"}},
		{"libzmq PLAIN ERROR", func(x *Explainer) []Note {
			plain := &zmtp.Greeting{Header: zmtp.Header{Len: 64}, Major: 3, Minor: 1, Mechanism: "PLAIN"}
			x.Notes(capture.ClientToServer, plain)
			x.Notes(capture.ServerToClient, plain)
			x.Notes(capture.ClientToServer, &zmtp.Command{Name: "HELLO", Mechanism: "PLAIN", Size: 18})
			return x.Notes(capture.ServerToClient, &zmtp.Error{Err: fmt.Errorf("command name length 94 at offset 64 overruns the 9-byte body: %w", zmtp.ErrMalformedCommand)})
		}, []string{"error.libzmq-plain", "decode.error"}},
		{"other error", func(x *Explainer) []Note {
			return x.Notes(capture.ServerToClient, &zmtp.Error{Err: errors.New("anything")})
		}, []string{"decode.error"}},
		{"reset", func(x *Explainer) []Note { return x.Notes(capture.ClientToServer, &zmtp.Connection{End: "reset"}) },
			[]string{"teardown.rst"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			notes := tt.run(NewExplainer(false))
			if got := noteKeysOf(notes); !cmp.Equal(got, tt.want) {
				t.Errorf("notes %v, want %v", got, tt.want)
			}
			for _, n := range notes {
				if !strings.HasPrefix(n.Cite, "RFC ") || n.Text == "" || n.Stage == "" {
					t.Errorf("note %s: stage %q, cite %q, text %q: want all three, citing an RFC", n.Key, n.Stage, n.Cite, n.Text)
				}
			}
		})
	}
}

func TestNoteKeysNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range NoteKeys() {
		if k == "" || seen[k] {
			t.Fatalf("note key %q empty or repeated", k)
		}
		seen[k] = true
	}
}

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
