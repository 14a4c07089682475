package learn

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

var (
	ts  = time.Date(2026, 11, 27, 12, 13, 35, 584123456, time.UTC)
	src = netip.MustParseAddrPort("127.0.0.1:47563")
	dst = netip.MustParseAddrPort("[::1]:7001")
)

// retitle retitles a terminal, rings it and clears the screen.
const retitle = "\x1b]0;PWNED\x07\x1b[2J"

// TestExplainHostileSocketType: the Identity note names the sender's
// socket type, taken from its READY: quoted and escaped.
func TestExplainHostileSocketType(t *testing.T) {
	x := NewExplainer(false)
	x.Notes(segment.ClientToServer, &zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"})
	notes := x.Notes(segment.ClientToServer, &zmtp.Command{Kind: zmtp.KindReady, Name: "READY", Mechanism: "NULL", Properties: []zmtp.Property{
		{Name: []byte("Socket-Type"), Value: []byte(retitle)},
		{Name: []byte("Identity"), Value: []byte("id")},
	}})
	var found bool
	for _, n := range notes {
		if strings.ContainsAny(n.Text, "\x1b\x07") {
			t.Errorf("note %s holds raw control bytes: %q", n.Key, n.Text)
		}
		if n.Key == "metadata.identity" {
			found = true
			if want := `It comes from a "\x1b]0;PWNED\x07\x1b[2J" here`; !strings.Contains(n.Text, want) {
				t.Errorf("Identity note %q lacks %q", n.Text, want)
			}
		}
	}
	if !found {
		t.Errorf("no Identity note in %v", notes)
	}
}

// TestLadderHostile: labels from hostile commands, messages and errors
// draw escaped.
func TestLadderHostile(t *testing.T) {
	l := NewLadder(src, dst, 100)
	for _, ev := range []zmtp.Event{
		&zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"},
		&zmtp.Command{Kind: zmtp.KindReady, Name: "READY", Mechanism: "NULL", Properties: []zmtp.Property{{Name: []byte(retitle), Value: []byte(retitle)}}},
		&zmtp.Command{Kind: zmtp.KindError, Name: "ERROR", Mechanism: "NULL", Reason: []byte(retitle)},
		&zmtp.Message{Frames: []zmtp.Frame{{Size: uint64(len(retitle)), Data: []byte(retitle)}}, Bytes: uint64(len(retitle))},
		&zmtp.Error{Err: errorString("bad " + retitle)},
	} {
		l.Event(segment.ClientToServer, ts, ev)
	}
	var buf bytes.Buffer
	p := output.NewText(&buf, output.Options{})
	if err := p.Drawing(l.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	if c := livetest.RawControl(buf.String()); c >= 0 {
		t.Errorf("raw %#x in the ladder:\n%q", c, buf.String())
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
