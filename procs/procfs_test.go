package procs

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestParseProcAddr(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"0100007F:1B59", "127.0.0.1:7001"},
		{"00000000000000000000000001000000:1B59", "[::1]:7001"},
		{"0000000000000000FFFF00000100007F:0050", "[::ffff:127.0.0.1]:80"},
	} {
		got, ok := parseProcAddr(tt.in)
		if !ok || got != netip.MustParseAddrPort(tt.want) {
			t.Errorf("%s: %v %v, want %s", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "0100007F", "XYZ:1B59", "0100007F:XYZ", "01:0050"} {
		if _, ok := parseProcAddr(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestOwnerFromProc finds this very process as the owner of a TCP
// connection it holds.
func TestOwnerFromProc(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	remote := netip.MustParseAddrPort(c.RemoteAddr().String())
	pr, err := OwnerFromProc(os.Getpid(), local, remote)
	if err != nil || pr == nil || pr.PID != os.Getpid() || pr.Comm == "" {
		t.Fatalf("OwnerFromProc(self): %+v, %v", pr, err)
	}
	if pr, err := OwnerFromProc(os.Getpid(), remote, netip.MustParseAddrPort("127.0.0.1:1")); err != nil || pr != nil {
		t.Errorf("a connection that does not exist: %+v, %v", pr, err)
	}
}

// TestSocketOwner finds this very process, by pid and by command name, as
// the holder of a Unix socket's inode, and no one for an inode it does not
// hold.
func TestSocketOwner(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	var st syscall.Stat_t
	if err := syscall.Fstat(fds[0], &st); err != nil {
		t.Fatal(err)
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	me := strings.TrimSpace(string(comm))
	for _, c := range []struct {
		pid  int
		comm string
	}{{os.Getpid(), ""}, {0, me}} {
		pr, err := SocketOwner(c.pid, c.comm, st.Ino)
		if err != nil || pr == nil || pr.PID != os.Getpid() || pr.Comm != me {
			t.Errorf("SocketOwner(%d, %q) = %+v, %v; want pid %d (%s)", c.pid, c.comm, pr, err, os.Getpid(), me)
		}
		if pr, err := SocketOwner(c.pid, c.comm, st.Ino+1<<40); pr != nil || err != nil {
			t.Errorf("SocketOwner(%d, %q) of an inode not held = %+v, %v", c.pid, c.comm, pr, err)
		}
	}
	if pr, err := SocketOwner(0, "", st.Ino); pr != nil || err != nil {
		t.Errorf("with neither pid nor comm: %+v, %v", pr, err)
	}
}
