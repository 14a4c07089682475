package diagnose

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

const ms = time.Millisecond

func join(parts ...[]step) []step { return slices.Concat(parts...) }

func curveHello() *zmtp.Command {
	c := cmd(zmtp.KindHello, "CURVE")
	c.Key = make([]byte, 32) // all zeros: Z85 "0000000000..."
	c.Key[31] = 1
	return c
}

func plainHandshake() []step {
	return []step{
		ev(0, c2s, greet("PLAIN", false)), ev(0, s2c, greet("PLAIN", true)),
		ev(ms, c2s, cmd(zmtp.KindHello, "PLAIN")), ev(2*ms, s2c, cmd(zmtp.KindWelcome, "PLAIN")),
		ev(3*ms, c2s, &zmtp.Command{Kind: zmtp.KindInitiate, Name: "INITIATE", Mechanism: "PLAIN",
			Properties: []zmtp.Property{{Name: []byte("Socket-Type"), Value: []byte("DEALER")}}}),
		ev(4*ms, s2c, &zmtp.Command{Kind: zmtp.KindReady, Name: "READY", Mechanism: "PLAIN",
			Properties: []zmtp.Property{{Name: []byte("Socket-Type"), Value: []byte("ROUTER")}}}),
	}
}

func curveHandshake() []step {
	return []step{
		ev(0, c2s, greet("CURVE", false)), ev(0, s2c, greet("CURVE", true)),
		ev(ms, c2s, curveHello()), ev(2*ms, s2c, cmd(zmtp.KindWelcome, "CURVE")),
		ev(3*ms, c2s, &zmtp.Command{Kind: zmtp.KindInitiate, Name: "INITIATE", Mechanism: "CURVE", Encrypted: true}),
		ev(4*ms, s2c, &zmtp.Command{Kind: zmtp.KindReady, Name: "READY", Mechanism: "CURVE", Encrypted: true}),
		ev(5*ms, c2s, &zmtp.Message{Frames: []zmtp.Frame{{Size: 40}}, Encrypted: true, Mechanism: "CURVE"}),
	}
}

func errorCmd(mech, reason string) *zmtp.Command {
	c := cmd(zmtp.KindError, mech)
	c.Reason = []byte(reason)
	return c
}

