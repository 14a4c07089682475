package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/loader"

	"github.com/zmtpdump/zmtpdump/internal/skip"
	"github.com/zmtpdump/zmtpdump/procs"
)

// openTracker opens the process tracker, or skips the test where the
// kernel cannot run it (no BTF, no tp_btf programs).
func openTracker(t *testing.T) *procs.Tracker {
	t.Helper()
	tr, err := procs.Open()
	if errors.Is(err, procs.ErrUnavailable) && !strings.Contains(err.Error(), "permission denied") {
		skip.Unavailable(t, "%v (needs kernel BTF and BTF tracepoint programs, Linux 5.5+)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestProcessAttribution runs a libzmq PULL and PUSH, finds their
// connection in a live capture, and checks that the process tracker names
// both ends' real PIDs, command, network namespace and cgroup: on lo in
// this namespace, and across two namespaces joined by a veth pair,
// captured from ns1.
func TestProcessAttribution(t *testing.T) {
	requireLive(t)
	t.Run("lo", func(t *testing.T) {
		tr := openTracker(t)
		port := freePort(t)
		c, err := loader.Open(loader.Config{Interfaces: []string{"lo"}, Ports: []uint16{uint16(port)}, RingSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		d := startDecoder(t, c)
		pull, push := pushPullNs(t, "", "", "", "127.0.0.1", port)
		checkPushPull(t, d.stop(t))
		conns := d.connections()
		if len(conns) != 1 {
			t.Fatalf("want one connection, got %+v", conns)
		}
		self, err := loader.NetnsInode("")
		if err != nil {
			t.Fatal(err)
		}
		checkEnds(t, tr, conns[0], push, pull, self, self, ownCgroup(t), "")
	})
	t.Run("netns", func(t *testing.T) {
		tr := openTracker(t)
		p := makeNamespaces(t, 252, false)
		cg, id := containerCgroup(t)
		const port = 7001
		c, err := loader.Open(loader.Config{Netns: nsPath(p.ns1), Interfaces: []string{p.v1}, Ports: []uint16{port}, RingSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		d := startDecoder(t, c)
		pull, push := pushPullNs(t, p.ns1, p.ns2, cg, p.addr1, port)
		checkPushPull(t, d.stop(t))
		conns := d.connections()
		if len(conns) != 1 {
			t.Fatalf("want one connection, got %+v", conns)
		}
		ns1, err := loader.NetnsInode(nsPath(p.ns1))
		if err != nil {
			t.Fatal(err)
		}
		ns2, err := loader.NetnsInode(nsPath(p.ns2))
		if err != nil {
			t.Fatal(err)
		}
		checkEnds(t, tr, conns[0], push, pull, ns2, ns1, strings.TrimPrefix(cg, cgroupRoot()), id)
	})
}

// checkEnds checks the owners of conn's two ends: the client is the PUSH
// process in namespace clientNs, the server the PULL in serverNs, both in
// cgroup (a path below the cgroup v2 root) of container id.
func checkEnds(t *testing.T, tr *procs.Tracker, conn flows.Conn, push, pull *exec.Cmd, clientNs, serverNs uint32, cgroup, id string) {
	t.Helper()
	client, server := tr.Ends(conn.Client, conn.Server)
	for _, e := range []struct {
		name   string
		got    *procs.Process
		pid    int
		netns  uint32
		server bool
	}{{"client (PUSH)", client, push.Process.Pid, clientNs, false}, {"server (PULL)", server, pull.Process.Pid, serverNs, true}} {
		if e.got == nil {
			t.Errorf("%s %v: no owner found", e.name, conn)
			continue
		}
		want := fmt.Sprintf("pid %d comm %q netns %d server %v cgroup %q container %q", e.pid, "zmqpeer", e.netns, e.server, cgroup, id)
		got := fmt.Sprintf("pid %d comm %q netns %d server %v cgroup %q container %q", e.got.PID, e.got.Comm, e.got.Netns, e.got.Server, e.got.Cgroup, e.got.ContainerID)
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", e.name, got, want)
		}
		if e.got.Cookie == 0 || e.got.Since.IsZero() {
			t.Errorf("%s: no socket cookie or time: %+v", e.name, e.got)
		}
	}
	// The other way round, or with a port that is not theirs, nothing.
	if p, ok := tr.Lookup(conn.Client, conn.Client); ok {
		t.Errorf("lookup of a connection that does not exist: %+v", p)
	}
}

// ownCgroup returns this process's cgroup v2 path, which the peers it
// starts inherit.
func ownCgroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	skip.Unavailable(t, "no cgroup v2 here")
	return ""
}

// cgroupRoot is where cgroup v2 is mounted, as package procs finds it.
func cgroupRoot() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "/sys/fs/cgroup"
	}
	return "/sys/fs/cgroup/unified"
}

// containerCgroup makes a cgroup named as containerd's systemd driver
// names a container's, .../cri-containerd-<64 hex digits>.scope, and
// returns its directory and the id. It goes with the test.
func containerCgroup(t *testing.T) (dir, id string) {
	t.Helper()
	root := cgroupRoot()
	if _, err := os.Stat(root + "/cgroup.procs"); err != nil {
		skip.Unavailable(t, "no cgroup v2 hierarchy: %v", err)
	}
	id = fmt.Sprintf("%064x", time.Now().UnixNano())
	slice := fmt.Sprintf("%s/zmtpdump-e2e-%d.slice", root, os.Getpid())
	dir = slice + "/cri-containerd-" + id + ".scope"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Runs after the peers' own cleanups: they are gone by now.
		os.Remove(dir)
		os.Remove(slice)
	})
	return dir, id
}
