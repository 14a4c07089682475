package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// ipc:// (issue 18): libzmq peers over Unix stream sockets, captured with
// --ipc. Every frame is compared with what the peer sent (zmqpeer's bodies
// are known: the message's number, padded with 'x' to -mix's size), and
// the ends are named by the pids of the zmqpeer processes.

// ipcEvent is a JSON line of an ipc capture, the fields the tests read.
type ipcEvent struct {
	Src, Dst, Event, Transport, Path string
	Frames                           []struct {
		Size    int
		DataHex string `json:"data_hex"`
		More    bool
	}
	End string
}

// ipcEvents parses the JSON lines of out (the stats line included, as an
// event "stats").
func ipcEvents(t *testing.T, out string) []ipcEvent {
	t.Helper()
	var evs []ipcEvent
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var ev ipcEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// frames returns an event's frame bodies as text.
func (ev *ipcEvent) frames(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, f := range ev.Frames {
		b, err := hex.DecodeString(f.DataHex)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != f.Size {
			t.Errorf("frame of %d bytes shows %d", f.Size, len(b))
		}
		out = append(out, string(b))
	}
	return out
}

// peerBody is zmqpeer's body of message i under -mix size n.
func peerBody(i, n int) string {
	b := strconv.Itoa(i)
	if n > len(b) {
		b += strings.Repeat("x", n-len(b))
	}
	return b
}

// ipcPeer is a running zmqpeer.
type ipcPeer struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
}

// startIPCPeer starts zmqpeer with args.
func startIPCPeer(t *testing.T, args ...string) *ipcPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	p := &ipcPeer{cmd: exec.CommandContext(ctx, built.peer, args...)}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.err
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *ipcPeer) pid() int { return p.cmd.Process.Pid }

// name is how zmtpdump names the peer's end.
func (p *ipcPeer) name() string { return fmt.Sprintf("pid %d (zmqpeer)", p.pid()) }

func (p *ipcPeer) wait(t *testing.T) {
	t.Helper()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("zmqpeer %v: %v\n%s%s", p.cmd.Args[1:], err, p.out.String(), p.err.String())
	}
}

// ipcResolve is how long after a socket is bound zmtpdump surely follows
// it: --ipc's globs are resolved again every second (with a margin).
const ipcResolve = 1200 * time.Millisecond

// waitBound waits until a socket is bound at path (up to 20 s, for a busy
// machine's slow start of the peer), then one resolution of the globs, so
// that zmtpdump follows it from then.
func waitBound(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket bound at %s", path)
		}
	}
	time.Sleep(ipcResolve)
}

// ipcPath is the path of an ipc:// endpoint among args ("" for another).
func ipcPath(args []string) string {
	for _, a := range args {
		if p, ok := strings.CutPrefix(a, "ipc://"); ok {
			return p
		}
	}
	return ""
}

// ipcPair runs a binding receiver and a connecting sender to completion,
// the sender started once the receiver's socket is followed (a TCP
// receiver's, a moment after its start).
func ipcPair(t *testing.T, recv, send []string) (r, s *ipcPeer) {
	t.Helper()
	r = startIPCPeer(t, recv...)
	if p := ipcPath(recv); p != "" {
		waitBound(t, p)
	} else {
		time.Sleep(ipcResolve)
	}
	s = startIPCPeer(t, send...)
	s.wait(t)
	r.wait(t)
	return r, s
}

// messagesBetween returns the message events sent by from to to.
func messagesBetween(evs []ipcEvent, from, to string) []ipcEvent {
	var out []ipcEvent
	for _, ev := range evs {
		if ev.Event == "message" && ev.Src == from && ev.Dst == to {
			out = append(out, ev)
		}
	}
	return out
}

