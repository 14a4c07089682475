package unixcap

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/segment"
)

// eachMechanism runs f as a subtest with each mechanism forced.
func eachMechanism(t *testing.T, f func(t *testing.T, mech Mechanism)) {
	for _, m := range []struct {
		name string
		mech Mechanism
	}{{"btf", MechanismBTF}, {"syscalls", MechanismSyscalls}} {
		t.Run(m.name, func(t *testing.T) { f(t, m.mech) })
	}
}

// TestLiveMechanism: Open and Probe prefer the BTF tracepoint where the
// kernel has it; either can be forced; an unknown one is refused.
func TestLiveMechanism(t *testing.T) {
	want := MechanismSyscalls
	if haveBTF() == nil {
		want = MechanismBTF
	}
	c := openLive(t, Config{Paths: []string{"/nonexistent/*.ipc"}})
	if c.Mechanism() != want {
		t.Errorf("Mechanism() = %q, want %q", c.Mechanism(), want)
	}
	if m, err := Probe(); err != nil || m != want {
		t.Errorf("Probe() = %q, %v; want %q", m, err, want)
	}
	if _, err := Open(Config{Mechanism: "kprobes"}); err == nil {
		t.Error("an unknown mechanism opened")
	}
}

// connect dials path after the capture began and accepts on ln: the
// client descriptor and the server connection.
func connect(t *testing.T, ln net.Listener, path string) (int, net.Conn) {
	t.Helper()
	fd := dialRaw(t, path)
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return fd, srv
}

// ends returns the client and server addresses of the first handshake
// seen, "" if none.
func ends(s *streams) (client, server string) {
	for _, seg := range s.segs {
		if seg.Has(segment.SYN) && !seg.Has(segment.ACK) {
			return seg.Src.String(), seg.Dst.String()
		}
	}
	return "", ""
}

// dataSrcs returns the sources of data segments.
func dataSrcs(s *streams) map[string]bool {
	out := map[string]bool{}
	for _, seg := range s.segs {
		if seg.PayloadLen > 0 {
			out[seg.Src.String()] = true
		}
	}
	return out
}

// TestLiveWritevIovecs: one writev of five iovecs (one empty) is captured
// byte-exact, as one stream.
func TestLiveWritevIovecs(t *testing.T) { eachMechanism(t, testLiveWritevIovecs) }

func testLiveWritevIovecs(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	got := listen(t, path)
	c := openLive(t, Config{Paths: []string{path}, Mechanism: mech})
	fd := dialRaw(t, path)
	parts := [][]byte{[]byte("one,"), {}, []byte("two,"), random(t, 70000), []byte(",end")}
	want := bytes.Join(parts, nil)
	if n, err := unix.Writev(fd, parts); err != nil || n != len(want) {
		t.Fatalf("writev = %d, %v", n, err)
	}
	unix.Close(fd)
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the server received %d bytes", len(b))
	}
	var client string
	s := collect(t, c, 5*time.Second, func(s *streams) bool {
		client, _ = ends(s)
		return client != "" && len(s.bytes(client, 1)) == len(want)
	})
	if b := s.bytes(client, 1); !bytes.Equal(b, want) {
		t.Errorf("captured %d bytes, want the %d written, exact", len(b), len(want))
	}
}

// TestLiveFork: a descriptor inherited by a child process (fork and exec)
// is the same connection: one stream, its bytes in order, the child named
// as the sender after it sent, no FIN before the child is done.
func TestLiveFork(t *testing.T) { eachMechanism(t, testLiveFork) }

func testLiveFork(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	got := listen(t, path)
	c := openLive(t, Config{Paths: []string{path}, Mechanism: mech})
	fd := dialRaw(t, path)
	if _, err := unix.Write(fd, []byte("from the parent,")); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "client")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=write-fd3")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v", err)
	}
	f.Close()
	const want = "from the parent,from the child"
	if b := <-got; string(b) != want {
		t.Fatalf("the server received %q", b)
	}
	var client string
	s := collect(t, c, 6*time.Second, func(s *streams) bool {
		client, _ = ends(s)
		return client != "" && hasFIN(s.flags[client])
	})
	if b := string(s.bytes(client, 1)); b != want {
		t.Errorf("client to server: %q, want %q", b, want)
	}
	if srcs := dataSrcs(s); len(srcs) != 1 || !srcs[client] {
		t.Errorf("data from %v, want from the client %s only", srcs, client)
	}
	if ipc := s.segs[len(s.segs)-1].IPC; ipc == nil || ipc.ClientPID != cmd.Process.Pid {
		t.Errorf("IPC = %+v, want client pid %d (the child's)", ipc, cmd.Process.Pid)
	}
}

// TestLiveOpenBefore: a connection made and used before the capture began
// is joined: no handshake, numbering from the first byte seen, nothing of
// what was sent before, both directions, and its end.
func TestLiveOpenBefore(t *testing.T) { eachMechanism(t, testLiveOpenBefore) }

