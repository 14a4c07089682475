package learn

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

func newTestLadder(maxRows int) *Ladder {
	return NewLadder(netip.MustParseAddrPort("127.0.0.1:5"), netip.MustParseAddrPort("127.0.0.1:7001"), maxRows)
}

// TestLadderCollapse: consecutive messages one way share a row; a message
// the other way starts a new one.
func TestLadderCollapse(t *testing.T) {
	l := newTestLadder(0)
	at := ts
	for range 3 {
		l.Event(segment.ClientToServer, at, oneFrame)
		at = at.Add(time.Millisecond)
	}
	l.Event(segment.ServerToClient, at, oneFrame)
	l.Event(segment.ClientToServer, at, oneFrame)
	l.Event(segment.ClientToServer, at, &zmtp.Connection{End: segment.Finished})
	got := string(l.AppendTo(nil))
	for _, want := range []string{
		`|--- 3 messages (3 bytes) ---`,
		`|<-- message "1" ---`,
		`|--- message "1" ---`,
		`|<-- FIN both ways: closed ---`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ladder lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 2+4+1 {
		t.Errorf("ladder has %d lines, want 7:\n%s", n, got)
	}
}

// TestLadderCap: past the row cap, events are counted, not kept, and the
// end is still drawn.
func TestLadderCap(t *testing.T) {
	l := newTestLadder(5)
	ping := &zmtp.Command{Kind: zmtp.KindPing, Name: "PING", TTL: 10, Size: 7}
	for range 1000 {
		l.Event(segment.ClientToServer, ts, ping)
	}
	if len(l.rows) != 5 || l.more != 995 {
		t.Fatalf("kept %d rows and counted %d more, want 5 and 995", len(l.rows), l.more)
	}
	l.Event(segment.ClientToServer, ts, &zmtp.Connection{End: segment.Reset})
	got := string(l.AppendTo(nil))
	if strings.Count(got, "PING") != 5 || !strings.Contains(got, "... 995 more events not drawn") ||
		!strings.Contains(got, "end: reset") {
		t.Errorf("capped ladder:\n%s", got)
	}
}

// TestLadderSkip: bytes not captured draw nothing, and the pieces that
// follow keep their offsets.
func TestLadderSkip(t *testing.T) {
	l := newTestLadder(0)
	l.Data(segment.ClientToServer, ts, 5)
	l.Skip(segment.ClientToServer, 20)
	l.Data(segment.ClientToServer, ts, 10)
	l.Event(segment.ClientToServer, ts, &zmtp.Connection{End: segment.Finished})
	got := string(l.AppendTo(nil))
	for _, want := range []string{"greeting bytes 0-4 (5 bytes)", "greeting bytes 25-34 (10 bytes)"} {
		if !strings.Contains(got, want) {
			t.Errorf("ladder lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "lost") || strings.Contains(got, "gap") {
		t.Errorf("a loss drawn:\n%s", got)
	}
}

// TestLadderPieces: the segments of a greeting are rows named by the
// greeting fields they carry, bytes past the greeting are not.
func TestLadderPieces(t *testing.T) {
	l := newTestLadder(0)
	l.Data(segment.ClientToServer, ts, 10)
	l.Data(segment.ClientToServer, ts, 1)
	l.Data(segment.ClientToServer, ts, 80) // 53 greeting bytes, then READY
	l.Event(segment.ClientToServer, ts, &zmtp.Greeting{Header: zmtp.Header{Len: 64}, Major: 3, Minor: 1, Mechanism: "NULL"})
	got := string(l.AppendTo(nil))
	for _, want := range []string{
		"greeting 1/3: signature (10 bytes)",
		"greeting 2/3: major 3 (1 byte)",
		"greeting 3/3: minor 1, NULL, as-server 0, filler (53 bytes)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ladder lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "greeting ZMTP") {
		t.Errorf("the pieces should replace the greeting row:\n%s", got)
	}
}
