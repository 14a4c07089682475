package unixcap

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/segment"
)

func TestHeaderLayout(t *testing.T) {
	if n := unsafe.Sizeof(bpf.IpcRecHdr{}); n != hdrLen {
		t.Fatalf("struct rec_hdr is %d bytes, hdrLen %d", n, hdrLen)
	}
	r := record{TsNs: 1, Offset: 2, CgroupID: 3, Lost: 4, Sk: 5, Peer: 6, Ino: 7, PeerIno: 8,
		Path: pathKey{Ino: 9, Dev: 10}, Netns: 11, Server: true, Tgid: 12, Type: recData, Comm: "zmqpeer"}
	got, data, err := decode(encode(r, []byte("abc")))
	r.Len = 3
	if err != nil || got != r || string(data) != "abc" {
		t.Fatalf("decode(encode) = %+v %q %v, want %+v", got, data, err, r)
	}
	if _, _, err := decode(make([]byte, hdrLen-1)); err == nil {
		t.Error("a short record decoded")
	}
}

// conversation builds records of one connection: client sock 0xc1 (inode
// 101) and server sock 0x51 (inode 201), path inode 9.
type conversation struct {
	t  *tracker
	ts uint64
}

func (cv *conversation) rec(typ uint8, server bool, offset uint64, data string, peerKnown bool) {
	r := record{Type: typ, Server: server, Offset: offset, Path: pathKey{Ino: 9, Dev: 1}, Netns: 1}
	cv.ts += 1000
	r.TsNs = cv.ts
	if server {
		r.Sk, r.Peer, r.Ino, r.PeerIno, r.Tgid, r.Comm = 0x51, 0xc1, 201, 101, 20, "server"
	} else {
		r.Sk, r.Peer, r.Ino, r.Tgid, r.Comm = 0xc1, 0x51, 101, 10, "client"
		if peerKnown {
			r.PeerIno = 201
		}
	}
	cv.t.add(r, []byte(data), time.Unix(0, 0))
}

func TestTrackerHandshakeAndData(t *testing.T) {
	cv := &conversation{t: newTracker(time.Unix(100, 0))}
	cv.t.paths[pathKey{Ino: 9, Dev: 1}] = "/run/x.ipc"
	// libzmq's order: the client connects and sends its greeting before
	// the server accepted: held until the accept names the server end.
	cv.rec(recConnect, false, 0, "", false)
	cv.rec(recData, false, 0, "\xff\x00\x00", false)
	if len(cv.t.queue) != 0 {
		t.Fatalf("%d segments before the server end is known", len(cv.t.queue))
	}
	cv.rec(recAccept, true, 0, "", false)
	cv.rec(recData, true, 0, "greeting", false)
	cv.rec(recData, false, 3, "more", false)
	cv.rec(recClose, false, 7, "", false)
	cv.rec(recClose, true, 8, "", false)
	c, s := segment.IPCAddr(101, false), segment.IPCAddr(201, true)
	want := []struct {
		src      string
		seq, ack uint32
		flags    uint8
		payload  string
	}{
		{c.String(), 0, 0, segment.SYN, ""},
		{s.String(), 0, 1, segment.SYN | segment.ACK, ""},
		{c.String(), 1, 1, segment.ACK, ""},
		{c.String(), 1, 1, segment.PSH | segment.ACK, "\xff\x00\x00"},
		{s.String(), 1, 4, segment.PSH | segment.ACK, "greeting"},
		{c.String(), 4, 9, segment.PSH | segment.ACK, "more"},
		{c.String(), 8, 9, segment.FIN | segment.ACK, ""},
		{s.String(), 9, 9, segment.FIN | segment.ACK, ""},
	}
	q := cv.t.queue
	if len(q) != len(want) {
		t.Fatalf("%d segments, want %d", len(q), len(want))
	}
	for i, w := range want {
		g := q[i]
		if g.Src.String() != w.src || g.Seq != w.seq || g.Ack != w.ack || g.Flags != w.flags || string(g.Payload) != w.payload || g.PayloadLen != len(w.payload) {
			t.Errorf("segment %d: %v seq %d ack %d %s %q, want %s seq %d ack %d %s %q", i, g.Src, g.Seq, g.Ack,
				segment.FlagString(g.Flags), g.Payload, w.src, w.seq, w.ack, segment.FlagString(w.flags), w.payload)
		}
		if g.KernelLost != 0 || g.IPC != q[0].IPC {
			t.Errorf("segment %d: KernelLost %d, IPC not shared", i, g.KernelLost)
		}
	}
	ipc := q[0].IPC
	if *ipc != (segment.IPC{Path: "/run/x.ipc", ClientPID: 10, ServerPID: 20, ClientComm: "client", ServerComm: "server", ClientInode: 101, ServerInode: 201}) {
		t.Errorf("IPC = %+v", *ipc)
	}
	if len(cv.t.conns) != 0 {
		t.Error("a connection closed both ways is still followed")
	}
}

