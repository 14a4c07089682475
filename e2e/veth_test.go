package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// ip runs an iproute2 command, failing the test on error.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// vethNamespace builds a namespace joined to the root one by a veth pair
// on the /30 whose first address is prefix+".1" (the root side) and second
// prefix+".2" (the namespace side); it returns the namespace's name and the
// root side's interface.
func vethNamespace(t *testing.T, tag, prefix string) (ns, host string) {
	t.Helper()
	suffix := fmt.Sprint(time.Now().UnixNano() % 100000)
	ns, host, peer := tag+suffix, tag+"h"+suffix, tag+"p"+suffix
	ip(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	ip(t, "link", "set", peer, "netns", ns)
	ip(t, "addr", "add", prefix+".1/30", "dev", host)
	ip(t, "link", "set", host, "up")
	ip(t, "-n", ns, "addr", "add", prefix+".2/30", "dev", peer)
	ip(t, "-n", ns, "link", "set", peer, "up")
	ip(t, "-n", ns, "link", "set", "lo", "up")
	return ns, host
}

// pushPullTo runs a PULL inside ns bound to addr and a PUSH from the root
// namespace, n messages.
func pushPullTo(t *testing.T, ns, addr string, port, n int) {
	t.Helper()
	ep := fmt.Sprintf("tcp://%s:%d", addr, port)
	recv := exec.Command("ip", "netns", "exec", ns, built.peer, "-type", "pull", "-bind", ep, "-count", fmt.Sprint(n))
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if out, err := exec.Command(built.peer, "-type", "push", "-connect", ep, "-count", fmt.Sprint(n)).CombinedOutput(); err != nil {
		t.Fatalf("sender: %v\n%s", err, out)
	}
	if err := recv.Wait(); err != nil {
		t.Fatalf("receiver: %v", err)
	}
}

// TestVeth captures on one end of a veth pair whose other end lives in a
// network namespace: a real Ethernet device, where the program hooks both
// ingress and egress. Every packet must be seen exactly once.
func TestVeth(t *testing.T) {
	requireLive(t)
	for _, backend := range []string{"tcx", "socket"} {
		t.Run(backend, func(t *testing.T) { testVeth(t, backend) })
	}
}

func testVeth(t *testing.T, backend string) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("iproute2's ip is needed for this test")
	}
	ns, host := vethNamespace(t, "zd", "10.231.0")
	port := freePort(t)
	d := startDump(t, "-v", "-i", host, "--backend", backend, "--port", fmt.Sprint(port))
	pushPullTo(t, ns, "10.231.0.2", port, 3)
	out, _ := d.stop(t)

	srv := fmt.Sprintf("10.231.0.2:%d", port)
	if syn := livetest.Lines(out, "> "+srv+": tcp SYN,"); len(syn) != 1 {
		t.Errorf("the SYN (egress) must appear once, got %d:\n%s", len(syn), out)
	}
	if synack := livetest.Lines(out, srv+" > ", "tcp SYN ACK,"); len(synack) != 1 {
		t.Errorf("the SYN ACK (ingress) must appear once, got %d", len(synack))
	}
	if g := livetest.Lines(out, "greeting: signature ff ", "ZMTP 3.1, mechanism NULL"); len(g) != 2 {
		t.Errorf("want a greeting each way, got %d", len(g))
	}
	if r := livetest.Lines(out, `READY: Socket-Type="PULL"`, srv+" > "); len(r) != 1 {
		t.Errorf("want READY PULL from the namespace once, got %q", r)
	}
	msgs := livetest.Lines(out, "> "+srv+": message: ")
	if len(msgs) != 3 || !strings.HasSuffix(msgs[0], `"1" 31`) || !strings.HasSuffix(msgs[2], `"3" 33`) {
		t.Errorf("want messages 1, 2, 3 once each, got %q", msgs)
	}
}

// TestInterfaceVanishes deletes the interface under a running capture:
// zmtpdump must stop by itself with one clear message, after printing what
// it had decoded, and exit non-zero.
func TestInterfaceVanishes(t *testing.T) {
	requireLive(t)
	ns, host := vethNamespace(t, "zv", "10.234.0")
	port := freePort(t)
	d := startDump(t, "-i", host, "--port", fmt.Sprint(port))
	pushPullTo(t, ns, "10.234.0.2", port, 2)
	time.Sleep(200 * time.Millisecond)
	ip(t, "link", "del", host)
	select {
	case <-d.Exited():
		err := d.Wait()
		if err == nil {
			t.Fatalf("zmtpdump exited 0 after its interface vanished\n%s", d.Stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("zmtpdump kept running after its interface vanished\n%s", d.Stderr.String())
	}
	out, errOut := d.Stdout.String(), d.Stderr.String()
	if !strings.Contains(errOut, "zmtpdump: "+host+": interface vanished during the capture") {
		t.Errorf("no clear message:\n%s", errOut)
	}
	if m := livetest.Lines(out, "message: "); len(m) != 2 {
		t.Errorf("the messages decoded before must be kept, got %q", m)
	}
}