func testLiveOpenBefore(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fd, srv := connect(t, ln, path)
	defer srv.Close()
	unix.Write(fd, []byte("before the capture"))
	io.ReadFull(srv, make([]byte, len("before the capture")))
	srv.Write([]byte("reply before"))
	unix.Read(fd, make([]byte, 64))

	c := openLive(t, Config{Paths: []string{path}, Mechanism: mech})
	unix.Write(fd, []byte("after"))
	io.ReadFull(srv, make([]byte, len("after")))
	srv.Write([]byte("reply after"))
	unix.Read(fd, make([]byte, 64))
	unix.Close(fd)
	srv.Close()
	s := collect(t, c, 6*time.Second, func(s *streams) bool {
		fins := 0
		for _, f := range s.flags {
			if hasFIN(f) {
				fins++
			}
		}
		return fins == 2
	})
	var payloads []string
	for _, seg := range s.segs {
		if seg.Has(segment.SYN) {
			t.Errorf("a SYN for a connection made before the capture: %+v", seg)
		}
	}
	for src, m := range s.data {
		for seq, b := range m {
			payloads = append(payloads, string(b))
			if seq != 1 {
				t.Errorf("%s: %q at sequence %d, want 1 (the first byte seen)", src, b, seq)
			}
		}
	}
	if strings.Join(payloads, "|") != "after|reply after" && strings.Join(payloads, "|") != "reply after|after" {
		t.Errorf("payloads %q, want only what was sent after Open", payloads)
	}
	for src, f := range s.flags {
		if !hasFIN(f) {
			t.Errorf("no FIN from %s", src)
		}
	}
}

// TestLiveCloseDetection: each end's close is reported (a FIN from it)
// within 2 s, the other direction staying open until its own close.
func TestLiveCloseDetection(t *testing.T) { eachMechanism(t, testLiveCloseDetection) }

func testLiveCloseDetection(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := openLive(t, Config{Paths: []string{path}, Mechanism: mech})
	fd, srv := connect(t, ln, path)
	defer srv.Close()
	unix.Write(fd, []byte("hello"))
	io.ReadFull(srv, make([]byte, 5))
	srv.Write([]byte("world"))
	unix.Read(fd, make([]byte, 5))

	var client, server string
	s := newStreams()
	read := func(limit time.Duration, done func() bool) {
		var seg segment.Segment
		for end := time.Now().Add(limit); time.Now().Before(end) && !done(); {
			err := c.Read(&seg, time.Now().Add(50*time.Millisecond))
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			s.add(&seg)
			if client == "" {
				client, server = ends(s)
			}
		}
	}
	read(3*time.Second, func() bool { return client != "" && len(s.data[server]) > 0 })
	if client == "" {
		t.Fatal("no handshake")
	}
	closed := time.Now()
	unix.Close(fd)
	read(3*time.Second, func() bool { return hasFIN(s.flags[client]) })
	if d := time.Since(closed); !hasFIN(s.flags[client]) || d > 2*time.Second {
		t.Fatalf("client's close: FIN %v after %v, want one within 2s", hasFIN(s.flags[client]), d)
	}
	// The server end is open still: no FIN from it.
	read(1500*time.Millisecond, func() bool { return hasFIN(s.flags[server]) })
	if hasFIN(s.flags[server]) {
		t.Fatal("a FIN from the server end before it closed")
	}
	closed = time.Now()
	srv.Close()
	read(3*time.Second, func() bool { return hasFIN(s.flags[server]) })
	if d := time.Since(closed); !hasFIN(s.flags[server]) || d > 2*time.Second {
		t.Fatalf("server's close: FIN %v after %v, want one within 2s", hasFIN(s.flags[server]), d)
	}
}

// TestLivePeek: a receiver that peeks (MSG_PEEK) before reading sees each
// byte twice; the capture has it once.
func TestLivePeek(t *testing.T) { eachMechanism(t, testLivePeek) }

func testLivePeek(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := openLive(t, Config{Paths: []string{path}, Mechanism: mech})
	fd := dialRaw(t, path)
	sfd, _, err := unix.Accept(mustFD(t, ln))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("peeked then read")
	unix.Write(fd, msg)
	buf := make([]byte, 64)
	if n, _, err := unix.Recvfrom(sfd, buf, unix.MSG_PEEK); err != nil || n != len(msg) {
		t.Fatalf("peek = %d, %v", n, err)
	}
	if n, err := unix.Read(sfd, buf); err != nil || n != len(msg) {
		t.Fatalf("read = %d, %v", n, err)
	}
	unix.Close(fd)
	unix.Close(sfd)
	var client string
	s := collect(t, c, 5*time.Second, func(s *streams) bool {
		client, _ = ends(s)
		return client != "" && hasFIN(s.flags[client])
	})
	total := 0
	for _, seg := range s.segs {
		total += seg.PayloadLen
	}
	if b := s.bytes(client, 1); !bytes.Equal(b, msg) || total != len(msg) {
		t.Errorf("captured %q (%d payload bytes in all), want %q once", b, total, msg)
	}
}

