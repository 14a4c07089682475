package diagnose

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// attempt returns a SYN from the client's port and the server's answer:
// RST|ACK (refused) or SYN|ACK.
func attempt(at time.Time, port uint16, seq uint32, refused bool) [2]*segment.Segment {
	c := netip.AddrPortFrom(cli.Addr(), port)
	ans := &segment.Segment{Time: at.Add(50 * time.Microsecond), Src: srv, Dst: c, Ack: seq + 1, Flags: segment.RST | segment.ACK}
	if !refused {
		ans.Flags = segment.SYN | segment.ACK
	}
	return [2]*segment.Segment{{Time: at, Src: c, Dst: srv, Seq: seq, Flags: segment.SYN}, ans}
}

func TestRefused(t *testing.T) {
	r := NewRefused(Config{})
	var out []Problem
	feed := func(segs [2]*segment.Segment) {
		for _, s := range segs {
			out = append(out, r.Segment(s)...)
		}
	}
	// A reconnect loop: 45 attempts 1.5 s long, each SYN retransmitted once.
	for i := range 45 {
		at := t0.Add(time.Duration(i) * 1500 * time.Millisecond / 44)
		a := attempt(at, uint16(50000+i), uint32(1000*i), true)
		out = append(out, r.Segment(a[0])...)
		feed(a)
	}
	out = append(out, r.Flush(t0.Add(2*time.Second), false)...)
	if len(out) != 0 {
		t.Fatalf("burst reported before its quiet: %+v", out)
	}
	// A second burst after the quiet ends the first.
	feed(attempt(t0.Add(5*time.Second), 60000, 7, true))
	if len(out) != 1 {
		t.Fatalf("problems %s", kinds(out))
	}
	p := &out[0]
	checkProblem(t, p)
	if p.Kind != ConnectRefused || field(p, "attempts") != int64(45) || field(p, "duration") != 1500*time.Millisecond ||
		!strings.HasPrefix(p.Text, "reconnect loop: 45 attempts in 1.5 s") || !strings.HasSuffix(p.Text, "no listener on 127.0.0.1:5555") {
		t.Fatalf("%+v", p)
	}
	if rate := field(p, "rate").(float64); rate < 29 || rate > 30 {
		t.Errorf("rate %v", rate)
	}
	// Two attempts are no loop; a final flush ends everything.
	feed(attempt(t0.Add(5100*time.Millisecond), 60001, 8, true))
	out = r.Flush(t0.Add(5200*time.Millisecond), true)
	if len(out) != 0 || len(r.pairs) != 0 {
		t.Fatalf("short burst: %+v, %d pairs left", out, len(r.pairs))
	}

	// A listener answering ends a burst at once; healthy connects say nothing.
	out = nil
	for i := range 5 {
		feed(attempt(t0.Add(time.Duration(i)*100*time.Millisecond), uint16(40000+i), uint32(i), true))
	}
	feed(attempt(t0.Add(time.Second), 41000, 99, false))
	if len(out) != 1 || field(&out[0], "attempts") != int64(5) {
		t.Fatalf("burst ended by a SYN-ACK: %+v", out)
	}
	out = nil
	for i := range 10 {
		feed(attempt(t0.Add(time.Duration(i)*time.Millisecond), uint16(30000+i), uint32(i), false))
	}
	// An RST whose ack does not answer the SYN is no refusal.
	a := attempt(t0.Add(time.Second), 31000, 5, true)
	a[1].Ack = 77
	for range 5 {
		feed(a)
	}
	out = append(out, r.Flush(t0.Add(time.Hour), true)...)
	if len(out) != 0 {
		t.Fatalf("healthy connects: %+v", out)
	}

	// Bounded: pairs beyond the cap are not followed.
	r = NewRefused(Config{MaxRefusedPairs: 2})
	for i := range 5 {
		s := &segment.Segment{Time: t0, Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1), Dst: srv, Flags: segment.SYN}
		r.Segment(s)
	}
	if len(r.pairs) != 2 {
		t.Errorf("%d pairs", len(r.pairs))
	}
}

