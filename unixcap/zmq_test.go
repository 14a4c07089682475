package unixcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/skip"
	"github.com/zmtpdump/zmtpdump/segment"
)

// zmqpeer builds the libzmq test peer (testpeers/zmqpeer, cgo on
// libzmq3-dev, which make deps installs) and returns its path; it skips
// where it cannot be built.
func zmqpeer(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "zmqpeer")
	cmd := exec.Command("go", "build", "-o", out, "../testpeers/zmqpeer")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		skip.Unavailable(t, "build testpeers/zmqpeer (gcc, libzmq3-dev: make deps): %v\n%s", err, msg)
	}
	return out
}

// frames splits a ZMTP 3 stream after its 64-byte greeting into frames:
// their flags and body lengths.
func frames(b []byte) (flags []byte, sizes []int, err error) {
	if len(b) < 64 || b[0] != 0xff || b[9] != 0x7f {
		return nil, nil, fmt.Errorf("no greeting in %d bytes", len(b))
	}
	b = b[64:]
	for len(b) > 0 {
		f := b[0]
		var n int
		if f&2 != 0 {
			if len(b) < 9 {
				return flags, sizes, fmt.Errorf("truncated long frame header")
			}
			n, b = int(binary.BigEndian.Uint64(b[1:9])), b[9:]
		} else {
			if len(b) < 2 {
				return flags, sizes, fmt.Errorf("truncated frame header")
			}
			n, b = int(b[1]), b[2:]
		}
		if n > len(b) {
			return flags, sizes, fmt.Errorf("frame of %d bytes, %d left", n, len(b))
		}
		flags, sizes, b = append(flags, f), append(sizes, n), b[n:]
	}
	return flags, sizes, nil
}

// TestLiveZMQPushPull: libzmq PUSH connects to a PULL bound at an ipc://
// path and sends three two-frame messages of 1 MiB bodies; the capture has
// both streams byte-exact (every frame, in order) and both processes.
func TestLiveZMQPushPull(t *testing.T) { eachMechanism(t, testLiveZMQPushPull) }

func testLiveZMQPushPull(t *testing.T, mech Mechanism) {
	peer := zmqpeer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "pp.ipc")
	ep := "ipc://" + path
	pull := exec.Command(peer, "-type", "pull", "-bind", ep, "-count", "3", "-timeout", "20s")
	pull.Stderr = os.Stderr
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	defer pull.Process.Kill()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(path); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := openLive(t, Config{Paths: []string{filepath.Join(dir, "*.ipc")}, Mechanism: mech})
	push := exec.Command(peer, "-type", "push", "-connect", ep, "-count", "3", "-size", "1048576", "-multipart")
	push.Stderr = os.Stderr
	if err := push.Run(); err != nil {
		t.Fatalf("push: %v", err)
	}
	if err := pull.Wait(); err != nil {
		t.Fatalf("pull: %v", err)
	}
	var client, server string
	s := collect(t, c, 10*time.Second, func(s *streams) bool {
		for _, seg := range s.segs {
			if seg.Has(segment.SYN) && !seg.Has(segment.ACK) {
				client, server = seg.Src.String(), seg.Dst.String()
			}
		}
		return client != "" && hasFIN(s.flags[client]) && hasFIN(s.flags[server])
	})
	if client == "" {
		t.Fatalf("no handshake among %d segments", len(s.segs))
	}
	fl, sizes, err := frames(s.bytes(client, 1))
	if err != nil {
		t.Fatalf("client to server: %v", err)
	}
	// READY, then hello (MORE) and the body, three times.
	wantFlags := []byte{0x04, 0x01, 0x02, 0x01, 0x02, 0x01, 0x02}
	if !bytes.Equal(fl, wantFlags) || sizes[2] != 1<<20 || sizes[4] != 1<<20 || sizes[6] != 1<<20 || sizes[1] != 5 {
		t.Errorf("client to server frames: flags %x sizes %v, want flags %x with 1 MiB bodies", fl, sizes, wantFlags)
	}
	body := s.bytes(client, 1)
	if !bytes.Contains(body, bytes.Repeat([]byte("x"), 1<<20)) {
		t.Error("a 1 MiB body is not exact")
	}
	if fl, _, err := frames(s.bytes(server, 1)); err != nil || !bytes.Equal(fl, []byte{0x04}) {
		t.Errorf("server to client: frames %x %v, want its READY", fl, err)
	}
	ipc := s.segs[len(s.segs)-1].IPC
	if ipc.ClientPID != push.Process.Pid || ipc.ServerPID != pull.Process.Pid || ipc.ClientComm != "zmqpeer" || ipc.ServerComm != "zmqpeer" || ipc.Path != path {
		t.Errorf("IPC = %+v, want push %d and pull %d (zmqpeer) at %s", ipc, push.Process.Pid, pull.Process.Pid, path)
	}
	if st := c.Stats(); st.Lost != 0 || st.Cut != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestLiveZMQReqRep: libzmq REQ/REP over ipc://, three round trips: each
// direction's frames exact (READY, then empty delimiter and body per
// message), both ends named.
func TestLiveZMQReqRep(t *testing.T) { eachMechanism(t, testLiveZMQReqRep) }

func testLiveZMQReqRep(t *testing.T, mech Mechanism) {
	peer := zmqpeer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rr.ipc")
	ep := "ipc://" + path
	rep := exec.Command(peer, "-type", "rep", "-bind", ep, "-count", "3", "-timeout", "20s")
	rep.Stderr = os.Stderr
	if err := rep.Start(); err != nil {
		t.Fatal(err)
	}
	defer rep.Process.Kill()
	for i := 0; i < 100 && !exists(path); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	c := openLive(t, Config{Paths: []string{path}, Mechanism: mech})
	req := exec.Command(peer, "-type", "req", "-connect", ep, "-count", "3")
	req.Stderr = os.Stderr
	if err := req.Run(); err != nil {
		t.Fatalf("req: %v", err)
	}
	if err := rep.Wait(); err != nil {
		t.Fatalf("rep: %v", err)
	}
	var client, server string
	s := collect(t, c, 10*time.Second, func(s *streams) bool {
		for _, seg := range s.segs {
			if seg.Has(segment.SYN) && !seg.Has(segment.ACK) {
				client, server = seg.Src.String(), seg.Dst.String()
			}
		}
		return client != "" && hasFIN(s.flags[client]) && hasFIN(s.flags[server])
	})
	want := []byte{0x04, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00}
	for _, dir := range []string{client, server} {
		fl, sizes, err := frames(s.bytes(dir, 1))
		if err != nil || !bytes.Equal(fl, want) || sizes[1] != 0 {
			t.Errorf("%s: frames %x %v %v, want %x (READY, then delimiter and body three times)", dir, fl, sizes, err, want)
		}
	}
	ipc := s.segs[len(s.segs)-1].IPC
	if ipc.ClientPID != req.Process.Pid || ipc.ServerPID != rep.Process.Pid {
		t.Errorf("IPC = %+v, want req %d, rep %d", ipc, req.Process.Pid, rep.Process.Pid)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