// mustFD returns ln's descriptor.
func mustFD(t *testing.T, ln net.Listener) int {
	t.Helper()
	raw, err := ln.(*net.UnixListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// TestLiveUnrelatedTCP: a TCP connection over lo produces nothing.
func TestLiveUnrelatedTCP(t *testing.T) { eachMechanism(t, testLiveUnrelatedTCP) }

func testLiveUnrelatedTCP(t *testing.T, mech Mechanism) {
	c := openLive(t, Config{Paths: []string{filepath.Join(t.TempDir(), "*.ipc")}, Mechanism: mech})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		b, _ := io.ReadAll(s)
		s.Close()
		got <- len(b)
	}()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		cl.Write([]byte("unrelated tcp"))
	}
	cl.Close()
	if n := <-got; n != 1300 {
		t.Fatalf("the TCP peer received %d bytes", n)
	}
	s := collect(t, c, 1200*time.Millisecond, func(*streams) bool { return false })
	if len(s.segs) != 0 || c.Stats().Records != 0 {
		t.Errorf("%d segments, %+v from TCP, want none", len(s.segs), c.Stats())
	}
}

// mmsghdr is struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [4]byte
}

// TestLiveBTFOtherSender: bytes sent by a call whose buffer the BTF
// mechanism cannot find (sendmmsg) are a gap, counted, and never other
// bytes; what is sent after is captured at its true offset.
func TestLiveBTFOtherSender(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	got := listen(t, path)
	c := openLive(t, Config{Paths: []string{path}, Mechanism: MechanismBTF})
	fd := dialRaw(t, path)
	unix.Write(fd, []byte("first,"))
	hidden := []byte("sent by sendmmsg,")
	iov := unix.Iovec{Base: &hidden[0]}
	iov.SetLen(len(hidden))
	var m mmsghdr
	m.hdr.Iov = &iov
	m.hdr.SetIovlen(1)
	if n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&m)), 1, 0, 0, 0); errno != 0 || n != 1 || int(m.n) != len(hidden) {
		t.Fatalf("sendmmsg = %d (%d bytes), %v", n, m.n, errno)
	}
	unix.Write(fd, []byte("last"))
	unix.Close(fd)
	if b := <-got; string(b) != "first,sent by sendmmsg,last" {
		t.Fatalf("the server received %q", b)
	}
	var client string
	var last *segment.Segment
	s := collect(t, c, 5*time.Second, func(s *streams) bool {
		client, _ = ends(s)
		return client != "" && hasFIN(s.flags[client])
	})
	for i := range s.segs {
		if s.segs[i].PayloadLen == len("last") {
			last = &s.segs[i]
		}
	}
	if b := string(s.bytes(client, 1)); b != "first," {
		t.Errorf("contiguous from the start: %q, want \"first,\"", b)
	}
	if last == nil || last.Seq != uint32(1+len("first,")+len(hidden)) || last.KernelLost == 0 {
		t.Errorf("after the gap: %+v, want seq %d and KernelLost > 0", last, 1+len("first,")+len(hidden))
	}
	if b := string(s.bytes(client, last.Seq)); b != "last" {
		t.Errorf("after the gap: %q", b)
	}
	if st := c.Stats(); st.Other != uint64(len(hidden)) {
		t.Errorf("Stats = %+v, want Other %d", st, len(hidden))
	}
}

// TestLiveBoundLater: a socket bound after Open, its connection used at
// once (before the path is resolved: not seen) and again after the next
// resolution: the later bytes are captured, joined mid-stream (the
// syscall mechanism's cached verdict "not ours" is voided by the new path).
func TestLiveBoundLater(t *testing.T) { eachMechanism(t, testLiveBoundLater) }

func testLiveBoundLater(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "late.ipc")
	c := openLive(t, Config{Paths: []string{filepath.Join(dir, "*.ipc")}, Mechanism: mech})
	got := listen(t, path)
	fd := dialRaw(t, path)
	for i := 0; i < 10; i++ {
		unix.Write(fd, []byte("early,"))
	}
	// Past the next resolution of the globs (every second).
	collect(t, c, 1500*time.Millisecond, func(*streams) bool { return false })
	unix.Write(fd, []byte("late"))
	unix.Close(fd)
	if b := <-got; len(b) != 64 {
		t.Fatalf("the server received %d bytes", len(b))
	}
	s := collect(t, c, 5*time.Second, func(s *streams) bool {
		for _, m := range s.data {
			for _, b := range m {
				if string(b) == "late" {
					return true
				}
			}
		}
		return false
	})
	var payloads []string
	for _, m := range s.data {
		for _, b := range m {
			payloads = append(payloads, string(b))
		}
	}
	if len(payloads) != 1 || payloads[0] != "late" {
		t.Errorf("payloads %q, want only \"late\"", payloads)
	}
}