// TestKinds: one case per kind, and healthy conversations giving none.
func TestKinds(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
		end   segment.CloseReason
		at    time.Duration
		mid   bool
		want  Kind // 0: no problem
		check func(t *testing.T, p *Problem)
	}{
		{name: "healthy push-pull", end: segment.Finished, at: 5 * time.Second, steps: join(nullHandshake("PUSH", "PULL"), []step{
			ev(10*ms, c2s, msg("1")), ev(20*ms, c2s, msg("hello", "world")),
			ev(time.Second, c2s, ping(30, "")), ev(time.Second+ms, s2c, pong("")),
			ev(2*time.Second, c2s, ping(30, "")), {at: 2*time.Second + ms, d: s2c, traffic: true},
			{at: 3 * time.Second, d: c2s, stall: true}, {at: 3*time.Second + 50*ms, d: c2s, unstall: true},
			ev(3*time.Second+60*ms, c2s, msg("after")),
		})},
		{name: "healthy req-rep", end: segment.Reset, at: time.Second, steps: join(nullHandshake("REQ", "REP"), []step{
			ev(10*ms, c2s, msg("", "ping")), ev(12*ms, s2c, msg("", "pong")),
		})},
		{name: "healthy pub-sub", end: segment.Finished, at: time.Second, steps: join(nullHandshake("SUB", "PUB"), []step{
			ev(10*ms, c2s, &zmtp.Command{Kind: zmtp.KindSubscribe, Name: "SUBSCRIBE", Topic: []byte("a")}),
			ev(20*ms, s2c, msg("a1")),
		})},
		{name: "healthy plain", end: segment.Finished, at: time.Second, steps: plainHandshake()},
		{name: "healthy curve", end: segment.Finished, at: time.Second, steps: curveHandshake()},
		{name: "capture ended mid-message", end: segment.Flushed, at: time.Second, mid: true, steps: nullHandshake("PUSH", "PULL")},
		{name: "capture ended during curve hello", end: segment.Flushed, at: time.Second, steps: curveHandshake()[:3]},

		{name: "socket types", want: SocketTypeMismatch, end: segment.Finished, at: 2 * ms, steps: nullHandshake("PUSH", "PUB"),
			check: func(t *testing.T, p *Problem) {
				if field(p, "client_type") != "PUSH" || field(p, "server_type") != "PUB" || !strings.Contains(p.Text, "libzmq closes") {
					t.Errorf("%+v", p)
				}
			}},
		{name: "mechanisms", want: MechanismMismatch, end: segment.Finished, at: 2 * ms, steps: []step{
			ev(0, c2s, greet("NULL", false)), ev(0, s2c, greet("CURVE", true)),
			ev(0, s2c, &zmtp.Error{Err: fmt.Errorf("x: %w", zmtp.ErrMechanismMismatch)}),
		}, check: func(t *testing.T, p *Problem) {
			if field(p, "client_mechanism") != "NULL" || field(p, "server_mechanism") != "CURVE" {
				t.Errorf("%+v", p)
			}
		}},
		{name: "closed inside the greeting", want: MechanismMismatch, end: segment.Finished, at: 2 * ms, steps: []step{
			ev(0, c2s, greet("NULL", false)), {at: 0, d: s2c, traffic: true},
		}, check: func(t *testing.T, p *Problem) {
			if field(p, "client_mechanism") != "NULL" || field(p, "server_mechanism") != "unknown" || p.From != s2c ||
				!strings.Contains(p.Text, "(PLAIN or CURVE)") {
				t.Errorf("%+v", p)
			}
		}},
		{name: "zap denied", want: AuthFailed, end: segment.Finished, at: 10 * ms, steps: join(plainHandshake()[:3], []step{
			ev(2*ms, s2c, errorCmd("PLAIN", "400")),
		}), check: func(t *testing.T, p *Problem) {
			if field(p, "zap_status") != int64(400) || field(p, "reason") != "400" || p.From != s2c {
				t.Errorf("%+v", p)
			}
		}},
		{name: "error reason escaped", want: AuthFailed, end: segment.Finished, at: 10 * ms, steps: join(plainHandshake()[:3], []step{
			ev(2*ms, s2c, errorCmd("PLAIN", "bad\x1b[31m")),
		}), check: func(t *testing.T, p *Problem) {
			if field(p, "reason") != `bad\x1b[31m` {
				t.Errorf("%+v", p)
			}
		}},
		{name: "curve wrong server key", want: AuthFailed, end: segment.Finished, at: 10 * ms, steps: curveHandshake()[:3],
			check: func(t *testing.T, p *Problem) {
				if field(p, "client_key") != strings.Repeat("0", 39)+"1" || !strings.Contains(p.Text, "wrong server public key") {
					t.Errorf("%+v", p)
				}
			}},
		{name: "plain closed after initiate", want: AuthFailed, end: segment.Reset, at: 10 * ms, steps: plainHandshake()[:5],
			check: func(t *testing.T, p *Problem) {
				if !strings.Contains(p.Text, "INITIATE without READY") {
					t.Errorf("%+v", p)
				}
			}},
		{name: "heartbeat timeout", want: HeartbeatTimeout, end: segment.Finished, at: 4 * time.Second, steps: join(nullHandshake("DEALER", "ROUTER"), []step{
			ev(time.Second, c2s, ping(20, "")), ev(2*time.Second, c2s, msg("", "still here")),
		}), check: func(t *testing.T, p *Problem) {
			if field(p, "ttl") != 2*time.Second || field(p, "silent") != 3*time.Second || p.From != s2c {
				t.Errorf("%+v", p)
			}
		}},
		{name: "heartbeat timeout without ttl", want: HeartbeatTimeout, end: segment.Finished, at: 500 * ms, steps: join(nullHandshake("PUSH", "PULL"), []step{
			ev(0, c2s, ping(0, "")), ev(ms, s2c, pong("")), ev(100*ms, c2s, ping(0, "")), ev(101*ms, s2c, pong("")),
			ev(200*ms, c2s, ping(0, "")), ev(300*ms, c2s, ping(0, "")),
		}), check: func(t *testing.T, p *Problem) {
			if field(p, "ttl") != nil || field(p, "silent") != 300*ms {
				t.Errorf("%+v", p)
			}
		}},
		{name: "closed right after a ping", end: segment.Finished, at: 250 * ms, steps: join(nullHandshake("PUSH", "PULL"), []step{
			ev(0, c2s, ping(0, "")), ev(ms, s2c, pong("")), ev(100*ms, c2s, ping(0, "")), ev(101*ms, s2c, pong("")),
			ev(200*ms, c2s, ping(0, "")),
		})},
		{name: "stalled, recovered", want: Stalled, end: segment.Finished, at: 4 * time.Second, steps: join(nullHandshake("PUSH", "PULL"), []step{
			{at: time.Second, d: c2s, stall: true}, {at: 1500 * ms, d: c2s, unstall: true},
			ev(1600*ms, c2s, msg("x")),
		}), check: func(t *testing.T, p *Problem) {
			if field(p, "duration") != 500*ms || field(p, "recovered") != true || p.From != s2c || !p.Time.Equal(t0.Add(1500*ms)) {
				t.Errorf("%+v", p)
			}
		}},
		{name: "stalled to the close", want: Stalled, end: segment.Reset, at: 3 * time.Second, steps: join(nullHandshake("PUSH", "PULL"), []step{
			{at: time.Second, d: c2s, stall: true}, {at: 3 * time.Second, d: c2s, unstall: true},
		}), check: func(t *testing.T, p *Problem) {
			if field(p, "duration") != 2*time.Second || field(p, "recovered") != false || !strings.Contains(p.Text, "still stalled") {
				t.Errorf("%+v", p)
			}
		}},
		{name: "reset mid message", want: ResetMidMessage, end: segment.Reset, at: time.Second, mid: true, steps: nullHandshake("PUSH", "PULL")},
		{name: "old peer", want: UnsupportedVersion, end: segment.Finished, at: 10 * ms, steps: []step{
			ev(0, c2s, &zmtp.Greeting{Major: 2, Revision: 1, Mechanism: "NULL", SocketType: "PUSH"}),
			{at: 0, d: s2c, traffic: true},
		}, check: func(t *testing.T, p *Problem) {
			if field(p, "old_version") != "2.0" || p.From != s2c {
				t.Errorf("%+v", p)
			}
		}},
		{name: "subscribe from a push", want: MisplacedSubscription, end: segment.Finished, at: time.Second, steps: join(nullHandshake("PUSH", "PULL"), []step{
			ev(10*ms, c2s, &zmtp.Command{Kind: zmtp.KindSubscribe, Name: "SUBSCRIBE", Topic: []byte("a")}),
		})},
		{name: "pong context", want: PongMismatch, end: segment.Finished, at: time.Second, steps: join(nullHandshake("PUSH", "PULL"), []step{
			ev(10*ms, c2s, ping(0, "ab")), ev(11*ms, s2c, pong("zz")),
		})},
		{name: "both plain servers", want: AsServerConflict, end: segment.Finished, at: time.Second, steps: []step{
			ev(0, c2s, greet("PLAIN", true)), ev(0, s2c, greet("PLAIN", true)),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps, _ := run(t, Config{}, tc.steps, tc.end, tc.at, tc.mid)
			if tc.want == 0 {
				if len(ps) != 0 {
					t.Fatalf("healthy conversation: problems %s: %+v", kinds(ps), ps)
				}
				return
			}
			if len(ps) != 1 || ps[0].Kind != tc.want {
				t.Fatalf("problems %s, want [%v]: %+v", kinds(ps), tc.want, ps)
			}
			if tc.check != nil {
				tc.check(t, &ps[0])
			}
		})
	}
}

