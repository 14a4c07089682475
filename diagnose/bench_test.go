package diagnose

import (
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// BenchmarkConnEvent measures the diagnosis of one message (Traffic and
// Event, as session calls them) in steady state: a PUSH/PULL stream, and a
// REQ/REP stream where every second message is a reply matched to its
// request, and a heartbeat: the client's PINGs and the server's PONGs
// (the heartbeat state is allocated at the first PING). It must allocate
// nothing.
func BenchmarkConnEvent(b *testing.B) {
	for _, bc := range []struct {
		name   string
		ct, st string
		msgs   [2]zmtp.Event
		dirs   [2]segment.Dir
	}{
		{"push-pull", "PUSH", "PULL", [2]zmtp.Event{msg("hello"), msg("hello", "world")}, [2]segment.Dir{c2s, c2s}},
		{"req-rep", "REQ", "REP", [2]zmtp.Event{msg("", "request"), msg("", "reply")}, [2]segment.Dir{c2s, s2c}},
		{"ping-pong", "DEALER", "ROUTER", [2]zmtp.Event{ping(10, "ctx"), pong("ctx")}, [2]segment.Dir{c2s, s2c}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := NewConn(cli, srv, nil)
			for _, s := range nullHandshake(bc.ct, bc.st) {
				c.Event(s.d, t0, s.ev)
			}
			at := t0
			for i := range 2 { // warm: the latency and heartbeat states are allocated once
				c.Event(bc.dirs[i], at, bc.msgs[i])
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				at = at.Add(time.Microsecond)
				d := bc.dirs[i&1]
				c.Traffic(d, at)
				if ps := c.Event(d, at, bc.msgs[i&1]); ps != nil {
					b.Fatal(ps)
				}
			}
		})
	}
}