func TestTrackerMidStreamAndGap(t *testing.T) {
	cv := &conversation{t: newTracker(time.Unix(100, 0))}
	// Open before the capture: no handshake, numbering from the first
	// offset seen; a jump in offsets is a gap (KernelLost grows).
	cv.rec(recData, false, 1000, "abc", true)
	cv.rec(recData, false, 2000, "def", true)
	q := cv.t.queue
	if len(q) != 2 || q[0].Has(segment.SYN) || q[0].Seq != 1001 || q[1].Seq != 2001 {
		t.Fatalf("segments %+v", q)
	}
	if q[0].KernelLost != 0 || q[1].KernelLost != 1 {
		t.Errorf("KernelLost %d then %d, want 0 then 1", q[0].KernelLost, q[1].KernelLost)
	}
}

func TestTrackerExpireAndReap(t *testing.T) {
	cv := &conversation{t: newTracker(time.Unix(100, 0))}
	cv.rec(recConnect, false, 0, "", false)
	cv.rec(recData, false, 0, "hello", false)
	cv.t.expire(time.Unix(0, 0).Add(pendingWait))
	q := cv.t.queue
	if len(q) != 4 || string(q[3].Payload) != "hello" {
		t.Fatalf("after the wait: %d segments", len(q))
	}
	srv, _, _ := segment.IsIPCAddr(q[1].Src)
	if srv < 1<<63 {
		t.Errorf("stand-in inode %d", srv)
	}
	cv.t.queue = nil
	cv.t.reap(time.Unix(1, 0), func(c *conn, inode uint64) bool { return true })
	if len(cv.t.queue) != 2 || !cv.t.queue[0].Has(segment.FIN) || cv.t.queue[0].Seq != 6 || len(cv.t.conns) != 0 {
		t.Errorf("reaped: %+v", cv.t.queue)
	}
}