func TestKindNamesAndRules(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds() {
		if seen[k.String()] || k.String() == "unknown" || !strings.Contains(k.Rule(), "RFC") {
			t.Errorf("kind %d: %q %q", k, k, k.Rule())
		}
		seen[k.String()] = true
	}
	if Kind(0).String() != "unknown" || Kind(200).Rule() != "" {
		t.Error("out of range kinds")
	}
}

func TestLatency(t *testing.T) {
	// REQ/REP: ten round trips of 1 to 10 ms.
	steps := nullHandshake("REQ", "REP")
	at := 10 * ms
	for i := 1; i <= 10; i++ {
		steps = append(steps, ev(at, c2s, msg("", "q")), ev(at+time.Duration(i)*ms, s2c, msg("", "r")))
		at += 20 * ms
	}
	_, h := run(t, Config{}, steps, segment.Finished, time.Second, false)
	want := Latency{Count: 10, P50: 5 * ms, P90: 9 * ms, P99: 10 * ms, Max: 10 * ms}
	if h == nil || h.Latency == nil || *h.Latency != want {
		t.Fatalf("latency %+v, want %+v", h, want)
	}

	// DEALER to REP, interleaved envelopes: each reply matches its own.
	steps = join(nullHandshake("DEALER", "REP"), []step{
		ev(0, c2s, msg("A", "", "q")), ev(ms, c2s, msg("B", "", "q")),
		ev(3*ms, s2c, msg("B", "", "r")), ev(5*ms, s2c, msg("A", "", "r")),
		ev(6*ms, c2s, msg("A", "", "q")), ev(6*ms, c2s, msg("A", "", "q")),
		ev(7*ms, s2c, msg("A", "", "r")), ev(9*ms, s2c, msg("A", "", "r")), // FIFO: 1 ms, 3 ms
		ev(10*ms, s2c, msg("C", "", "r")), // no request: ignored
	})
	_, h = run(t, Config{}, steps, segment.Finished, time.Second, false)
	want = Latency{Count: 4, P50: 2 * ms, P90: 5 * ms, P99: 5 * ms, Max: 5 * ms}
	if h == nil || h.Latency == nil || *h.Latency != want {
		t.Fatalf("latency %+v, want %+v", h.Latency, want)
	}

	// No request/reply pair: no latency, no health.
	_, h = run(t, Config{}, join(nullHandshake("PUSH", "PULL"), []step{ev(ms, c2s, msg("", "x"))}), segment.Finished, time.Second, false)
	if h != nil {
		t.Fatalf("push-pull health %+v", h)
	}
}

