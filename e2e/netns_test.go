package e2e

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// nsPair is two network namespaces joined by a veth pair: ns1 holds v1
// (or a bridge br with v1 as its port) with addr1, ns2 holds v2 with addr2.
type nsPair struct {
	ns1, ns2, v1, v2, br string
	addr1, addr2         string
}

// path returns the path of namespace ns, as `ip netns add` makes it.
func nsPath(ns string) string { return "/var/run/netns/" + ns }

// makeNamespaces builds an nsPair; with bridge, ns1's address lives on a
// bridge whose only port is v1. Everything goes with the test.
func makeNamespaces(t *testing.T, net int, bridge bool) nsPair {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("iproute2's ip is needed for this test")
	}
	s := fmt.Sprint(time.Now().UnixNano() % 100000)
	p := nsPair{ns1: "zn1" + s, ns2: "zn2" + s, v1: "znv1" + s, v2: "znv2" + s,
		addr1: fmt.Sprintf("10.%d.0.1", net), addr2: fmt.Sprintf("10.%d.0.2", net)}
	for _, ns := range []string{p.ns1, p.ns2} {
		ip(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ip(t, "-n", ns, "link", "set", "lo", "up")
	}
	ip(t, "-n", p.ns1, "link", "add", p.v1, "type", "veth", "peer", "name", p.v2, "netns", p.ns2)
	on1 := p.v1
	if bridge {
		p.br = "znb" + s
		ip(t, "-n", p.ns1, "link", "add", p.br, "type", "bridge")
		ip(t, "-n", p.ns1, "link", "set", p.v1, "master", p.br)
		ip(t, "-n", p.ns1, "link", "set", p.br, "up")
		on1 = p.br
	}
	ip(t, "-n", p.ns1, "addr", "add", p.addr1+"/24", "dev", on1)
	ip(t, "-n", p.ns1, "link", "set", p.v1, "up")
	ip(t, "-n", p.ns2, "addr", "add", p.addr2+"/24", "dev", p.v2)
	ip(t, "-n", p.ns2, "link", "set", p.v2, "up")
	return p
}

// startPeer starts zmqpeer with args, inside network namespace ns unless
// ns is "", and in cgroup v2 directory cg unless cg is "". `ip netns exec`
// and the shell exec in place: the process keeps its PID.
func startPeer(t *testing.T, ns, cg string, args ...string) *exec.Cmd {
	t.Helper()
	argv := append([]string{built.peer}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	if cg != "" {
		argv = append([]string{"sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, cg}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// peerOutput returns what a peer started by startPeer printed.
func peerOutput(c *exec.Cmd) string { return c.Stdout.(*strings.Builder).String() }

// pushPullNs runs a PULL binding addr:port in ns1 and a PUSH sending "1",
// "2", "3" from ns2, both in cgroup cg (see startPeer); it returns both
// processes, finished.
func pushPullNs(t *testing.T, ns1, ns2, cg, addr string, port int) (pull, push *exec.Cmd) {
	t.Helper()
	ep := fmt.Sprintf("tcp://%s:%d", addr, port)
	pull = startPeer(t, ns1, cg, "-type", "pull", "-bind", ep, "-count", "3")
	time.Sleep(200 * time.Millisecond) // let it bind
	push = startPeer(t, ns2, cg, "-type", "push", "-connect", ep, "-count", "3")
	for _, c := range []*exec.Cmd{push, pull} {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v: %v\n%s", c.Args, err, peerOutput(c))
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%v did not finish\n%s", c.Args, peerOutput(c))
		}
	}
	return pull, push
}

// liveDecoder reads a Capture on a goroutine and decodes every connection
// with flows and zmtp, as zmtpdump does, into one line per event:
// "greeting 3.1 NULL", "READY PULL", "message 1".
type liveDecoder struct {
	c    *loader.Capture
	asm  *flows.Assembler
	done chan error

	mu     sync.Mutex
	events []string
	conns  []flows.Conn
}

func startDecoder(t *testing.T, c *loader.Capture) *liveDecoder {
	t.Helper()
	d := &liveDecoder{c: c, done: make(chan error, 1)}
	d.asm = flows.New(flows.Config{}, func(fc *flows.Conn) flows.Consumer {
		d.mu.Lock()
		d.conns = append(d.conns, *fc)
		d.mu.Unlock()
		return &decodeConsumer{d: d, zc: zmtp.NewConn(zmtp.Options{})}
	})
	go func() {
		var seg segment.Segment
		for {
			if err := c.Next(&seg); err != nil {
				if err == loader.ErrClosed {
					err = nil
				}
				d.done <- err
				return
			}
			d.asm.Add(&seg)
		}
	}()
	return d
}

// stop lets the last records arrive, stops reading and returns the events.
func (d *liveDecoder) stop(t *testing.T) []string {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	d.c.Interrupt()
	if err := <-d.done; err != nil {
		t.Fatalf("reading the capture: %v", err)
	}
	d.asm.Flush(time.Now())
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.events)
}

// connections returns the connections seen so far.
func (d *liveDecoder) connections() []flows.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.conns)
}

type decodeConsumer struct {
	d  *liveDecoder
	zc *zmtp.Conn
}

func (c *decodeConsumer) emit(_ segment.Dir, ev zmtp.Event) {
	var s string
	switch e := ev.(type) {
	case *zmtp.Greeting:
		s = fmt.Sprintf("greeting %d.%d %s", e.Major, e.Minor, e.Mechanism)
	case *zmtp.Command:
		s = e.Name
		for _, p := range e.Properties {
			if string(p.Name) == "Socket-Type" {
				s += " " + string(p.Value)
			}
		}
	case *zmtp.Message:
		var parts []string
		for _, f := range e.Frames {
			parts = append(parts, string(f.Data))
		}
		s = "message " + strings.Join(parts, "|")
	case *zmtp.Connection:
		return
	default:
		s = fmt.Sprintf("%T", ev)
	}
	c.d.mu.Lock()
	c.d.events = append(c.d.events, s)
	c.d.mu.Unlock()
}

// flows and zmtp both number the client's direction 0.

func (c *decodeConsumer) Data(d segment.Dir, p []byte, _ *segment.Segment) {
	c.zc.Feed(d, p, c.emit)
}

func (c *decodeConsumer) Gap(d segment.Dir, n uint64, _ *segment.Segment) {
	c.zc.Gap(d, n, c.emit)
}

func (c *decodeConsumer) Skip(d segment.Dir, n uint64, _ *segment.Segment) {
	c.zc.Skip(d, n, c.emit)
}

func (c *decodeConsumer) Stall(segment.Dir, bool, *segment.Segment) {}

func (c *decodeConsumer) Close(r segment.CloseReason, _ *segment.Segment) {
	c.zc.Close(r, c.emit)
}

// checkPushPull checks the events of one PUSH sending "1", "2", "3" to a
// PULL: every event exactly once.
func checkPushPull(t *testing.T, events []string) {
	t.Helper()
	want := []string{"READY PULL", "READY PUSH", "greeting 3.1 NULL", "greeting 3.1 NULL", "message 1", "message 2", "message 3"}
	got := slices.Clone(events)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("decoded events (sorted):\n got %q\nwant %q", got, want)
	}
}