func TestTrackerSocksReused(t *testing.T) {
	// libzmq reconnects at once; the kernel may hand the new connection
	// the freed socks before the once-a-second check saw the old sockets
	// go. New inodes on the same socks: the old connection ends (FINs)
	// and the new one starts its own stream, from offset 0.
	tr := newTracker(time.Unix(100, 0))
	send := func(ino, peerIno, offset uint64, data string) {
		tr.add(record{Type: recData, Sk: 0xc1, Peer: 0x51, Ino: ino, PeerIno: peerIno,
			Offset: offset, Path: pathKey{Ino: 9, Dev: 1}, Tgid: 10, Comm: "client"}, []byte(data), time.Unix(0, 0))
	}
	send(101, 201, 0, "first")
	send(101, 201, 5, "again")
	send(102, 202, 0, "second")
	q := tr.queue
	if len(q) != 5 {
		t.Fatalf("%d segments, want 2 data, 2 FINs, 1 data: %+v", len(q), q)
	}
	if !q[2].Has(segment.FIN) || !q[3].Has(segment.FIN) || q[2].Seq != 11 {
		t.Errorf("the old connection's ends: %+v %+v", q[2], q[3])
	}
	old, _, _ := segment.IsIPCAddr(q[0].Src)
	nw, _, _ := segment.IsIPCAddr(q[4].Src)
	if old != 101 || nw != 102 || string(q[4].Payload) != "second" || q[4].Seq != 1 || q[4].KernelLost != 0 {
		t.Errorf("the new connection: from inode %d (old %d), seq %d, lost %d, %q",
			nw, old, q[4].Seq, q[4].KernelLost, q[4].Payload)
	}
	if len(tr.conns) != 1 {
		t.Errorf("%d connections followed, want 1", len(tr.conns))
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a.ipc", "b.ipc", "c.sock"} {
		ln, err := net.Listen("unix", filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
	}
	os.WriteFile(filepath.Join(dir, "plain.ipc"), nil, 0o644)
	got, err := resolve([]string{filepath.Join(dir, "*.ipc"), filepath.Join(dir, "a.ipc"), filepath.Join(dir, "later.ipc")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	if len(got) != 2 || !strings.Contains(strings.Join(names, " "), "a.ipc") || !strings.Contains(strings.Join(names, " "), "b.ipc") {
		t.Errorf("resolved %v, want the sockets a.ipc and b.ipc once each", names)
	}
	if _, err := resolve([]string{"[bad"}); err == nil {
		t.Error("a malformed glob resolved")
	}
	if err := checkGlobs([]string{"@abstract"}); err == nil {
		t.Error("an abstract name accepted")
	}
}

func TestParseUnix(t *testing.T) {
	in := "Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"0000000000000000: 00000002 00000000 00010000 0001 01 21468 /run/x.ipc\n" +
		"0000000000000000: 00000003 00000000 00000000 0001 03 21470\n"
	got, err := parseUnix(bytes.NewReader([]byte(in)))
	if err != nil || len(got) != 2 || !got[21468] || !got[21470] {
		t.Errorf("parseUnix = %v %v", got, err)
	}
}

func TestTrackerFreshWithoutEvents(t *testing.T) {
	// MechanismBTF: no connect or accept records. Sockets that did not
	// exist at Open, from offset 0: a handshake; one end known: joined.
	for _, tc := range []struct {
		name   string
		known  map[uint64]bool
		offset uint64
		want   bool
	}{
		{"new", map[uint64]bool{}, 0, true},
		{"client existed", map[uint64]bool{101: true}, 0, false},
		{"server existed", map[uint64]bool{201: true}, 0, false},
		{"not from the start", map[uint64]bool{}, 5, false},
		{"mechanism with events", nil, 0, false},
	} {
		cv := &conversation{t: newTracker(time.Unix(100, 0))}
		cv.t.known = tc.known
		cv.rec(recData, false, tc.offset, "hello", true)
		q := cv.t.queue
		if got := len(q) > 0 && q[0].Has(segment.SYN); got != tc.want {
			t.Errorf("%s: handshake %v, want %v (%d segments)", tc.name, got, tc.want, len(q))
		}
	}
}

func TestTrackerGapRecord(t *testing.T) {
	// A gap record moves the direction past bytes not shipped: the next
	// data (or the FIN) follows it, and the loss is counted.
	cv := &conversation{t: newTracker(time.Unix(100, 0))}
	cv.t.known = map[uint64]bool{}
	cv.rec(recData, false, 0, "abc", true)
	cv.rec(recGap, false, 10, "", true)
	cv.t.reap(time.Unix(1, 0), func(c *conn, inode uint64) bool { return inode == 101 })
	q := cv.t.queue
	last := q[len(q)-1]
	if !last.Has(segment.FIN) || last.Seq != 11 || last.KernelLost != 1 {
		t.Errorf("FIN after the gap: %+v, want seq 11 and KernelLost 1", last)
	}
	cv.t.queue = nil
	cv.rec(recData, true, 0, "x", true)
	if q := cv.t.queue; len(q) != 1 || q[0].Ack != 12 {
		t.Errorf("the server's ack after the gap and FIN: %+v, want 12", q)
	}
}