func TestLatencySample(t *testing.T) {
	var l latency
	for i := 1; i <= 10000; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		l.request(1, at)
		l.reply(1, at.Add(time.Duration(i)*time.Microsecond))
	}
	s := l.summary()
	if s.Count != 10000 || s.Max != 10000*time.Microsecond {
		t.Fatalf("%+v", s)
	}
	// A uniform sample of 256: the median within 15% of the true one.
	if s.P50 < 4250*time.Microsecond || s.P50 > 5750*time.Microsecond {
		t.Errorf("sampled p50 %v", s.P50)
	}
	// More than maxPending requests unanswered: the oldest are dropped.
	var m latency
	for i := range maxPending + 5 {
		m.request(uint64(i), t0)
	}
	if m.dropped != 5 || m.npend != maxPending {
		t.Errorf("dropped %d pending %d", m.dropped, m.npend)
	}
}

func TestHealth(t *testing.T) {
	steps := join(nullHandshake("SUB", "PUB"), []step{
		ev(ms, c2s, &zmtp.Command{Kind: zmtp.KindSubscribe, Name: "SUBSCRIBE", Topic: []byte("a")}),
		ev(ms, c2s, &zmtp.Command{Kind: zmtp.KindSubscribe, Name: "SUBSCRIBE", Topic: []byte("b")}),
		ev(ms, c2s, &zmtp.Message{Frames: []zmtp.Frame{{Size: 2, Data: []byte("\x01c")}}, Subscription: zmtp.Subscribe, Topic: []byte("c")}),
		ev(ms, c2s, &zmtp.Command{Kind: zmtp.KindCancel, Name: "CANCEL", Topic: []byte("b")}),
		ev(ms, c2s, &zmtp.Message{Frames: []zmtp.Frame{{Size: 2, Data: []byte("\x00x")}}, Subscription: zmtp.Cancel, Topic: []byte("x")}),
		ev(time.Second, s2c, ping(0, "")), ev(2*time.Second, s2c, ping(0, "")),
		ev(3*time.Second, s2c, ping(0, "")), ev(5*time.Second, s2c, ping(0, "")),
		ev(5*time.Second, c2s, pong("")),
		{at: 6 * time.Second, d: s2c, stall: true}, {at: 6*time.Second + 300*ms, d: s2c, unstall: true},
		{at: 7 * time.Second, d: s2c, stall: true}, {at: 7*time.Second + 100*ms, d: s2c, unstall: true}, // short: not counted
	})
	ps, h := run(t, Config{}, steps, segment.Finished, 8*time.Second, false)
	if len(ps) != 1 || ps[0].Kind != Stalled {
		t.Fatalf("problems %s", kinds(ps))
	}
	want := Health{HeartbeatInterval: time.Second, Stalled: 300 * ms, Subscriptions: []string{"a", "c"}}
	if h == nil || h.HeartbeatInterval != want.HeartbeatInterval || h.Stalled != want.Stalled || !slices.Equal(h.Subscriptions, want.Subscriptions) || h.Latency != nil {
		t.Fatalf("health %+v, want %+v", h, want)
	}
}

