package diagnose

import (
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// palette are the events FuzzConn draws from: every kind of input the
// detectors judge, in any order, must give well-formed problems and never
// panic.
func palette() []zmtp.Event {
	return []zmtp.Event{
		greet("NULL", false), greet("CURVE", true), greet("PLAIN", true),
		&zmtp.Greeting{Major: 2, SocketType: "PUSH"}, &zmtp.Greeting{Major: 2, Downgraded: true, SocketType: "ROUTER"},
		ready("Socket-Type", "REQ"), ready("Socket-Type", "REP", "Identity", "x"), ready("Socket-Type", "PUB"),
		ready("Socket-Type", "DEALER"), ready("Socket-Type", "ROUTER"), ready("Socket-Type", "\xff\x00"),
		cmd(zmtp.KindHello, "CURVE"), curveHello(), cmd(zmtp.KindWelcome, "CURVE"), cmd(zmtp.KindInitiate, "PLAIN"),
		errorCmd("PLAIN", "400"), errorCmd("CURVE", "\x00\x01"), ping(0, ""), ping(65535, "0123456789abcdef"), pong("zz"), pong(""),
		&zmtp.Command{Kind: zmtp.KindSubscribe, Topic: []byte("t")}, &zmtp.Command{Kind: zmtp.KindCancel, Topic: []byte("t")},
		msg("", "q"), msg("A", "", "q"), msg(), msg("x"),
		&zmtp.Message{Subscription: zmtp.Subscribe, Topic: []byte("\x00")}, &zmtp.Message{Subscription: zmtp.Cancel},
		&zmtp.Error{Err: zmtp.ErrMechanismMismatch}, &zmtp.Error{Err: zmtp.ErrMalformedCommand},
		&zmtp.Identity{Data: []byte("id")}, &zmtp.Gap{Bytes: 3},
	}
}

func FuzzConn(f *testing.F) {
	f.Add([]byte{0, 1, 5, 6, 23, 24})
	f.Add([]byte{1, 2, 11, 13, 0xff, 0xfe, 17, 19})
	f.Fuzz(func(t *testing.T, script []byte) {
		evs := palette()
		c := NewConn(cli, srv, nil)
		id := NewIdentities(Config{})
		at := t0
		var out []Problem
		for _, b := range script {
			at = at.Add(time.Duration(b) * 7 * time.Millisecond)
			d := segment.Dir(b >> 7)
			switch i := int(b & 0x7f); {
			case i < len(evs):
				out = append(out, c.Event(d, at, evs[i])...)
				out = append(out, id.Event(cli, srv, d, at, evs[i])...)
			case i < 100:
				c.Traffic(d, at)
			default:
				out = append(out, c.Stall(d, i&1 == 0, at)...)
			}
		}
		end := segment.CloseReason(len(script) % 6)
		out = append(out, c.Close(end, at, len(script)%2 == 0)...)
		c.Health()
		seen := map[Kind]int{}
		for i := range out {
			checkProblem(t, &out[i])
			if seen[out[i].Kind]++; out[i].Kind != Stalled && seen[out[i].Kind] > 1 {
				t.Errorf("%v reported twice on one connection", out[i].Kind)
			}
		}
	})
}
