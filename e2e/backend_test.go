package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestBackends captures the same conversation on lo with each attach
// backend: TCX, and the AF_PACKET socket filter that older kernels get.
func TestBackends(t *testing.T) {
	requireLive(t)
	for _, b := range []struct{ flag, name string }{{"tcx", "(TCX)"}, {"socket", "(socket filter)"}} {
		t.Run(b.flag, func(t *testing.T) {
			port := freePort(t)
			d := startDump(t, "-v", "-i", "lo", "--backend", b.flag, "--port", fmt.Sprint(port))
			pushPull(t, port, 3)
			out, errOut := d.stop(t)
			if !strings.Contains(errOut, "listening on lo "+b.name) {
				t.Errorf("backend not reported: %s", errOut)
			}
			srv := fmt.Sprintf("127.0.0.1:%d", port)
			if syn := livetest.Lines(out, "> "+srv+": tcp SYN,"); len(syn) != 1 {
				t.Errorf("want the SYN exactly once on lo, got %d:\n%s", len(syn), out)
			}
			msgs := livetest.Lines(out, "> "+srv+": message: ")
			if len(msgs) != 3 || !strings.HasSuffix(msgs[0], `"1" 31`) || !strings.HasSuffix(msgs[2], `"3" 33`) {
				t.Errorf("want messages 1, 2, 3 once each, got %q", msgs)
			}
			if r := livetest.Lines(out, "READY: Socket-Type="); len(r) != 2 {
				t.Errorf("want 2 READY commands, got %q", r)
			}
		})
	}
}

// TestSocketBackendLeavesNothing kills zmtpdump using the socket backend:
// the socket and its filter die with the process.
func TestSocketBackendLeavesNothing(t *testing.T) {
	requireLive(t)
	d := startDump(t, "-i", "lo", "--backend", "socket", "--port", fmt.Sprint(freePort(t)))
	stopAndCheck(t, d, syscall.SIGKILL)
}

// bridgedNamespace builds a namespace whose veth's host end is a port of a
// bridge that holds the host's address: packets to the namespace cross the
// bridge and the veth, two devices. It returns the namespace, the bridge and
// the namespace's address.
func bridgedNamespace(t *testing.T) (ns, br, addr string) {
	t.Helper()
	suffix := fmt.Sprint(time.Now().UnixNano() % 100000)
	ns, br, host, peer := "zb"+suffix, "zbr"+suffix, "zbh"+suffix, "zbp"+suffix
	ip(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip(t, "link", "add", br, "type", "bridge")
	t.Cleanup(func() { exec.Command("ip", "link", "del", br).Run() })
	ip(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	ip(t, "link", "set", host, "master", br)
	ip(t, "link", "set", peer, "netns", ns)
	ip(t, "addr", "add", "10.232.0.1/30", "dev", br)
	ip(t, "link", "set", br, "up")
	ip(t, "link", "set", host, "up")
	ip(t, "-n", ns, "addr", "add", "10.232.0.2/30", "dev", peer)
	ip(t, "-n", ns, "link", "set", peer, "up")
	ip(t, "-n", ns, "link", "set", "lo", "up")
	return ns, br, "10.232.0.2"
}

// TestAnyInterface captures with -i any while traffic crosses a bridge and
// a veth: each packet is on two devices and must be reported once.
func TestAnyInterface(t *testing.T) {
	requireLive(t)
	for _, backend := range []string{"tcx", "socket"} {
		t.Run(backend, func(t *testing.T) {
			ns, _, addr := bridgedNamespace(t)
			port := freePort(t)
			d := startDump(t, "-v", "-i", "any", "--backend", backend, "--port", fmt.Sprint(port))
			pushPullTo(t, ns, addr, port, 3)
			out, errOut := d.stop(t)
			srv := fmt.Sprintf("%s:%d", addr, port)
			if syn := livetest.Lines(out, "> "+srv+": tcp SYN,"); len(syn) != 1 {
				t.Errorf("the SYN must be reported once, got %d:\n%s", len(syn), out)
			}
			msgs := livetest.Lines(out, "> "+srv+": message: ")
			if len(msgs) != 3 {
				t.Errorf("want messages 1, 2, 3 once each, got %q\n%s", msgs, errOut)
			}
			if !strings.Contains(errOut, "seen twice (on two interfaces) reported once") {
				t.Errorf("the duplicates must be counted:\n%s", errOut)
			}
		})
	}
}

// TestSharded reassembles on two goroutines (the path many-core hosts take
// by default): every connection's events still come out whole and in order.
func TestSharded(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--shards", "2", "--port", fmt.Sprint(port))
	pushPull(t, port, 3)
	pushPull(t, port, 3)
	out, errOut := d.stop(t)
	srv := fmt.Sprintf("127.0.0.1:%d", port)
	msgs := livetest.Lines(out, "> "+srv+": message: ")
	if len(msgs) != 6 {
		t.Fatalf("want 6 messages, got %d:\n%s\n%s", len(msgs), out, errOut)
	}
	if g := livetest.Lines(out, "greeting: ZMTP 3.1"); len(g) != 4 {
		t.Errorf("want 4 greetings, got %d", len(g))
	}
	if c := livetest.Lines(out, "connection "); len(c) != 2 {
		t.Errorf("want a summary per connection, got %q", c)
	}
	if !strings.Contains(errOut, "2 connections,") {
		t.Errorf("exit statistics: %s", errOut)
	}
}