// TestProblemHeader: a problem an event shows carries the event's offset.
func TestProblemHeader(t *testing.T) {
	c := NewConn(cli, srv, nil)
	c.Event(c2s, t0, greet("NULL", false))
	ps := c.Event(s2c, t0, &zmtp.Greeting{Header: zmtp.Header{Offset: 0, Len: 64}, Major: 3, Mechanism: "PLAIN"})
	if len(ps) != 1 || ps[0].Len != 64 {
		t.Fatalf("%+v", ps)
	}
	if ps := c.Event(s2c, t0, &zmtp.Error{Err: errors.New("mechanism mismatch")}); len(ps) != 0 {
		t.Fatalf("reported twice: %+v", ps)
	}
}

func TestPrintable(t *testing.T) {
	if got := printable([]byte("a\\b\xff\n")); got != `a\x5cb\xff\x0a` {
		t.Errorf("printable %q", got)
	}
	if got := printable([]byte(strings.Repeat("x", 300))); len(got) != maxQuoted+3 {
		t.Errorf("printable cut %d", len(got))
	}
}

// TestGreetingAfterClose: a greeting zmtp held until its Close, fed after
// Conn.Close, is judged at the connection summary that follows it.
func TestGreetingAfterClose(t *testing.T) {
	c := NewConn(cli, srv, nil)
	c.Traffic(c2s, t0)
	c.Traffic(s2c, t0)
	if ps := c.Close(segment.Finished, t0.Add(ms), false); len(ps) != 0 {
		t.Fatalf("before the greeting: %+v", ps)
	}
	if ps := c.Event(c2s, t0.Add(ms), greet("NULL", false)); len(ps) != 0 {
		t.Fatalf("at the greeting: %+v", ps)
	}
	ps := c.Event(c2s, t0.Add(ms), &zmtp.Connection{End: segment.Finished})
	if len(ps) != 1 || ps[0].Kind != MechanismMismatch || !ps[0].Time.Equal(t0.Add(ms)) {
		t.Fatalf("at the summary: %+v", ps)
	}
	if ps := c.Event(c2s, t0.Add(ms), &zmtp.Connection{End: segment.Finished}); len(ps) != 0 {
		t.Fatalf("twice: %+v", ps)
	}

	// The summary, from either direction, answers no PING.
	for _, d := range []segment.Dir{c2s, s2c} {
		c := NewConn(cli, srv, nil)
		c.Event(c2s, t0, ping(10, ""))
		c.Event(d, t0.Add(2*time.Second), &zmtp.Connection{End: segment.Finished})
		if ps := c.Close(segment.Finished, t0.Add(2*time.Second), false); len(ps) != 1 || ps[0].Kind != HeartbeatTimeout {
			t.Fatalf("summary from %v: %+v", d, ps)
		}
	}
}
