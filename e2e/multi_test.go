package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

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

// TestSeveralInterfaces captures on lo and on a veth at once (different
// devices, one ring buffer): conversations on both are decoded, each once.
func TestSeveralInterfaces(t *testing.T) {
	requireLive(t)
	ns, host := vethNamespace(t, "zm", "10.237.0")
	port := freePort(t)
	d := startDump(t, "-i", "lo", "-i", host, "--port", fmt.Sprint(port))
	if !strings.Contains(d.stderr.String(), "listening on lo, "+host+" (") {
		t.Errorf("listening line: %s", d.stderr.String())
	}
	pushPull(t, port, 2)
	pushPullTo(t, ns, "10.237.0.2", port, 2)
	out, _ := d.stop(t)
	if m := lines(out, fmt.Sprintf("> 127.0.0.1:%d: message: ", port)); len(m) != 2 {
		t.Errorf("want 2 messages on lo, got %q", m)
	}
	if m := lines(out, fmt.Sprintf("> 10.237.0.2:%d: message: ", port)); len(m) != 2 {
		t.Errorf("want 2 messages on %s, got %q\n%s", host, m, out)
	}
}

// TestNetnsFlag captures with --netns inside a namespace from the root
// one: the namespace's interfaces, not ours.
func TestNetnsFlag(t *testing.T) {
	requireLive(t)
	ns, _ := vethNamespace(t, "zn", "10.238.0")
	port := freePort(t)
	d := startDump(t, "--netns", "/var/run/netns/"+ns, "-i", "any", "--port", fmt.Sprint(port))
	if !strings.Contains(d.stderr.String(), "in network namespace /var/run/netns/"+ns) {
		t.Errorf("listening line: %s", d.stderr.String())
	}
	pushPullTo(t, ns, "10.238.0.2", port, 3)
	pushPull(t, port, 2) // in the root namespace: must not be seen
	out, _ := d.stop(t)
	if m := lines(out, fmt.Sprintf("> 10.238.0.2:%d: message: ", port)); len(m) != 3 {
		t.Errorf("want the namespace's 3 messages, got %q\n%s", m, out)
	}
	if strings.Contains(out, "127.0.0.1:") {
		t.Errorf("the root namespace's lo leaked into a --netns capture:\n%s", out)
	}
	if p := lines(out, ": process: zmqpeer[", "-> zmqpeer["); len(p) != 1 {
		t.Errorf("want both ends attributed once, got %q", p)
	}
	out2, err := exec.Command(built.zmtpdump, "--netns", "/nonexistent", "-i", "any").CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(out2)), "\n") != 0 {
		t.Errorf("a bad --netns must fail with one line: %v %q", err, out2)
	}
}
