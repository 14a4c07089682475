package procs

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/zmtpdump/zmtpdump/bpf"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// requireBPF skips without root, or fails when ZMTPDUMP_REQUIRE_E2E=1.
func requireBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	skip.Unavailable(t, "loading BPF programs needs root (Linux 5.5+ with kernel BTF)")
}

func TestContainerID(t *testing.T) {
	const id = "4f6c1e2a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e"
	const uid = "0b7ad2a1_9f3c_4c1e_8f2e_3d1b6a7c9e01"
	for _, tc := range []struct{ name, in, want string }{
		{"containerd systemd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid + ".slice/cri-containerd-" + id + ".scope", id},
		{"cri-o systemd", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uid + ".slice/crio-" + id + ".scope", id},
		{"docker systemd", "/system.slice/docker-" + id + ".scope", id},
		{"podman", "/machine.slice/libpod-" + id + ".scope/container", id},
		{"cgroupfs driver", "/kubepods/besteffort/pod" + strings.ReplaceAll(uid, "_", "-") + "/" + id, id},
		{"docker cgroupfs", "/docker/" + id, id},
		{"seen from another cgroup namespace", "/../../kubepods.slice/cri-containerd-" + id + ".scope", id},
		{"no container", "/user.slice/user-1000.slice/session-2.scope", ""},
		{"pod, no container", "/kubepods.slice/kubepods-pod" + uid + ".slice", ""},
		{"root", "/", ""},
		{"empty", "", ""},
		{"63 digits", "/docker/" + id[1:], ""},
		{"upper case", "/docker/" + strings.ToUpper(id), ""},
		{"not hex", "/docker/" + strings.Repeat("g", 64), ""},
	} {
		if got := ContainerID(tc.in); got != tc.want {
			t.Errorf("%s: ContainerID(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestFillKey(t *testing.T) {
	v4 := func(s string) [16]uint8 {
		var a [16]uint8
		b := netip.MustParseAddr(s).As4()
		copy(a[:], b[:])
		return a
	}
	for _, tc := range []struct {
		name          string
		local, remote string
		want          bpf.ProcsConnKey
		ok            bool
	}{
		{"IPv4", "10.0.0.1:7001", "10.0.0.2:40000", bpf.ProcsConnKey{Laddr: v4("10.0.0.1"), Raddr: v4("10.0.0.2"), Lport: 7001, Rport: 40000, Family: 4}, true},
		{"IPv4-mapped", "[::ffff:10.0.0.1]:7001", "[::ffff:10.0.0.2]:40000", bpf.ProcsConnKey{Laddr: v4("10.0.0.1"), Raddr: v4("10.0.0.2"), Lport: 7001, Rport: 40000, Family: 4}, true},
		{"IPv6", "[fd00::1]:7001", "[fd00::2]:1", bpf.ProcsConnKey{Laddr: netip.MustParseAddr("fd00::1").As16(), Raddr: netip.MustParseAddr("fd00::2").As16(), Lport: 7001, Rport: 1, Family: 6}, true},
		{"mixed", "10.0.0.1:1", "[fd00::2]:1", bpf.ProcsConnKey{}, false},
	} {
		var k bpf.ProcsConnKey
		ok := fillKey(&k, netip.MustParseAddrPort(tc.local), netip.MustParseAddrPort(tc.remote))
		if ok != tc.ok {
			t.Errorf("%s: ok %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if ok && k != tc.want {
			t.Errorf("%s: key %+v, want %+v", tc.name, k, tc.want)
		}
	}
}

func TestCommString(t *testing.T) {
	var c [16]int8
	for i, b := range []byte("zmqpeer") {
		c[i] = int8(b)
	}
	if got := commString(c); got != "zmqpeer" {
		t.Errorf("commString = %q", got)
	}
	for i := range c {
		c[i] = 'x'
	}
	if got := commString(c); got != strings.Repeat("x", 16) {
		t.Errorf("commString without a NUL = %q", got)
	}
}

// TestCgroupIndex maps a directory tree's inode numbers to paths, as it
// does with cgroup v2 (where a directory's inode number is the cgroup id).
func TestCgroupIndex(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "kubepods.slice", "cri-containerd-x.scope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ino := func(p string) uint64 {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	c := newCgroupIndex(root)
	if got := c.path(ino(dir), 0); got != "/kubepods.slice/cri-containerd-x.scope" {
		t.Errorf("path = %q", got)
	}
	if got := c.path(ino(root), 0); got != "/" {
		t.Errorf("root path = %q", got)
	}
	// Unknown, and no process to ask: "".
	if got := c.path(1<<62, 0); got != "" {
		t.Errorf("unknown id: %q", got)
	}
	// Unknown, but the process lives: /proc/PID/cgroup.
	want := procCgroup(os.Getpid())
	if got := c.path(1<<62, os.Getpid()); got != want {
		t.Errorf("fallback %q, want %q", got, want)
	}
}

// TestProcessTracker connects to this process over loopback, IPv4, IPv6 and
// IPv4 through a dual-stack listener (whose accepted socket is IPv6 with
// IPv4-mapped addresses, found by its IPv4 form): both ends are this
// process. A connection refused leaves nothing behind.
func TestProcessTracker(t *testing.T) {
	requireBPF(t)
	tr, err := Open()
	if err != nil {
		skip.Unavailable(t, "%v (needs kernel BTF and BTF tracepoint programs, Linux 5.5+)", err)
	}
	defer tr.Close()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	self := Process{PID: os.Getpid(), Comm: strings.TrimSpace(string(comm))}
	for _, tc := range []struct{ network, listen, dial string }{
		{"tcp4", "127.0.0.1:0", "127.0.0.1"},
		{"tcp6", "[::1]:0", "::1"},
		{"tcp", "[::]:0", "127.0.0.1"},
	} {
		l, err := net.Listen(tc.network, tc.listen)
		if err != nil {
			t.Logf("%s: %v", tc.listen, err)
			continue
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := l.Accept()
			accepted <- c
		}()
		port := l.Addr().(*net.TCPAddr).Port
		c, err := net.Dial("tcp", net.JoinHostPort(tc.dial, strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		s := <-accepted
		a := netip.MustParseAddrPort(c.LocalAddr().String())
		b := netip.MustParseAddrPort(c.RemoteAddr().String())
		client, server := tr.Ends(a, b)
		for _, e := range []struct {
			name   string
			got    *Process
			server bool
		}{{"client", client, false}, {"server", server, true}} {
			if e.got == nil {
				t.Errorf("%s %s: no %s", tc.listen, a, e.name)
				continue
			}
			if e.got.PID != self.PID || e.got.Comm != self.Comm || e.got.Server != e.server || e.got.Cookie == 0 {
				t.Errorf("%s %s: %s %+v, want pid %d comm %q", tc.listen, a, e.name, e.got, self.PID, self.Comm)
			}
		}
		if client != nil && server != nil && client.Cookie == server.Cookie {
			t.Errorf("%s: both ends have cookie %d", tc.listen, client.Cookie)
		}
		c.Close()
		s.Close()
		l.Close()
	}
	// Refused: no listener on the port.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if _, err := net.Dial("tcp4", addr); err == nil {
		t.Fatal("dialled a closed port")
	}
	var n int
	var k bpf.ProcsConnKey
	it := tr.conns.Iterate()
	var o bpf.ProcsOwner
	for it.Next(&k, &o) {
		if k.Rport == netip.MustParseAddrPort(addr).Port() {
			n++
		}
	}
	if n != 0 {
		t.Errorf("a refused connection left %d entries", n)
	}
}
