package unixcap

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/segment"
)

// TestLiveWakeAndSweep: at a capture's end, Wake cuts a waiting Read short
// (it would wait for its deadline otherwise), and Sweep ends the
// connections whose sockets closed at once, without the once-a-second
// housekeeping (MechanismBTF; the other has close records): their FINs
// come from the next Reads.
func TestLiveWakeAndSweep(t *testing.T) { eachMechanism(t, testLiveWakeAndSweep) }

func testLiveWakeAndSweep(t *testing.T, mech Mechanism) {
	path := filepath.Join(t.TempDir(), "x.ipc")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := openLive(t, Config{Paths: []string{path}, Mechanism: mech})
	fd, srv := connect(t, ln, path)
	unix.Write(fd, []byte("hello"))
	io.ReadFull(srv, make([]byte, 5))
	s := collect(t, c, 3*time.Second, func(s *streams) bool { return len(dataSrcs(s)) > 0 })
	if len(dataSrcs(s)) == 0 {
		t.Fatal("no data captured")
	}
	client, server := ends(s)
	if client == "" {
		t.Fatal("no handshake")
	}

	res := make(chan error, 1)
	go func() {
		var seg segment.Segment
		res <- c.Read(&seg, time.Now().Add(time.Minute))
	}()
	time.Sleep(50 * time.Millisecond)
	c.Wake()
	select {
	case err := <-res:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a woken Read returned %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Wake did not end a waiting Read")
	}

	// No housekeeping from here on but Sweep's.
	c.st.nextTick = time.Now().Add(time.Hour)
	unix.Close(fd)
	srv.Close()

	c.Sweep()
	var seg segment.Segment
	for {
		err := c.Read(&seg, time.Now())
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		s.add(&seg)
	}
	if !hasFIN(s.flags[client]) || !hasFIN(s.flags[server]) {
		t.Fatalf("after Sweep: client flags %v, server flags %v; want a FIN from each", s.flags[client], s.flags[server])
	}
}
