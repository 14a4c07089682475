package diagnose

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

var (
	cli = netip.MustParseAddrPort("127.0.0.1:40000")
	srv = netip.MustParseAddrPort("127.0.0.1:5555")
	t0  = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

const (
	c2s = segment.ClientToServer
	s2c = segment.ServerToClient
)

// step is one call on a Conn, at t0+at.
type step struct {
	at time.Duration
	d  segment.Dir
	ev zmtp.Event // nil: see stall / traffic
	// traffic calls Traffic; stall and unstall call Stall.
	traffic, stall, unstall bool
}

func ev(at time.Duration, d segment.Dir, e zmtp.Event) step { return step{at: at, d: d, ev: e} }

func greet(mech string, asServer bool) *zmtp.Greeting {
	return &zmtp.Greeting{Header: zmtp.Header{Len: 64}, Major: 3, Minor: 1, Mechanism: mech, AsServer: asServer}
}

func ready(props ...string) *zmtp.Command {
	c := &zmtp.Command{Kind: zmtp.KindReady, Name: "READY", Mechanism: "NULL"}
	for i := 0; i+1 < len(props); i += 2 {
		c.Properties = append(c.Properties, zmtp.Property{Name: []byte(props[i]), Value: []byte(props[i+1])})
	}
	return c
}

func msg(frames ...string) *zmtp.Message {
	m := &zmtp.Message{}
	for i, f := range frames {
		m.Frames = append(m.Frames, zmtp.Frame{Size: uint64(len(f)), Data: []byte(f), More: i < len(frames)-1})
		m.Bytes += uint64(len(f))
	}
	return m
}

func cmd(k zmtp.CommandKind, mech string) *zmtp.Command {
	return &zmtp.Command{Kind: k, Name: k.String(), Mechanism: mech}
}

func ping(ttl uint16, ctx string) *zmtp.Command {
	c := cmd(zmtp.KindPing, "NULL")
	c.TTL, c.Context = ttl, []byte(ctx)
	return c
}

func pong(ctx string) *zmtp.Command {
	c := cmd(zmtp.KindPong, "NULL")
	c.Context = []byte(ctx)
	return c
}

// nullHandshake is a NULL handshake between client and server types.
func nullHandshake(ct, st string) []step {
	return []step{
		ev(0, c2s, greet("NULL", false)), ev(0, s2c, greet("NULL", false)),
		ev(time.Millisecond, c2s, ready("Socket-Type", ct)), ev(time.Millisecond, s2c, ready("Socket-Type", st)),
	}
}

// run feeds steps to a new Conn, closes it at t0+closeAt with end and
// midMessage, and returns every problem and the health.
func run(t *testing.T, cfg Config, steps []step, end segment.CloseReason, closeAt time.Duration, mid bool) ([]Problem, *Health) {
	t.Helper()
	c := NewConn(cli, srv, &cfg)
	var out []Problem
	for _, s := range steps {
		at := t0.Add(s.at)
		switch {
		case s.traffic:
			c.Traffic(s.d, at)
		case s.stall || s.unstall:
			out = append(out, c.Stall(s.d, s.stall, at)...)
		default:
			c.Traffic(s.d, at)
			out = append(out, c.Event(s.d, at, s.ev)...)
		}
	}
	out = append(out, c.Close(end, t0.Add(closeAt), mid)...)
	for _, p := range out {
		checkProblem(t, &p)
	}
	return out, c.Health()
}

// checkProblem checks what every problem must hold: a kind with a name
// and a rule, one printable sentence, endpoints, typed fields.
func checkProblem(t *testing.T, p *Problem) {
	t.Helper()
	if p.Kind.String() == "unknown" || p.Kind.Rule() == "" {
		t.Errorf("problem kind %d has no name or rule", p.Kind)
	}
	if p.Text == "" || strings.ContainsAny(p.Text, "\x00\n\r\x1b") {
		t.Errorf("%v: text %q", p.Kind, p.Text)
	}
	if !p.Client.IsValid() || !p.Server.IsValid() || p.Time.IsZero() {
		t.Errorf("%v: endpoints %v %v time %v", p.Kind, p.Client, p.Server, p.Time)
	}
	for _, f := range p.Fields {
		switch f.Value.(type) {
		case string, int64, uint64, float64, bool, time.Duration:
		default:
			t.Errorf("%v: field %s has type %T", p.Kind, f.Key, f.Value)
		}
	}
	var _ zmtp.Event = p
}

// kinds lists the problems' kinds, for messages.
func kinds(ps []Problem) string {
	var b []string
	for _, p := range ps {
		b = append(b, p.Kind.String())
	}
	return fmt.Sprint(b)
}

// field returns a problem's field value, nil if absent.
func field(p *Problem, key string) any {
	for _, f := range p.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return nil
}