func TestIdentities(t *testing.T) {
	id := NewIdentities(Config{})
	cli2 := netip.MustParseAddrPort("127.0.0.1:40001")
	cli3 := netip.MustParseAddrPort("127.0.0.1:40002")
	var out []Problem
	open := func(c netip.AddrPort, ident, serverType string) {
		out = append(out, id.Event(c, srv, c2s, t0, greet("NULL", false))...)
		out = append(out, id.Event(c, srv, c2s, t0, ready("Socket-Type", "DEALER", "Identity", ident))...)
		out = append(out, id.Event(c, srv, s2c, t0, ready("Socket-Type", serverType))...)
		out = append(out, id.Event(c, srv, c2s, t0, msg("x"))...)
	}
	open(cli, "worker-1", "ROUTER")
	open(cli2, "worker-2", "ROUTER")
	if len(out) != 0 {
		t.Fatalf("distinct identities: %+v", out)
	}
	open(cli3, "worker-1", "ROUTER")
	if len(out) != 1 || out[0].Kind != DuplicateIdentity || out[0].Client != cli3 || field(&out[0], "other_client") != cli.String() {
		t.Fatalf("duplicate: %+v", out)
	}
	checkProblem(t, &out[0])
	// Once the first closed, the identity is free again.
	out = nil
	id.Close(cli, srv)
	id.Close(cli3, srv)
	open(cli, "worker-1", "ROUTER")
	if len(out) != 0 {
		t.Fatalf("after close: %+v", out)
	}
	// Anonymous peers, and a server that does not route by identity.
	id = NewIdentities(Config{})
	open(cli, "", "ROUTER")
	open(cli2, "", "ROUTER")
	open(cli3, "same", "DEALER")
	open(netip.MustParseAddrPort("127.0.0.1:40003"), "same", "DEALER")
	if len(out) != 0 {
		t.Fatalf("no duplicate expected: %+v", out)
	}
	// Bounded.
	id = NewIdentities(Config{MaxIdentities: 1})
	open(cli, "a", "ROUTER")
	open(cli2, "a", "ROUTER")
	if len(id.conns) != 1 || len(out) != 0 {
		t.Fatalf("cap: %d conns, %+v", len(id.conns), out)
	}
	// The 2.0 identity frame counts too.
	id = NewIdentities(Config{})
	for _, c := range []netip.AddrPort{cli, cli2} {
		out = append(out, id.Event(c, srv, c2s, t0, &zmtp.Greeting{Major: 2, SocketType: "DEALER"})...)
		out = append(out, id.Event(c, srv, c2s, t0, &zmtp.Identity{Size: 2, Data: []byte("id")})...)
		out = append(out, id.Event(c, srv, s2c, t0, &zmtp.Greeting{Major: 2, SocketType: "ROUTER"})...)
	}
	if len(out) != 1 {
		t.Fatalf("2.0 identities: %+v", out)
	}
}

func TestSummary(t *testing.T) {
	var s Summary
	if !s.Empty() || s.Kinds() != nil {
		t.Fatal("zero summary not empty")
	}
	for i := range 15 {
		c := netip.AddrPortFrom(cli.Addr(), uint16(1000+i))
		s.Add(&Problem{Kind: AuthFailed, Client: c, Server: srv})
		s.Add(&Problem{Kind: AuthFailed, Client: c, Server: srv})
	}
	s.Add(&Problem{Kind: SocketTypeMismatch, Client: cli, Server: srv})
	ks := s.Kinds()
	if len(ks) != 2 || ks[0].Kind != SocketTypeMismatch || ks[0].Count != 1 || len(ks[0].Connections) != 1 ||
		ks[1].Count != 30 || len(ks[1].Connections) != 10 || ks[1].More != 10 {
		t.Fatalf("%+v", ks)
	}
	if got := ks[0].Connections[0].String(); got != "127.0.0.1:40000 > 127.0.0.1:5555" {
		t.Errorf("touched %q", got)
	}
}

// TestIdentitiesOnlyWhereTheyMatter: connections that cannot make a
// duplicate (no client identity, a server that is not a ROUTER) take no
// entry, so that a busy host's PUSH/PULL and PUB/SUB connections cost the
// identities nothing.
func TestIdentitiesOnlyWhereTheyMatter(t *testing.T) {
	id := NewIdentities(Config{})
	for i := range 100 {
		c := netip.AddrPortFrom(cli.Addr(), uint16(41000+i))
		id.Event(c, srv, c2s, t0, greet("NULL", false))
		id.Event(c, srv, c2s, t0, ready("Socket-Type", "PUSH"))
		id.Event(c, srv, s2c, t0, ready("Socket-Type", "PULL"))
		id.Event(c, srv, c2s, t0, ready("Socket-Type", "DEALER", "Identity", ""))
	}
	if len(id.conns) != 0 {
		t.Errorf("%d entries for connections without identities or ROUTERs", len(id.conns))
	}
	id.Event(cli, srv, s2c, t0, ready("Socket-Type", "ROUTER"))
	if len(id.conns) != 1 {
		t.Errorf("a ROUTER server's connection: %d entries, want 1", len(id.conns))
	}
}
