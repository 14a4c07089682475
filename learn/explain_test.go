package learn

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

func noteKeysOf(notes []output.Note) []string {
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
	if got := noteKeysOf(x.Notes(segment.ClientToServer, oneFrame)); !cmp.Equal(got, []string{"message"}) {
		t.Fatalf("first message: notes %v, want [message]", got)
	}
	for i := range 3 {
		if got := x.Notes(segment.ServerToClient, oneFrame); len(got) != 0 {
			t.Fatalf("message %d: notes %v, want none (once per connection)", i+2, noteKeysOf(got))
		}
	}
	// A new key still shows, an old one does not.
	if got := noteKeysOf(x.Notes(segment.ClientToServer, twoFrame)); !cmp.Equal(got, []string{"frame.more"}) {
		t.Fatalf("two frames: notes %v, want [frame.more]", got)
	}
	// Another connection starts afresh.
	if got := noteKeysOf(NewExplainer(false).Notes(segment.ClientToServer, oneFrame)); !cmp.Equal(got, []string{"message"}) {
		t.Fatalf("new connection: notes %v, want [message]", got)
	}
}

func TestExplainAll(t *testing.T) {
	x := NewExplainer(true)
	for i := range 3 {
		if got := noteKeysOf(x.Notes(segment.ClientToServer, twoFrame)); !cmp.Equal(got, []string{"message", "frame.more"}) {
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
		return &zmtp.Command{Kind: zmtp.KindReady, Name: "READY", Mechanism: "NULL", Size: 26,
			Properties: []zmtp.Property{{Name: []byte("Socket-Type"), Value: []byte(typ)}}}
	}
	for _, tt := range []struct {
		name string
		run  func(x *Explainer) []output.Note
		want []string
	}{
		{"libzmq greeting in pieces", func(x *Explainer) []output.Note {
			x.Data(segment.ClientToServer, 10)
			x.Data(segment.ClientToServer, 1)
			x.Data(segment.ClientToServer, 60) // 53 of the greeting, 7 of READY
			return x.Notes(segment.ClientToServer, null31)
		}, []string{"greeting", "greeting.split", "greeting.padding", "greeting.as-server"}},
		{"whole greeting, mixed versions", func(x *Explainer) []output.Note {
			x.Notes(segment.ServerToClient, null31)
			x.Data(segment.ClientToServer, 64)
			return x.Notes(segment.ClientToServer, null30)
		}, []string{"greeting.whole", "version.mixed"}}, // greeting, as-server: shown already
		{"pieces known after a skip, not a gap", func(x *Explainer) []output.Note {
			x.Data(segment.ClientToServer, 10)
			x.Data(segment.ClientToServer, 1)
			x.Data(segment.ClientToServer, 53)
			x.Skip(segment.ClientToServer, 1000) // bytes not captured: no loss
			x.Data(segment.ClientToServer, 7)
			return x.Notes(segment.ClientToServer, null31)
		}, []string{"greeting", "greeting.split", "greeting.padding", "greeting.as-server"}},
		{"pieces unknown after a gap", func(x *Explainer) []output.Note {
			x.Gap(segment.ClientToServer, 10)
			return x.Notes(segment.ClientToServer, null30)
		}, []string{"greeting", "greeting.as-server"}},
		{"2.0 downgrade", func(x *Explainer) []output.Note {
			return x.Notes(segment.ClientToServer, &zmtp.Greeting{Major: 2, Revision: 3, Downgraded: true, SocketType: "PUSH", Mechanism: "NULL"})
		}, []string{"downgrade.20"}},
		{"NULL READY", func(x *Explainer) []output.Note { return x.Notes(segment.ServerToClient, ready("PULL")) },
			[]string{"null.ready", "ready.metadata"}},
		{"REQ delimiter", func(x *Explainer) []output.Note {
			x.Notes(segment.ClientToServer, ready("REQ"))
			x.Notes(segment.ServerToClient, ready("REP"))
			return x.Notes(segment.ClientToServer, twoFrame)
		}, []string{"message", "frame.more", "req.delimiter"}},
		{"3.0 subscription", func(x *Explainer) []output.Note {
			x.Notes(segment.ClientToServer, null30)
			return x.Notes(segment.ClientToServer, &zmtp.Message{Frames: []zmtp.Frame{{Size: 2, Data: []byte("\x01a")}}, Subscription: zmtp.Subscribe, Topic: []byte("a")})
		}, []string{"sub.30-message"}},
		{"3.1 SUBSCRIBE", func(x *Explainer) []output.Note {
			return x.Notes(segment.ClientToServer, &zmtp.Command{Kind: zmtp.KindSubscribe, Name: "SUBSCRIBE", Size: 11, Topic: []byte("a")})
		}, []string{"sub.31-command"}},
		{"libzmq PLAIN ERROR", func(x *Explainer) []output.Note {
			plain := &zmtp.Greeting{Header: zmtp.Header{Len: 64}, Major: 3, Minor: 1, Mechanism: "PLAIN"}
			x.Notes(segment.ClientToServer, plain)
			x.Notes(segment.ServerToClient, plain)
			x.Notes(segment.ClientToServer, &zmtp.Command{Kind: zmtp.KindHello, Name: "HELLO", Mechanism: "PLAIN", Size: 18})
			return x.Notes(segment.ServerToClient, &zmtp.Error{Err: fmt.Errorf("command name length 94 at offset 64 overruns the 9-byte body: %w", zmtp.ErrMalformedCommand)})
		}, []string{"error.libzmq-plain", "decode.error"}},
		{"other error", func(x *Explainer) []output.Note {
			return x.Notes(segment.ServerToClient, &zmtp.Error{Err: errors.New("anything")})
		}, []string{"decode.error"}},
		{"reset", func(x *Explainer) []output.Note {
			return x.Notes(segment.ClientToServer, &zmtp.Connection{End: segment.Reset})
		},
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

// TestExplainResync: a resync is explained once per connection, by its
// reason, and says why the first messages after it may be missing.
func TestExplainResync(t *testing.T) {
	x := NewExplainer(false)
	join := x.Notes(segment.ClientToServer, &zmtp.Resync{Reason: zmtp.ResyncMidStream, Source: zmtp.SyncSearch})
	if len(join) != 1 || join[0].Key != "resync.mid-stream" || !strings.Contains(join[0].Text, "not shown") {
		t.Fatalf("mid-stream notes %+v", join)
	}
	gap := x.Notes(segment.ClientToServer, &zmtp.Resync{Reason: zmtp.ResyncGap, Source: zmtp.SyncKernel})
	if len(gap) != 1 || gap[0].Key != "resync.gap" || !strings.Contains(gap[0].Text, "kernel marked") {
		t.Fatalf("gap notes %+v", gap)
	}
	if again := x.Notes(segment.ServerToClient, &zmtp.Resync{Reason: zmtp.ResyncGap, Source: zmtp.SyncKernel}); len(again) != 0 {
		t.Errorf("shown twice: %+v", again)
	}
}

// TestExplainIPC: over ipc, the notes speak of sends and closed sockets;
// over TCP, of TCP segments and FINs.
func TestExplainIPC(t *testing.T) {
	null31 := &zmtp.Greeting{Header: zmtp.Header{Len: 64}, Major: 3, Minor: 1, Mechanism: "NULL"}
	for _, tt := range []struct {
		ipc  bool
		want []string
	}{
		{false, []string{"came in one TCP segment", "came in 2 TCP segments (10+54 bytes)", "Both sides sent FIN"}},
		{true, []string{"came in one send", "came in 2 sends (10+54 bytes)", "Both ends closed their sockets"}},
	} {
		x := NewExplainer(true)
		x.SetIPC(tt.ipc)
		x.Data(segment.ClientToServer, 64)
		x.Data(segment.ServerToClient, 10)
		x.Data(segment.ServerToClient, 54)
		var text []string
		for _, n := range x.Notes(segment.ClientToServer, null31) {
			text = append(text, n.Text)
		}
		for _, n := range x.Notes(segment.ServerToClient, null31) {
			text = append(text, n.Text)
		}
		for _, n := range x.Notes(segment.ClientToServer, &zmtp.Connection{End: segment.Finished}) {
			text = append(text, n.Text)
		}
		all := strings.Join(text, "\n")
		for _, w := range tt.want {
			if !strings.Contains(all, w) {
				t.Errorf("ipc %v: no %q in\n%s", tt.ipc, w, all)
			}
		}
	}
}