// TestIPCPushPullReqRep: PUSH/PULL (single-part, multipart and a 1 MiB
// message) and REQ/REP over ipc:// in one capture of a glob: every frame
// exact in both directions, the ends named by the peers' pids, the server
// with its path, "transport":"ipc" and "path" on every event.
func TestIPCPushPullReqRep(t *testing.T) {
	requireLive(t)
	dir := t.TempDir()
	pushPath, reqPath := filepath.Join(dir, "push.ipc"), filepath.Join(dir, "req.ipc")
	d := startDump(t, "--ipc", filepath.Join(dir, "*.ipc"), "--json", "-s", "2000000")

	const mib = 1 << 20
	sizes := []int{0, 0, mib, 300}
	pull, push := ipcPair(t,
		[]string{"-type", "pull", "-bind", "ipc://" + pushPath, "-count", "4"},
		[]string{"-type", "push", "-connect", "ipc://" + pushPath, "-count", "4", "-mix", "0,m0,1048576,300"})
	rep, req := ipcPair(t,
		[]string{"-type", "rep", "-bind", "ipc://" + reqPath, "-count", "3"},
		[]string{"-type", "req", "-connect", "ipc://" + reqPath, "-count", "3"})
	out, errOut := d.stop(t)
	evs := ipcEvents(t, out)

	pusher, puller := push.name(), pull.name()+" "+pushPath
	msgs := messagesBetween(evs, pusher, puller)
	if len(msgs) != 4 {
		t.Fatalf("%d messages %s > %s, want 4\n%s\n%s", len(msgs), pusher, puller, errOut, short(out))
	}
	for i, m := range msgs {
		want := []string{peerBody(i+1, sizes[i])}
		if i == 1 {
			want = []string{"hello", peerBody(2, 0)}
		}
		got := m.frames(t)
		if len(got) != len(want) {
			t.Errorf("message %d: %d frames, want %d", i+1, len(got), len(want))
			continue
		}
		for j := range want {
			if got[j] != want[j] {
				t.Errorf("message %d frame %d: %d bytes %.20q..., want %d bytes %.20q...", i+1, j, len(got[j]), got[j], len(want[j]), want[j])
			}
		}
		if m.Transport != "ipc" || m.Path != pushPath {
			t.Errorf("message %d: transport %q path %q, want ipc %s", i+1, m.Transport, m.Path, pushPath)
		}
	}

	requester, replier := req.name(), rep.name()+" "+reqPath
	for _, dir := range [][2]string{{requester, replier}, {replier, requester}} {
		msgs := messagesBetween(evs, dir[0], dir[1])
		if len(msgs) != 3 {
			t.Errorf("%d messages %s > %s, want 3", len(msgs), dir[0], dir[1])
			continue
		}
		for i, m := range msgs {
			if got, want := m.frames(t), []string{"", strconv.Itoa(i + 1)}; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("%s > %s message %d: frames %q, want %q", dir[0], dir[1], i+1, got, want)
			}
		}
	}
	for _, ev := range evs {
		if ev.Event == "stats" {
			continue
		}
		if ev.Transport != "ipc" || (ev.Path != pushPath && ev.Path != reqPath) {
			t.Errorf("event %s %s > %s: transport %q path %q", ev.Event, ev.Src, ev.Dst, ev.Transport, ev.Path)
		}
		if ev.Event == "gap" || ev.Event == "error" {
			t.Errorf("%s event: %s > %s", ev.Event, ev.Src, ev.Dst)
		}
	}
	st := d.stats(t)
	if st.Connections != 2 || st.BytesLost != 0 {
		t.Errorf("stats: %d connections, %d bytes lost; want 2, 0", st.Connections, st.BytesLost)
	}
	if last := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]; !strings.Contains(last, `"ipc_connections":2,`) {
		t.Errorf("no ipc_connections 2 in the stats line:\n%s", last)
	}
}

// short cuts a long output for a failure message.
func short(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "..."
	}
	return s
}