// TestNetns captures from the root namespace inside another one (ns1)
// where a libzmq PULL receives from a PUSH in a third (ns2), on the veth,
// on "any" (lo and the veth of ns1), and on "any" where ns1's address is on
// a bridge (the bridge and its veth port both see each packet: reported
// once). None of ns1's interfaces exists in the root namespace.
func TestNetns(t *testing.T) {
	requireLive(t)
	for i, tc := range []struct {
		name   string
		bridge bool
		all    bool
	}{{"veth", false, false}, {"any", false, true}, {"bridge", true, true}} {
		for j, backend := range []loader.Backend{loader.TCX, loader.Socket} {
			t.Run(tc.name+"/"+string(backend), func(t *testing.T) {
				testNetns(t, 240+2*i+j, tc.bridge, tc.all, backend)
			})
		}
	}
}

func testNetns(t *testing.T, net int, bridge, all bool, backend loader.Backend) {
	p := makeNamespaces(t, net, bridge)
	const port = 7001
	ifaces, want := []string{p.v1}, []string{p.v1}
	if all {
		ifaces, want = []string{loader.AnyInterface}, []string{"lo", p.v1}
		if bridge {
			want = []string{"lo", p.v1, p.br}
		}
	}
	c, err := loader.Open(loader.Config{Netns: nsPath(p.ns1), Interfaces: ifaces, Ports: []uint16{port}, RingSize: 1 << 20, Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := c.Interfaces()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("capturing on %q, want %q", got, want)
	}
	if c.Backend() != backend {
		t.Errorf("backend %s, want %s", c.Backend(), backend)
	}
	d := startDecoder(t, c)
	pushPullNs(t, p.ns1, p.ns2, "", p.addr1, port)
	events := d.stop(t)
	checkPushPull(t, events)
	conns := d.connections()
	srv := netip.MustParseAddrPort(fmt.Sprintf("%s:%d", p.addr1, port))
	if len(conns) != 1 || conns[0].Server != srv || conns[0].Client.Addr().String() != p.addr2 {
		t.Errorf("connections %+v, want one from %s to %s", conns, p.addr2, srv)
	}
	if _, err := c.CheckInterfaces(); err != nil {
		t.Errorf("CheckInterfaces: %v", err)
	}
	ip(t, "-n", p.ns1, "link", "del", p.v1)
	if !all {
		if _, err := c.CheckInterfaces(); err == nil {
			t.Error("CheckInterfaces did not see the veth deleted in ns1")
		}
	} else if !removedSoon(t, c, p.v1) {
		// "any" follows interfaces: a deleted one is dropped, not fatal.
		t.Error("CheckInterfaces did not report the veth deleted in ns1 as removed")
	}
	if st, err := c.Stats(); err != nil || st.Lost != 0 {
		t.Errorf("stats %+v, %v", st, err)
	}
}

// TestNetnsErrors: a path that is no network namespace is refused with a
// clear error, as is an interface of the root namespace that ns1 lacks.
func TestNetnsErrors(t *testing.T) {
	requireLive(t)
	if _, err := loader.Open(loader.Config{Netns: "/proc/self/ns/pid", Interfaces: []string{"lo"}}); err == nil || !strings.Contains(err.Error(), "not a network namespace") {
		t.Errorf("a PID namespace: %v", err)
	}
	if _, err := loader.Open(loader.Config{Netns: "/nonexistent/ns", Interfaces: []string{"lo"}}); err == nil {
		t.Error("a missing path was accepted")
	}
	p := makeNamespaces(t, 250, false)
	if _, err := loader.Open(loader.Config{Netns: nsPath(p.ns2), Interfaces: []string{p.v1}}); err == nil || !strings.Contains(err.Error(), "unknown interface") {
		t.Errorf("ns1's veth looked up in ns2: %v", err)
	}
}
