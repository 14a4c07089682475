package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/loader"
)

// TestAnyFollowsInterfaces: one `-i any` capture inside a namespace (ns1)
// while its interfaces come and go, as on a node where pods come and go. A
// conversation over ns1's veth is decoded; the veth is deleted under the
// capture, which says so and goes on; then a veth into a namespace made
// only now comes up, the capture takes it on, and a second conversation
// over it is decoded too; a tun device comes up last. The exit statistics count both changes; the -w
// file describes the new interface before its packets; nothing stays
// loaded after the exit. An interface of
// ns1 whose name holds an escape sequence is printed escaped.
func TestAnyFollowsInterfaces(t *testing.T) {
	requireLive(t)
	for _, backend := range []string{"tcx", "socket"} {
		t.Run(backend, func(t *testing.T) { testAnyFollows(t, backend) })
	}
}

func testAnyFollows(t *testing.T, backend string) {
	net := 217
	if backend == "socket" {
		net = 218
	}
	p := makeNamespaces(t, net, false)
	// A name with ESC in it: the kernel takes any byte but '/', ':',
	// white space and NUL.
	evil := "zq\x1b[31m"
	ip(t, "-n", p.ns1, "link", "add", evil, "type", "veth", "peer", "name", "zqp")
	ip(t, "-n", p.ns1, "link", "set", evil, "up")
	const port = 7013
	file := filepath.Join(t.TempDir(), "churn.pcapng")
	d := startDump(t, "--netns", nsPath(p.ns1), "-i", "any", "--backend", backend, "--port", fmt.Sprint(port), "-w", file)
	if errOut := d.Stderr.String(); strings.Contains(errOut, "\x1b") || !strings.Contains(errOut, `zq\x1b[31m`) {
		t.Errorf("the interface name must be printed escaped:\n%q", errOut)
	}

	pushPullNs(t, p.ns1, p.ns2, "", p.addr1, port)
	ip(t, "-n", p.ns1, "link", "del", p.v1)
	waitStderr(t, d, "zmtpdump: interface "+p.v1+" vanished, no longer capturing on it")

	// A namespace made after the start, joined to ns1 by a new veth.
	s := fmt.Sprint(time.Now().UnixNano() % 100000)
	ns3, v3, v4 := "zn3"+s, "znv3"+s, "znv4"+s
	addr3, addr4 := fmt.Sprintf("10.%d.1.1", net), fmt.Sprintf("10.%d.1.2", net)
	ip(t, "netns", "add", ns3)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns3).Run() })
	ip(t, "-n", ns3, "link", "set", "lo", "up")
	ip(t, "-n", p.ns1, "link", "add", v3, "type", "veth", "peer", "name", v4, "netns", ns3)
	ip(t, "-n", p.ns1, "addr", "add", addr3+"/24", "dev", v3)
	ip(t, "-n", ns3, "addr", "add", addr4+"/24", "dev", v4)
	ip(t, "-n", ns3, "link", "set", v4, "up")
	ip(t, "-n", p.ns1, "link", "set", v3, "up")
	waitStderr(t, d, "zmtpdump: interface "+v3+" came up, capturing on it too")
	pushPullNs(t, p.ns1, ns3, "", addr3, port)
	// A raw-IP interface, a link type none had at the start: its programs
	// are loaded then.
	tun := "zqt" + s
	ip(t, "-n", p.ns1, "tuntap", "add", "dev", tun, "mode", "tun")
	ip(t, "-n", p.ns1, "link", "set", tun, "up")
	waitStderr(t, d, "zmtpdump: interface "+tun+" came up, capturing on it too")

	// What was attached later goes at exit like the rest.
	progs := progsOf(t, d.Cmd.Process.Pid)
	out, errOut := d.stop(t)
	waitGone(t, progs, "exit")
	for _, srv := range []string{p.addr1, addr3} {
		if m := livetest.Lines(out, fmt.Sprintf("> %s:%d: message: ", srv, port)); len(m) != 3 {
			t.Errorf("want 3 messages to %s, got %q\n%s", srv, m, out)
		}
	}
	if !strings.Contains(errOut, "2 interfaces added, 1 removed during the capture") {
		t.Errorf("no count of interfaces added and removed:\n%s", errOut)
	}

	// The file: ns1's interfaces at the start, then v3's block before its
	// packets.
	ifaces, perBlock := pcapngPackets(t, file)
	perInterface := map[string]int{}
	for i, n := range perBlock {
		if i >= len(ifaces) {
			t.Fatalf("%d packets on interface block %d of %d", n, i, len(ifaces))
		}
		perInterface[ifaces[i].Name] += n
	}
	if perInterface[p.v1] == 0 || perInterface[v3] == 0 || perInterface[""] != 0 {
		t.Errorf("packets per interface in the file: %v, want some on %s and on %s, none unnamed", perInterface, p.v1, v3)
	}
}

// waitStderr waits until zmtpdump (still running) prints want on stderr.
func waitStderr(t *testing.T, d *dump, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.Stderr.String(), want) {
		select {
		case <-d.Exited():
			err := d.Wait()
			t.Fatalf("zmtpdump exited (%v) before printing %q\nstderr: %s", err, want, d.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("zmtpdump did not print %q\nstderr: %s", want, d.Stderr.String())
		}
	}
}

// removedSoon reports whether the capture reports name removed within a
// few seconds (link events come asynchronously).
func removedSoon(t *testing.T, c *loader.Capture, name string) bool {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		changes, err := c.CheckInterfaces()
		if err != nil {
			t.Fatalf("CheckInterfaces: %v", err)
		}
		for _, ch := range changes {
			if ch.Removed && ch.Name == name {
				return true
			}
		}
	}
	return false
}