// TestIPCGlobAndTCP: one run captures two ipc sockets a glob selects and
// TCP on lo: each conversation decoded whole, the ipc ones with their
// paths, the TCP one as always (addresses, no "transport").
func TestIPCGlobAndTCP(t *testing.T) {
	requireLive(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ipc"), filepath.Join(dir, "b.ipc")
	port := freePort(t)
	d := startDump(t, "--ipc", filepath.Join(dir, "*.ipc"), "-i", "lo", "--port", strconv.Itoa(port), "--json")

	type conv struct {
		ep         string
		recv, send *ipcPeer
	}
	var convs []conv
	for _, ep := range []string{"ipc://" + a, "ipc://" + b, fmt.Sprintf("tcp://127.0.0.1:%d", port)} {
		r, s := ipcPair(t,
			[]string{"-type", "pull", "-bind", ep, "-count", "3"},
			[]string{"-type", "push", "-connect", ep, "-count", "3", "-multipart"})
		convs = append(convs, conv{ep, r, s})
	}
	out, errOut := d.stop(t)
	evs := ipcEvents(t, out)
	for _, c := range convs[:2] {
		path := strings.TrimPrefix(c.ep, "ipc://")
		msgs := messagesBetween(evs, c.send.name(), c.recv.name()+" "+path)
		if len(msgs) != 3 {
			t.Errorf("%s: %d messages, want 3\n%s", c.ep, len(msgs), errOut)
		}
		for i, m := range msgs {
			if got := strings.Join(m.frames(t), "|"); got != "hello|"+strconv.Itoa(i+1) || m.Transport != "ipc" || m.Path != path {
				t.Errorf("%s message %d: %q transport %q path %q", c.ep, i+1, got, m.Transport, m.Path)
			}
		}
	}
	var tcp int
	for _, ev := range evs {
		if ev.Event == "message" && strings.HasSuffix(ev.Dst, fmt.Sprintf("127.0.0.1:%d", port)) {
			tcp++
			if ev.Transport != "" || ev.Path != "" || !strings.HasPrefix(ev.Src, "127.0.0.1:") {
				t.Errorf("TCP message %s > %s: transport %q path %q", ev.Src, ev.Dst, ev.Transport, ev.Path)
			}
		}
	}
	if tcp != 3 {
		t.Errorf("%d TCP messages, want 3", tcp)
	}
	if last := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]; !strings.Contains(last, `"connections":3,`) || !strings.Contains(last, `"ipc_connections":2,`) {
		t.Errorf("stats: want 3 connections, 2 of them ipc:\n%s", last)
	}
}

// TestIPCJoinMidStream: a connection open before zmtpdump starts is joined
// as a TCP one is: a resync says where decoding picked the stream up, and
// every message from there is decoded, in order, none twice, up to the
// last one sent.
func TestIPCJoinMidStream(t *testing.T) {
	requireLive(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "join.ipc")
	const n = 100 // 10 s: the capture takes seconds to attach on a busy machine
	r := startIPCPeer(t, "-type", "pull", "-bind", "ipc://"+path, "-count", strconv.Itoa(n), "-timeout", "30s")
	time.Sleep(300 * time.Millisecond)
	s := startIPCPeer(t, "-type", "push", "-connect", "ipc://"+path, "-count", strconv.Itoa(n), "-interval", "100ms", "-timeout", "30s")
	time.Sleep(1500 * time.Millisecond) // some messages went before the capture
	d := startDump(t, "--ipc", path, "--json")
	s.wait(t)
	r.wait(t)
	out, errOut := d.stop(t)
	evs := ipcEvents(t, out)
	if len(livetest.Lines(out, `"event":"resync"`)) == 0 {
		t.Errorf("no resync event for the connection joined\n%s\n%s", errOut, short(out))
	}
	// The receiver sends nothing once joined: its end may be named by its
	// socket, "socket:[N] PATH", not its pid.
	var msgs []ipcEvent
	for _, ev := range evs {
		if ev.Event == "message" && ev.Src == s.name() && strings.HasSuffix(ev.Dst, " "+path) &&
			(ev.Dst == r.name()+" "+path || strings.HasPrefix(ev.Dst, "socket:[")) {
			msgs = append(msgs, ev)
		}
	}
	if len(msgs) < n/3 {
		t.Fatalf("%d messages decoded, want most of the %d sent after the start\n%s", len(msgs), n, short(out))
	}
	first, _ := strconv.Atoi(msgs[0].frames(t)[0])
	if first <= 1 {
		t.Errorf("first message decoded is %d: the capture began after it was sent", first)
	}
	for i, m := range msgs {
		if got, want := strings.Join(m.frames(t), "|"), strconv.Itoa(first+i); got != want {
			t.Fatalf("message %d after the join: %q, want %q (in order, none lost)", i, got, want)
		}
	}
	if last := first + len(msgs) - 1; last != n {
		t.Errorf("last message decoded %d, want %d", last, n)
	}
}

