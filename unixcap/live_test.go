package unixcap

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/internal/skip"
	"github.com/zmtpdump/zmtpdump/segment"
)

// openLive opens a capture of paths, or skips when it cannot run here.
func openLive(t *testing.T, cfg Config) *Capture {
	t.Helper()
	if os.Geteuid() != 0 {
		skip.Unavailable(t, "ipc capture needs root")
	}
	c, err := Open(cfg)
	if err != nil {
		skip.Unavailable(t, "ipc capture: %v", err)
	}
	if cfg.Mechanism != MechanismAuto && c.Mechanism() != cfg.Mechanism {
		t.Fatalf("Mechanism() = %q, want %q", c.Mechanism(), cfg.Mechanism)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// streams is what a capture showed: per sending address, the payload by
// sequence number, and the flags seen.
type streams struct {
	data  map[string]map[uint32][]byte
	flags map[string][]uint8
	segs  []segment.Segment
}

func newStreams() *streams {
	return &streams{data: map[string]map[uint32][]byte{}, flags: map[string][]uint8{}}
}

func (s *streams) add(seg *segment.Segment) {
	k := seg.Src.String()
	if s.data[k] == nil {
		s.data[k] = map[uint32][]byte{}
	}
	if len(seg.Payload) > 0 {
		s.data[k][seg.Seq] = append([]byte(nil), seg.Payload...)
	}
	s.flags[k] = append(s.flags[k], seg.Flags)
	cp := *seg
	cp.Payload = nil
	s.segs = append(s.segs, cp)
}

// bytes returns the contiguous stream src sent from sequence number from.
func (s *streams) bytes(src string, from uint32) []byte {
	var out []byte
	m := s.data[src]
	seqs := make([]uint32, 0, len(m))
	for q := range m {
		seqs = append(seqs, q)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	next := from
	for _, q := range seqs {
		if q != next {
			continue
		}
		out = append(out, m[q]...)
		next += uint32(len(m[q]))
	}
	return out
}

// collect reads segments until done reports true or limit passes.
func collect(t *testing.T, c *Capture, limit time.Duration, done func(*streams) bool) *streams {
	t.Helper()
	s := newStreams()
	end := time.Now().Add(limit)
	var seg segment.Segment
	for time.Now().Before(end) && !done(s) {
		err := c.Read(&seg, time.Now().Add(100*time.Millisecond))
		if err == os.ErrDeadlineExceeded {
			continue
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		s.add(&seg)
	}
	return s
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLiveWritevMiB sends 1 MiB with writev of several iovecs (partial
// sends: the socket buffer is smaller) and a reply with write; both
// arrive byte-exact, after a synthesized handshake, named by process.
func TestLiveWritevMiB(t *testing.T) { eachMechanism(t, testLiveWritevMiB) }

func testLiveWritevMiB(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := openLive(t, Config{Paths: []string{filepath.Join(dir, "*.ipc")}, Mechanism: mech})

	msg := random(t, 1<<20)
	reply := []byte("thanks")
	got := make(chan []byte, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer s.Close()
		b := make([]byte, len(msg))
		io.ReadFull(s, b)
		s.Write(reply)
		got <- b
	}()
	cl, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	bufs := net.Buffers{msg[:100], msg[100 : 300<<10], msg[300<<10 : 301<<10], msg[301<<10:]}
	if _, err := bufs.WriteTo(cl); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, msg) {
		t.Fatal("the peer did not receive the message")
	}
	io.ReadFull(cl, make([]byte, len(reply)))
	cl.Close()

	var client, server string
	s := collect(t, c, 10*time.Second, func(s *streams) bool {
		for _, seg := range s.segs {
			if seg.Has(segment.SYN) && !seg.Has(segment.ACK) {
				client, server = seg.Src.String(), seg.Dst.String()
			}
		}
		return client != "" && len(s.bytes(client, 1)) == len(msg) && len(s.bytes(server, 1)) == len(reply) && hasFIN(s.flags[client])
	})
	if client == "" {
		t.Fatalf("no SYN among %d segments", len(s.segs))
	}
	if b := s.bytes(client, 1); !bytes.Equal(b, msg) {
		t.Errorf("client to server: %d bytes captured, want the %d sent, exact", len(b), len(msg))
	}
	if b := s.bytes(server, 1); !bytes.Equal(b, reply) {
		t.Errorf("server to client: %q, want %q", b, reply)
	}
	if !hasFIN(s.flags[client]) {
		t.Error("no FIN from the client after its close")
	}
	ipc := s.segs[len(s.segs)-1].IPC
	if ipc == nil || ipc.Path != path || ipc.ClientPID != os.Getpid() || ipc.ServerPID != os.Getpid() || ipc.ClientInode == 0 || ipc.ServerInode == 0 {
		t.Errorf("IPC = %+v, want path %s and pid %d at both ends", ipc, path, os.Getpid())
	}
	if st := c.Stats(); st.Lost != 0 || st.Cut != 0 {
		t.Errorf("Stats = %+v, want nothing lost", st)
	}
}

func hasFIN(flags []uint8) bool {
	for _, f := range flags {
		if f&segment.FIN != 0 {
			return true
		}
	}
	return false
}

// listen binds a Unix stream socket at path and accepts one connection
// in the background, reading everything it is sent into the returned
// channel's value.
func listen(t *testing.T, path string) <-chan []byte {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan []byte, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer s.Close()
		b, _ := io.ReadAll(s)
		got <- b
	}()
	return got
}

// dialRaw connects a plain socket descriptor to path.
func dialRaw(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestLiveUnrelated: Unix stream sockets at other paths, and unbound
// pairs, produce nothing.
func TestLiveUnrelated(t *testing.T) { eachMechanism(t, testLiveUnrelated) }

func testLiveUnrelated(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	got := listen(t, filepath.Join(dir, "other.sock"))
	c := openLive(t, Config{Paths: []string{filepath.Join(dir, "*.ipc")}, Mechanism: mech})
	fd := dialRaw(t, filepath.Join(dir, "other.sock"))
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		unix.Write(fd, []byte("unrelated"))
		unix.Write(pair[0], []byte("unrelated"))
		unix.Read(pair[1], make([]byte, 64))
	}
	unix.Close(fd)
	unix.Close(pair[0])
	unix.Close(pair[1])
	if b := <-got; len(b) != 900 {
		t.Fatalf("the peer received %d bytes", len(b))
	}
	s := collect(t, c, 1500*time.Millisecond, func(*streams) bool { return false })
	if len(s.segs) != 0 || c.Stats().Records != 0 {
		t.Errorf("%d segments, %+v from unrelated sockets, want none", len(s.segs), c.Stats())
	}
}

// TestLivePassedDescriptor: a client socket passed to another process
// (SCM_RIGHTS) and closed by its first owner keeps its connection open,
// and what the other process sends on it is named after that process.
func TestLivePassedDescriptor(t *testing.T) { eachMechanism(t, testLivePassedDescriptor) }

func testLivePassedDescriptor(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	got := listen(t, path)
	c := openLive(t, Config{Paths: []string{path}, Mechanism: mech})
	fd := dialRaw(t, path)
	if _, err := unix.Write(fd, []byte("from the parent")); err != nil {
		t.Fatal(err)
	}
	child := passFD(t, fd, true)
	if b := <-got; string(b) != "from the parentfrom the child" {
		t.Fatalf("the server received %q", b)
	}
	var client string
	s := collect(t, c, 6*time.Second, func(s *streams) bool {
		for _, seg := range s.segs {
			if seg.Has(segment.SYN) && !seg.Has(segment.ACK) {
				client = seg.Src.String()
			}
		}
		return client != "" && hasFIN(s.flags[client])
	})
	if b := string(s.bytes(client, 1)); b != "from the parentfrom the child" {
		t.Errorf("client to server: %q", b)
	}
	// The parent's close left the child's descriptor: no FIN before the
	// child's data.
	sawChild := false
	for _, seg := range s.segs {
		if seg.Src.String() != client {
			continue
		}
		if seg.Has(segment.FIN) && !sawChild {
			t.Error("a FIN before the child's data: the parent's close ended the connection")
		}
		if seg.PayloadLen == len("from the child") {
			sawChild = true
		}
	}
	if !hasFIN(s.flags[client]) {
		t.Error("no FIN after the child exited")
	}
	if ipc := s.segs[len(s.segs)-1].IPC; ipc == nil || ipc.ClientPID != child {
		t.Errorf("IPC = %+v, want client pid %d (the child's)", ipc, child)
	}
}

// TestLiveRingOverflow: a send larger than a small ring holds loses
// records, counted, a gap the segments show (KernelLost), and later sends
// are captured.
func TestLiveRingOverflow(t *testing.T) { eachMechanism(t, testLiveRingOverflow) }

func testLiveRingOverflow(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	got := listen(t, path)
	c := openLive(t, Config{Paths: []string{path}, RingSize: 256 << 10, Mechanism: mech})
	fd := dialRaw(t, path)
	big := random(t, 1<<20)
	for off := 0; off < len(big); {
		n, err := unix.Write(fd, big[off:])
		if err != nil {
			t.Fatal(err)
		}
		off += n
	}
	// Let the ring fill before reading it, then a later message.
	time.Sleep(200 * time.Millisecond)
	if _, err := unix.Write(fd, []byte("after the loss")); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	if b := <-got; len(b) != len(big)+len("after the loss") {
		t.Fatalf("the server received %d bytes", len(b))
	}
	var last *segment.Segment
	collect(t, c, 5*time.Second, func(s *streams) bool {
		for i := range s.segs {
			if s.segs[i].PayloadLen == len("after the loss") {
				last = &s.segs[i]
			}
		}
		return last != nil
	})
	st := c.Stats()
	if st.Lost == 0 {
		t.Errorf("Stats = %+v, want records lost", st)
	}
	if last == nil {
		t.Fatal("the message after the loss was not captured")
	}
	if last.KernelLost == 0 || last.Seq != uint32(1+len(big)) {
		t.Errorf("after the loss: KernelLost %d, Seq %d, want > 0 and %d", last.KernelLost, last.Seq, 1+len(big))
	}
	t.Logf("ring 256 KiB, 1 MiB sent at once: %+v", st)
}

// progIDs returns the ids of c's programs.
func progIDs(t *testing.T, c *Capture) []uint32 {
	var ids []uint32
	for _, p := range c.st.k.progs {
		info, err := p.Info()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := info.ID()
		ids = append(ids, uint32(id))
	}
	return ids
}

// waitGone waits until no program of ids exists.
func waitGone(t *testing.T, ids []uint32) {
	t.Helper()
	end := time.Now().Add(5 * time.Second)
	for {
		left := 0
		for _, id := range ids {
			if p, err := ebpf.NewProgramFromID(ebpf.ProgramID(id)); err == nil {
				p.Close()
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%d of %d programs still loaded", left, len(ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLiveNothingLeft: after Close, and after SIGKILL of a process that
// had attached, none of the programs remains (nothing is pinned; the
// attachments are file descriptors).
func TestLiveNothingLeft(t *testing.T) { eachMechanism(t, testLiveNothingLeft) }

func testLiveNothingLeft(t *testing.T, mech Mechanism) {
	if os.Geteuid() != 0 {
		skip.Unavailable(t, "ipc capture needs root")
	}
	c, err := Open(Config{Paths: []string{"/nonexistent/*.ipc"}, Mechanism: mech})
	if err != nil {
		skip.Unavailable(t, "ipc capture: %v", err)
	}
	ids := progIDs(t, c)
	n := len(c.st.k.progs)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ids)

	cmd, ids := startAttacher(t, mech)
	if len(ids) != n {
		t.Fatalf("child's programs: %v, want %d", ids, n)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitGone(t, ids)
}

// TestLivePartialSendmsg: a sendmsg of several iovecs on a non-blocking
// socket whose peer does not read is partial; exactly the bytes the kernel
// took are captured, nothing of the rest.
func TestLivePartialSendmsg(t *testing.T) { eachMechanism(t, testLivePartialSendmsg) }

func testLivePartialSendmsg(t *testing.T, mech Mechanism) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.ipc")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := openLive(t, Config{Paths: []string{path}, Mechanism: mech})
	fd := dialRaw(t, path)
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	unix.SetNonblock(fd, true)
	msg := random(t, 1<<20)
	n, err := unix.SendmsgBuffers(fd, [][]byte{msg[:10], msg[10:70000], msg[70000:]}, nil, nil, 0)
	if err != nil || n <= 0 || n >= len(msg) {
		t.Fatalf("sendmsg = %d, %v: want a partial send", n, err)
	}
	unix.Close(fd)
	got, _ := io.ReadAll(srv)
	if !bytes.Equal(got, msg[:n]) {
		t.Fatalf("the peer received %d bytes, want the %d sent", len(got), n)
	}
	var client string
	s := collect(t, c, 5*time.Second, func(s *streams) bool {
		for _, seg := range s.segs {
			if seg.Has(segment.SYN) && !seg.Has(segment.ACK) {
				client = seg.Src.String()
			}
		}
		return client != "" && hasFIN(s.flags[client])
	})
	total := 0
	for _, b := range s.data[client] {
		total += len(b)
	}
	if b := s.bytes(client, 1); !bytes.Equal(b, msg[:n]) || total != n {
		t.Errorf("captured %d bytes (%d contiguous), want exactly the %d of the partial send", total, len(b), n)
	}
	t.Logf("sendmsg of %d bytes in 3 iovecs took %d", len(msg), n)
}
