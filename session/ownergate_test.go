package session

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/procs"
	"github.com/zmtpdump/zmtpdump/segment"
)

// fakeTracker knows the owners of the sockets it was told of.
type fakeTracker struct {
	mu    sync.Mutex
	socks map[[2]netip.AddrPort]*procs.Process
}

func (f *fakeTracker) Ends(a, b netip.AddrPort) (*procs.Process, *procs.Process) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.socks[[2]netip.AddrPort{a, b}], f.socks[[2]netip.AddrPort{b, a}]
}

func (f *fakeTracker) own(local, remote netip.AddrPort, pid int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.socks == nil {
		f.socks = make(map[[2]netip.AddrPort]*procs.Process)
	}
	f.socks[[2]netip.AddrPort{local, remote}] = &procs.Process{PID: pid, Comm: fmt.Sprint("p", pid)}
}

// gateRun passes segments through an owners gate for --comm and records
// what was written, by connection client port.
type gateRun struct {
	o       *owners
	tr      *fakeTracker
	t0      time.Time
	written map[uint16]int
}

func newGateRun(comm string) *gateRun {
	tr := &fakeTracker{}
	return &gateRun{o: &owners{tr: tr, comm: comm}, tr: tr, t0: time.Unix(1000, 0), written: make(map[uint16]int)}
}

var (
	gateServer = netip.MustParseAddrPort("127.0.0.1:7001")
	gateRemote = netip.MustParseAddr("192.0.2.1")
)

func (g *gateRun) pass(at time.Duration, client netip.AddrPort, payload int) {
	seg := segment.Segment{Time: g.t0.Add(at), Src: client, Dst: gateServer, Payload: make([]byte, payload)}
	g.o.pass(&seg, func(s *segment.Segment) { g.written[s.Src.Port()]++ })
}

// TestGateHoldsUntilOwnerKnown: a connection's first packets wait for its
// owner; when the local end proves to be the selected process they are
// written, in full; another process's connection is written not at all.
func TestGateHoldsUntilOwnerKnown(t *testing.T) {
	g := newGateRun("p1")
	mine := netip.AddrPortFrom(gateRemote, 40000)
	other := netip.AddrPortFrom(gateRemote, 40001)
	for i := range 3 {
		g.pass(time.Duration(i)*time.Millisecond, mine, 10)
		g.pass(time.Duration(i)*time.Millisecond, other, 10)
	}
	if g.written[40000]+g.written[40001] != 0 {
		t.Fatalf("written before any owner was known: %v", g.written)
	}
	g.tr.own(gateServer, mine, 1)
	g.tr.own(gateServer, other, 2)
	g.pass(5*time.Millisecond, mine, 10)
	g.pass(5*time.Millisecond, other, 10)
	// other's remote end is never known: it waits out the window.
	g.pass(1500*time.Millisecond, other, 10)
	if g.written[40000] != 4 || g.written[40001] != 0 {
		t.Errorf("written %v, want 4 packets of port 40000 and none of 40001", g.written)
	}
}

// TestGateFullDoesNotDecide: with the gate's hold full of other
// connections' packets, a new connection of the selected process is not
// decided for good at its first packet: once its owner is known its
// packets are written, and its session (settle) is told to keep it.
func TestGateFullDoesNotDecide(t *testing.T) {
	g := newGateRun("p1")
	// Fill the hold with unresolved connections from remote peers.
	for i := 0; g.o.gate.held < gateMaxHeld; i++ {
		g.pass(0, netip.AddrPortFrom(gateRemote, uint16(10000+i/gateMaxHeldPerConn)), 1)
	}
	mine := netip.AddrPortFrom(gateRemote, 50000)
	g.pass(time.Millisecond, mine, 10) // the hold is full: decided alone, dropped
	g.tr.own(gateServer, mine, 1)
	g.pass(2*time.Millisecond, mine, 10)
	g.pass(3*time.Millisecond, mine, 10)
	if got := g.written[50000]; got != 2 {
		t.Errorf("%d packets of the selected connection written once its owner was known, want 2", got)
	}
	if !g.o.settle(mine, gateServer, true) {
		t.Error("the session of the selected connection was told to print nothing")
	}
}

// TestGateTimeoutYieldsToSession: a connection decided only because its
// wait ran out takes its session's decision.
func TestGateTimeoutYieldsToSession(t *testing.T) {
	g := newGateRun("p1")
	c := netip.AddrPortFrom(gateRemote, 40002)
	g.pass(0, c, 10)
	g.pass(1500*time.Millisecond, c, 10) // window over, owner unknown: left out
	if g.written[40002] != 0 {
		t.Fatalf("written %d packets of an unknown connection", g.written[40002])
	}
	if !g.o.settle(c, gateServer, true) {
		t.Fatal("settle overrode the session's decision with a timed-out one")
	}
	g.pass(1600*time.Millisecond, c, 10)
	if g.written[40002] != 1 {
		t.Errorf("after the session kept it, %d packets written, want 1", g.written[40002])
	}
}