// TestIPCRingOverflow: with a tiny ring (-B 64), big sends lose records;
// each loss is a gap, and every message decoded is one the peer sent,
// exact (its number and body), in increasing order, with no error. Losses
// inside the 200 KB bodies are passed over; losses that take frame headers
// too (whole sends lost: 200 messages of 20 KB sent at once) make the
// decoder lose its place and resync at a proven boundary.
func TestIPCRingOverflow(t *testing.T) {
	requireLive(t)
	for _, tc := range []struct {
		name     string
		n        int
		mix      []int
		interval string
		resync   bool // a resync must happen
	}{
		{"in bodies", 12, []int{200000, 0}, "300ms", false},
		{"over headers", 200, []int{20000}, "0s", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "big.ipc")
			d := startDump(t, "--ipc", path, "--json", "-B", "64", "-s", "16")
			mix := make([]string, len(tc.mix))
			for i, m := range tc.mix {
				mix[i] = strconv.Itoa(m)
			}
			recv, send := ipcPair(t,
				[]string{"-type", "pull", "-bind", "ipc://" + path, "-count", strconv.Itoa(tc.n), "-timeout", "30s"},
				[]string{"-type", "push", "-connect", "ipc://" + path, "-count", strconv.Itoa(tc.n),
					"-mix", strings.Join(mix, ","), "-interval", tc.interval})
			out, errOut := d.stop(t)
			evs := ipcEvents(t, out)
			gaps, resyncs := livetest.Lines(out, `"event":"gap"`), livetest.Lines(out, `"event":"resync"`)
			last := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]
			if len(gaps) == 0 || strings.Contains(last, `"ipc_lost":0,`) {
				t.Fatalf("no loss with a 64 KiB ring: %d gaps, stats %s\n%s", len(gaps), last, errOut)
			}
			if tc.resync && len(resyncs) == 0 {
				t.Errorf("no resync: the losses took no frame header (%d gaps)\n%s", len(gaps), short(out))
			}
			prev, decoded := 0, 0
			for _, ev := range evs {
				if ev.Event == "error" {
					t.Errorf("error event: %s > %s", ev.Src, ev.Dst)
				}
				if ev.Event != "message" || ev.Src != send.name() || ev.Dst != recv.name()+" "+path {
					continue
				}
				decoded++
				if len(ev.Frames) != 1 {
					t.Errorf("message after %d: %d frames, want 1", prev, len(ev.Frames))
					continue
				}
				f := ev.Frames[0]
				data, err := hex.DecodeString(f.DataHex)
				if err != nil {
					t.Fatal(err)
				}
				digits := len(data) - len(strings.TrimLeft(string(data), "0123456789"))
				i, err := strconv.Atoi(string(data[:digits]))
				if err != nil || i <= prev || i > tc.n {
					t.Errorf("message after %d: body %q, want a number above it", prev, data)
					continue
				}
				want := peerBody(i, tc.mix[(i-1)%len(tc.mix)])
				if f.Size != len(want) || !strings.HasPrefix(want, string(data)) || len(data) < min(16, len(want)) {
					t.Errorf("message %d: %d bytes %q, want %d bytes %.16q", i, f.Size, data, len(want), want)
				}
				prev = i
			}
			if decoded == 0 {
				t.Errorf("no message decoded\n%s", short(out))
			}
			t.Logf("%d gaps, %d resyncs, %d of %d messages decoded; stats %s", len(gaps), len(resyncs), decoded, tc.n, last)
		})
	}
}

