package learn

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// TestExplainProblem: a problem gets its kind's rule once per connection
// and kind (every time with all).
func TestExplainProblem(t *testing.T) {
	stall := &diagnose.Problem{Kind: diagnose.Stalled, Text: "stalled"}
	reset := &diagnose.Problem{Kind: diagnose.ResetMidMessage, Text: "reset"}
	x := NewExplainer(false)
	notes := x.Notes(segment.ClientToServer, stall)
	if len(notes) != 1 || notes[0].Key != "problem.stalled" || notes[0].Text != diagnose.Stalled.Rule() {
		t.Fatalf("first stall: notes %+v", notes)
	}
	if got := x.Notes(segment.ServerToClient, stall); len(got) != 0 {
		t.Errorf("second stall: notes %v, want none", noteKeysOf(got))
	}
	if got := noteKeysOf(x.Notes(segment.ClientToServer, reset)); !cmp.Equal(got, []string{"problem.reset-mid-message"}) {
		t.Errorf("reset: notes %v", got)
	}
	all := NewExplainer(true)
	for range 2 {
		if got := noteKeysOf(all.Notes(segment.ClientToServer, stall)); !cmp.Equal(got, []string{"problem.stalled"}) {
			t.Errorf("all: notes %v", got)
		}
	}
	for _, k := range diagnose.Kinds() {
		if got := NewExplainer(false).Notes(segment.ClientToServer, &diagnose.Problem{Kind: k}); len(got) != 1 || got[0].Stage == "" {
			t.Errorf("%v: notes %+v, want its rule", k, got)
		}
	}
}

// TestLadderProblemAndLatency: a problem is a row, the latency is in the
// title.
func TestLadderProblemAndLatency(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	l := NewLadder(cli, srv, 0)
	l.Event(segment.ClientToServer, t0, &diagnose.Problem{Kind: diagnose.HeartbeatTimeout})
	l.Event(segment.ClientToServer, t0.Add(time.Second), &zmtp.Connection{End: segment.Reset})
	l.SetHealth(&diagnose.Health{Latency: &diagnose.Latency{Count: 3, P50: 250 * time.Microsecond, P99: 2 * time.Millisecond}})
	got := string(l.AppendTo(nil))
	for _, want := range []string{"ladder: 127.0.0.1:40000 -> 127.0.0.1:7001, no greeting, reset, latency p50 250us p99 2ms (3 replies)\n", "problem: heartbeat-timeout"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}