// TestIPCWritePcapng: -w with ipc and TCP in one run writes the ipc
// streams as synthesized TCP over IPv6 on an interface "ipc" whose
// description and comment, and the section's comment, say so; read back
// with -r the file shows both ZMTP conversations, and tshark (installed by
// make deps; required with ZMTPDUMP_REQUIRE_E2E=1) reads the ipc packets as TCP between fd7a:6970:6300:: addresses.
func TestIPCWritePcapng(t *testing.T) {
	requireLive(t)
	dir := t.TempDir()
	path, file := filepath.Join(dir, "w.ipc"), filepath.Join(dir, "out.pcapng")
	port := freePort(t)
	d := startDump(t, "--ipc", path, "-i", "lo", "--port", strconv.Itoa(port), "-w", file)
	var pull, push *ipcPeer
	for i, ep := range []string{"ipc://" + path, fmt.Sprintf("tcp://127.0.0.1:%d", port)} {
		r, s := ipcPair(t,
			[]string{"-type", "pull", "-bind", ep, "-count", "3"},
			[]string{"-type", "push", "-connect", ep, "-count", "3", "-multipart"})
		if i == 0 {
			pull, push = r, s
		}
	}
	d.stop(t)

	out, err := exec.Command(built.zmtpdump, "-r", file).CombinedOutput()
	if err != nil {
		t.Fatalf("-r: %v\n%s", err, out)
	}
	ipcMsgs := livetest.Lines(string(out), "[fd7a:6970:6300::", `]:1: message (2 frames, 6 bytes): "hello"`)
	tcpMsgs := livetest.Lines(string(out), fmt.Sprintf("127.0.0.1:%d: message (2 frames", port))
	if len(ipcMsgs) != 3 || len(tcpMsgs) != 3 {
		t.Errorf("read back: %d ipc and %d TCP messages, want 3 and 3\n%s", len(ipcMsgs), len(tcpMsgs), out)
	}

	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if skip.Required() {
			t.Fatalf("required by %s=1: tshark (make deps installs it) to check that Wireshark reads the file", skip.EnvRequire)
		}
		t.Log("tshark not installed: the file was checked with zmtpdump -r only")
		return
	}
	fields, err := exec.Command(tshark, "-r", file, "-Y", "ipv6.src == fd7a:6970:6300::/48 and tcp",
		"-T", "fields", "-e", "frame.interface_name", "-e", "frame.interface_description", "-e", "tcp.flags.str").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	rows := strings.Split(strings.TrimSpace(string(fields)), "\n")
	if len(rows) < 10 || !strings.HasPrefix(rows[0], "ipc\tipc:// (Unix stream sockets) at "+path) {
		t.Errorf("tshark: %d ipc TCP packets, first %q", len(rows), rows[0])
	}
	comments, err := exec.Command(tshark, "-r", file, "-Y", "frame.comment", "-T", "fields", "-e", "frame.comment").Output()
	want := fmt.Sprintf("ipc:// connection at %s: client %s, server %s %s", path, push.name(), pull.name(), path)
	if err != nil || !strings.Contains(string(comments), want) {
		t.Errorf("tshark: packet comments %q (%v), want one saying %q", comments, err, want)
	}
	// The synthesized TCP is whole: no retransmission, lost segment,
	// out-of-order or duplicate ACK for Wireshark.
	flags, err := exec.Command(tshark, "-r", file, "-Y", "tcp.analysis.flags",
		"-T", "fields", "-e", "frame.number", "-e", "ipv6.src", "-e", "tcp.seq_raw", "-e", "tcp.len").Output()
	if err != nil || len(bytes.TrimSpace(flags)) != 0 {
		t.Errorf("tshark: packets with tcp.analysis.flags (%v):\n%s", err, flags)
	}
	if capinfos, err := exec.LookPath("capinfos"); err == nil {
		info, err := exec.Command(capinfos, file).Output()
		if err != nil || !bytes.Contains(info, []byte("synthesized by zmtpdump from the sends")) {
			t.Errorf("capinfos: no comment saying the ipc packets are synthesized (%v)\n%s", err, info)
		}
	}
}

// TestIPCPid: --pid keeps the ipc connections the process owns an end of,
// by the pids the kernel records name: of two PUSH/PULL pairs, only the
// one whose receiver is that process is printed.
func TestIPCPid(t *testing.T) {
	requireLive(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ipc"), filepath.Join(dir, "b.ipc")
	pullA := startIPCPeer(t, "-type", "pull", "-bind", "ipc://"+a, "-count", "3", "-timeout", "30s")
	d := startDump(t, "--ipc", filepath.Join(dir, "*.ipc"), "--pid", strconv.Itoa(pullA.pid()), "--json")
	waitBound(t, a)
	pushA := startIPCPeer(t, "-type", "push", "-connect", "ipc://"+a, "-count", "3")
	pushA.wait(t)
	pullA.wait(t)
	ipcPair(t,
		[]string{"-type", "pull", "-bind", "ipc://" + b, "-count", "3"},
		[]string{"-type", "push", "-connect", "ipc://" + b, "-count", "3"})
	out, errOut := d.stop(t)
	evs := ipcEvents(t, out)
	if got := len(messagesBetween(evs, pushA.name(), pullA.name()+" "+a)); got != 3 {
		t.Errorf("%d messages to --pid's socket, want 3\n%s\n%s", got, errOut, short(out))
	}
	for _, ev := range evs {
		if ev.Path == b {
			t.Errorf("an event of the other connection: %s %s > %s", ev.Event, ev.Src, ev.Dst)
			break
		}
	}
	// The other connection was captured, and left out: not missed.
	if last := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]; !strings.Contains(last, `"ipc_connections":2,`) {
		t.Errorf("the other connection was not captured: want ipc_connections 2 in\n%s", last)
	}
}
