package session

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/procs"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/unixcap"
)

// fakeIPC is an ipc capture that yields segs, then, once nothing more
// came by a deadline, cancels the capture's context (as Ctrl-C does). As
// MechanismBTF does, it learns of closes only in its housekeeping: the FINs
// are held back until Sweep.
type fakeIPC struct {
	segs   []segment.Segment
	i      int
	idle   int
	cancel func()
	fins   []segment.Segment // held until Sweep
	swept  []segment.Segment // released by Sweep, not read yet
	served uint64
	woke   chan struct{} // Wake: cuts a waiting Read short
}

func (f *fakeIPC) Read(seg *segment.Segment, deadline time.Time) error {
	if len(f.swept) > 0 {
		*seg, f.swept = f.swept[0], f.swept[1:]
		f.served++
		return nil
	}
	for f.i < len(f.segs) {
		s := f.segs[f.i]
		f.i++
		if s.Has(segment.FIN) {
			f.fins = append(f.fins, s)
			continue
		}
		*seg = s
		f.served++
		return nil
	}
	if f.idle++; f.idle == 2 {
		f.cancel() // the last batch is with the loop by now
	}
	select {
	case <-time.After(time.Until(deadline)):
	case <-f.woke:
	}
	return os.ErrDeadlineExceeded
}

func (f *fakeIPC) Wake() {
	select {
	case f.woke <- struct{}{}:
	default:
	}
}

func (f *fakeIPC) Sweep() { f.swept, f.fins = append(f.swept, f.fins...), nil }

func (f *fakeIPC) Stats() unixcap.Stats { return unixcap.Stats{Records: f.served} }

// asIPC turns the segments of a file's one TCP connection into those of an
// ipc connection: the SYN's sender the client, inode 111 (pid 100), its
// peer the server bound at path, inode 222 (pid 200), one IPC value shared.
func asIPC(segs []segment.Segment, path string) []segment.Segment {
	ipc := &segment.IPC{Path: path, ClientPID: 100, ClientComm: "pusher", ServerPID: 200, ServerComm: "puller",
		ClientInode: 111, ServerInode: 222}
	client := segs[0].Src
	out := make([]segment.Segment, len(segs))
	for i, s := range segs {
		s.IPC, s.Ifindex = ipc, 0
		if s.Src == client {
			s.Src, s.Dst = segment.IPCAddr(111, false), segment.IPCAddr(222, true)
		} else {
			s.Src, s.Dst = segment.IPCAddr(222, true), segment.IPCAddr(111, false)
		}
		out[i] = s
	}
	return out
}

// runIPC runs cfg's pipeline over an ipc capture of segs, as capture does
// with --ipc alone, and returns what it printed.
func runIPC(t *testing.T, cfg *Config, segs []segment.Segment) string {
	t.Helper()
	return runIPCErr(t, cfg, segs, io.Discard)
}

// runIPCErr is runIPC, the statistics for people and the exit summary of
// problems written to stderr.
func runIPCErr(t *testing.T, cfg *Config, segs []segment.Segment, stderr io.Writer) string {
	t.Helper()
	return runIPCPipe(t, cfg, segs, stderr, nil, nil)
}

// runIPCPipe is runIPCErr, calling before (unless nil) with the pipeline
// before the capture starts and after (unless nil) once it ended.
func runIPCPipe(t *testing.T, cfg *Config, segs []segment.Segment, stderr io.Writer, before, after func(*Pipeline)) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	p := New(cfg, &out, stderr)
	defer p.Close()
	fake := &fakeIPC{segs: segs, cancel: cancel, woke: make(chan struct{}, 1)}
	feed := newIPCFeed(ctx, fake, cfg.IPC)
	p.ipcOwners(feed)
	if before != nil {
		before(p)
	}
	if cfg.WriteFile != "" {
		p.pcap = &pcapOut{name: cfg.WriteFile, app: "test", create: CreateFile, comment: ipcPcapComment(strings.Join(cfg.IPC, " "))}
		if err := p.pcap.start([]pcapfile.Interface{ipcPcapInterface(cfg.IPC)}); err != nil {
			t.Fatal(err)
		}
	}
	feed.start()
	src := &liveSource{p: p, ipc: feed, stderr: io.Discard, nextHousekeeping: time.Now().Add(expireEvery), rearm: true}
	err := p.loop(src)
	feed.stop()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	p.sink.writeProblems()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if p.pcap != nil {
		if err := p.pcap.close(); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Summary {
		if err := p.sink.writeConversations(&out); err != nil {
			t.Fatal(err)
		}
	}
	if after != nil {
		after(p)
	}
	conns := map[uint64]bool{}
	for i := range segs {
		conns[segs[i].IPC.ClientInode] = true
	}
	if st := feed.stats(); st.Records != uint64(len(segs)) || p.ipcConns.Load() != uint64(len(conns)) {
		t.Errorf("%d records, %d connections; want %d, %d", st.Records, p.ipcConns.Load(), len(segs), len(conns))
	}
	return out.String()
}

// events returns what lines say after their endpoints ("message: ..."),
// which ipc and TCP lines share.
func events(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if i := strings.Index(l, ": "); i >= 0 && !strings.Contains(l, "connection ") && !strings.Contains(l, ": process: ") {
			out = append(out, l[i+2:])
		}
	}
	return out
}

// TestIPCLines: an ipc connection prints what the same bytes over TCP
// print, its ends named by process (the server's with its path) instead
// of addresses, in text and in JSON (with "transport" and "path").
func TestIPCLines(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	cfg := &Config{ReadFile: file, Output: output.Options{Location: time.UTC}, Snap: 64}
	var tcp bytes.Buffer
	if err := Run(context.Background(), cfg, &tcp, io.Discard); err != nil {
		t.Fatal(err)
	}
	const path = "/run/app/feed.ipc"
	icfg := &Config{IPC: []string{"/run/app/*.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64}
	got := runIPC(t, icfg, asIPC(readAll(t, file), path))
	if diff := cmp.Diff(events(tcp.String()), events(got)); diff != "" {
		t.Errorf("events differ (-tcp +ipc):\n%s", diff)
	}
	if !strings.Contains(got, " pid 100 (pusher) > pid 200 (puller) /run/app/feed.ipc: greeting") ||
		!strings.Contains(got, " pid 200 (puller) /run/app/feed.ipc > pid 100 (pusher): greeting") {
		t.Errorf("ends not named by process:\n%s", got)
	}
	if !strings.Contains(got, "connection closed: pid 100 (pusher) (PUSH) -> pid 200 (puller) /run/app/feed.ipc (PULL)") {
		t.Errorf("no connection summary naming the ends:\n%s", got)
	}
	if strings.Contains(got, "fd7a:") {
		t.Errorf("a synthetic address is printed:\n%s", got)
	}

	icfg.JSON = true
	js := runIPC(t, icfg, asIPC(readAll(t, file), path))
	re := regexp.MustCompile(`^\{"ts":"[^"]+","src":"pid 100 \(pusher\)","dst":"pid 200 \(puller\) /run/app/feed.ipc","event":"greeting","transport":"ipc","path":"/run/app/feed.ipc",`)
	first := strings.SplitN(js, "\n", 2)[0]
	if !re.MatchString(first) {
		t.Errorf("first JSON line:\n%s\nwant it to match %s", first, re)
	}
	if !strings.Contains(js, `"process":{"src":{"pid":100,"comm":"pusher"},"dst":{"pid":200,"comm":"puller"}}`) {
		t.Errorf("no process member:\n%s", js)
	}
}

// TestIPCSummary: the -q table names an ipc connection's ends as the
// lines do.
func TestIPCSummary(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	cfg := &Config{IPC: []string{"/x.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64, Summary: true}
	got := runIPC(t, cfg, asIPC(readAll(t, file), "/x.ipc"))
	if !strings.Contains(got, "ZMTP conversations: 1") || !strings.Contains(got, "pid 100 (pusher)") || !strings.Contains(got, "pid 200 (puller) /x.ipc") {
		t.Errorf("table:\n%s", got)
	}
}

// TestIPCSharded: with sessions on shard goroutines, an ipc connection
// prints what it prints without (run with -race: the IPC values are
// shared between goroutines).
func TestIPCSharded(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	cfg := &Config{IPC: []string{"/x.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64}
	want := runIPC(t, cfg, asIPC(readAll(t, file), "/x.ipc"))
	cfg.Shards = 2
	if got := runIPC(t, cfg, asIPC(readAll(t, file), "/x.ipc")); got != want {
		t.Errorf("sharded:\n%s\nwant:\n%s", got, want)
	}
}

// TestIPCLadder: --ladder names an ipc connection's ends as the lines do.
func TestIPCLadder(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	cfg := &Config{IPC: []string{"/x.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64, Ladder: true}
	got := runIPC(t, cfg, asIPC(readAll(t, file), "/x.ipc"))
	if !strings.Contains(got, "ladder: pid 100 (pusher) -> pid 200 (puller) /x.ipc, ZMTP 3.1") {
		t.Errorf("ladder:\n%s", got)
	}
}

// TestIPCOwnersFilter: --comm keeps an ipc connection one of whose ends
// the named process sends on, and leaves out the others.
func TestIPCOwnersFilter(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	for _, tc := range []struct {
		comm string
		want bool
	}{{"puller", true}, {"pusher", true}, {"other", false}} {
		cfg := &Config{IPC: []string{"/x.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64, Comm: tc.comm}
		got := runIPC(t, cfg, asIPC(readAll(t, file), "/x.ipc"))
		if has := strings.Contains(got, "message ("); has != tc.want {
			t.Errorf("--comm %s: messages printed %v, want %v:\n%s", tc.comm, has, tc.want, got)
		}
	}
}

// TestIPCPcapng: -w writes an ipc connection as TCP over IPv6 on an
// interface "ipc" that says what its packets are; read back, the file
// shows the same ZMTP conversation.
func TestIPCPcapng(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	name := filepath.Join(t.TempDir(), "ipc.pcapng")
	cfg := &Config{IPC: []string{"/run/app/feed.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64, WriteFile: name}
	live := runIPC(t, cfg, asIPC(readAll(t, file), "/run/app/feed.ipc"))

	var back bytes.Buffer
	if err := Run(context.Background(), &Config{ReadFile: name, Output: output.Options{Location: time.UTC}, Snap: 64}, &back, io.Discard); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(events(live), events(back.String())); diff != "" {
		t.Errorf("events differ (-live +file):\n%s", diff)
	}
	if !strings.Contains(back.String(), "[fd7a:6970:6300::6f]:2 > [fd7a:6970:6300::de]:1: greeting") {
		t.Errorf("read back, not between the synthetic addresses:\n%s", back.String())
	}
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ipc", "ipc:// (Unix stream sockets) at /run/app/feed.ipc", "synthesized by zmtpdump",
		"ipc:// connection at /run/app/feed.ipc: client pid 100 (pusher), server pid 200 (puller) /run/app/feed.ipc"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the file does not say %q", want)
		}
	}
}

// TestIPCViews: the loop gets a copy of the capture's IPC value, a new one
// when the capture learnt more, and the same one otherwise.
func TestIPCViews(t *testing.T) {
	f := newIPCFeed(context.Background(), &fakeIPC{}, nil)
	v := &segment.IPC{Path: "/a", ClientInode: 1, ServerInode: 2, ClientPID: 10, ClientComm: "c"}
	var b ipcBatch
	seg := segment.Segment{IPC: v, Payload: []byte("ab")}
	f.keep(&b, &seg)
	f.keep(&b, &seg)
	v.ServerPID, v.ServerComm = 20, "s"
	f.keep(&b, &seg)
	first, again, later := b.segs[0].IPC, b.segs[1].IPC, b.segs[2].IPC
	switch {
	case first == v || first != again || later == first:
		t.Errorf("copies %p %p %p of %p: want one copy, then a new one", first, again, later, v)
	case first.ServerPID != 0 || later.ServerPID != 20:
		t.Errorf("server pid %d then %d, want 0 then 20", first.ServerPID, later.ServerPID)
	case b.segs[0].Ifindex != IPCIfindex:
		t.Errorf("ifindex %d, want %d", b.segs[0].Ifindex, IPCIfindex)
	}
	seg.Payload[0] = 'X'
	if string(b.segs[0].Payload) != "ab" {
		t.Errorf("payload not copied: %q", b.segs[0].Payload)
	}
	if pr := f.ends.get(2); pr == nil || pr.PID != 20 || pr.Comm != "s" {
		t.Errorf("server end %+v, want pid 20 (s)", pr)
	}
}

// TestIPCEndsCgroup: an ipc end's process carries its cgroup (and the
// container found in it), read from /proc/PID/cgroup.
func TestIPCEndsCgroup(t *testing.T) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no /proc/self/cgroup: %v", err)
	}
	want := ""
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			want = p
		}
	}
	e := &ipcEnds{m: map[uint64]*procs.Process{}}
	e.learn(&segment.IPC{ClientPID: os.Getpid(), ClientComm: "me", ClientInode: 3})
	if pr := e.get(3); pr == nil || pr.Cgroup != want || pr.ContainerID != procs.ContainerID(want) {
		t.Errorf("end %+v, want cgroup %q", pr, want)
	}
}

// TestIPCProblemNames: a problem of an ipc connection names its ends as
// the lines do, in its text, in the exit summary and in JSON: no
// synthetic address anywhere.
func TestIPCProblemNames(t *testing.T) {
	const file = "../testdata/problem_heartbeat_timeout.pcap"
	for _, js := range []bool{false, true} {
		cfg := &Config{IPC: []string{"/x.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64, JSON: js}
		var stderr bytes.Buffer
		got := runIPCErr(t, cfg, asIPC(readAll(t, file), "/x.ipc"), &stderr)
		if strings.Contains(got, "fd7a:") || strings.Contains(stderr.String(), "fd7a:") {
			t.Errorf("json %v: a synthetic address is printed:\n%s\nstderr:\n%s", js, got, stderr.String())
		}
		text := "the server pid 200 (puller) /x.ipc sent no PONG and nothing else for 801 ms after the client pid 100 (pusher)'s PING"
		if !strings.Contains(got, text) {
			t.Errorf("json %v: no problem text %q:\n%s", js, text, got)
		}
		sum := "problems: 1 heartbeat-timeout (1 connection: pid 100 (pusher) > pid 200 (puller) /x.ipc)"
		if !strings.Contains(stderr.String(), sum) {
			t.Errorf("json %v: no summary %q:\n%s", js, sum, stderr.String())
		}
		if js && !strings.Contains(got, `"connections":["pid 100 (pusher) > pid 200 (puller) /x.ipc"]`) {
			t.Errorf("no JSON summary naming the ends:\n%s", got)
		}
	}
}

// TestIPCLateName: an end learnt only from the segments after the last
// byte (FINs, ACKs) is named so in the connection's summary, and, as the
// process line names it (the capture learnt it), in every line: never by
// its inode.
func TestIPCLateName(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	segs := asIPC(readAll(t, file), "/x.ipc")
	early := *segs[0].IPC
	early.ServerPID, early.ServerComm = 0, ""
	last := 0
	for i := range segs {
		if len(segs[i].Payload) > 0 {
			last = i
		}
	}
	if last == len(segs)-1 {
		t.Fatal("no segment without bytes after the last byte")
	}
	for i := range segs[:last+1] {
		segs[i].IPC = &early
	}
	cfg := &Config{IPC: []string{"/x.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64}
	got := runIPC(t, cfg, segs)
	if !strings.Contains(got, "connection closed: pid 100 (pusher) (PUSH) -> pid 200 (puller) /x.ipc (PULL)") {
		t.Errorf("the summary does not name the server by the process learnt last:\n%s", got)
	}
	if strings.Contains(got, "socket:[") {
		t.Errorf("an end named by its inode beside the process line naming it:\n%s", got)
	}
}

// TestIPCPidSilentEnd: --pid and --comm select an ipc connection by an end
// that sent nothing (its pid never learnt from a send): the process that
// holds its socket in /proc (here a fake) is its owner.
func TestIPCPidSilentEnd(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	fake := func(pid int, comm string, inode uint64) (*procs.Process, error) {
		if inode == 222 && (pid == 200 || pid == 0 && comm == "puller") {
			return &procs.Process{PID: 200, Comm: "puller"}, nil
		}
		return nil, nil
	}
	for _, tc := range []struct {
		pid  int
		comm string
		want bool
	}{{200, "", true}, {0, "puller", true}, {300, "", false}, {0, "other", false}} {
		segs := asIPC(readAll(t, file), "/x.ipc")
		silent := *segs[0].IPC
		silent.ServerPID, silent.ServerComm = 0, ""
		for i := range segs {
			segs[i].IPC = &silent
		}
		cfg := &Config{IPC: []string{"/x.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64, PID: tc.pid, Comm: tc.comm}
		got := runIPCPipe(t, cfg, segs, io.Discard, func(p *Pipeline) { p.procs.socketOwner = fake }, nil)
		if has := strings.Contains(got, "message ("); has != tc.want {
			t.Errorf("--pid %d --comm %q: messages printed %v, want %v:\n%s", tc.pid, tc.comm, has, tc.want, got)
		}
		if tc.want && (strings.Contains(got, "socket:[") || !strings.Contains(got, "pid 100 (pusher) > pid 200 (puller) /x.ipc: message (")) {
			t.Errorf("--pid %d --comm %q: the end found in /proc is not named by its process:\n%s", tc.pid, tc.comm, got)
		}
	}
}

// TestIPCEndsPidReuse: the cgroup cached for a pid is not that of a new
// process that got the pid: the cache is keyed by start time too.
func TestIPCEndsPidReuse(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skipf("no /proc/self/stat: %v", err)
	}
	start := procStart(os.Getpid())
	if f := strings.Fields(string(b)); start == 0 || len(f) < 22 || f[21] != strconv.FormatUint(start, 10) {
		t.Fatalf("start time %d, /proc/self/stat %q", start, b)
	}
	e := &ipcEnds{m: map[uint64]*procs.Process{}, cgroups: map[procKey]string{{os.Getpid(), start - 1}: "/the/old/process"}}
	e.learn(&segment.IPC{ClientPID: os.Getpid(), ClientComm: "me", ClientInode: 3})
	if pr := e.get(3); pr == nil || pr.Cgroup == "/the/old/process" {
		t.Errorf("end %+v: the cgroup of the pid's former process", pr)
	}
}

// TestIPCMetricsOddPath: the server label of an ipc connection bound at a
// path that is not UTF-8 is the path as lines show it (\xNN), and its
// series are there (client_golang drops a label that is not UTF-8).
func TestIPCMetricsOddPath(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	const path = "/run/a\xff\x1b.ipc"
	cfg := &Config{IPC: []string{"/run/*.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64, Metrics: "127.0.0.1:0"}
	var got map[string]float64
	runIPCPipe(t, cfg, asIPC(readAll(t, file), path), io.Discard, nil, func(p *Pipeline) { got = gatherMetrics(t, p) })
	k := series("zmtp_messages_total", `ipc:///run/a\xff\x1b.ipc`, "PUSH", "PULL", "NULL", `direction="to_server"`)
	if got[k] == 0 {
		t.Errorf("no %s in %v", k, got)
	}
}

// TestIPCLearning: --explain and --ladder speak of sends and closed
// sockets on an ipc connection, never of TCP segments or FINs.
func TestIPCLearning(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	cfg := &Config{IPC: []string{"/x.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64, Explain: ExplainAll, Ladder: true}
	got := runIPC(t, cfg, asIPC(readAll(t, file), "/x.ipc"))
	for _, want := range []string{"greeting came in 2 sends (10+54 bytes)", "Both ends closed their sockets: the Unix stream connection", "both ends closed their sockets"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"TCP segment", "FIN"} {
		if strings.Contains(got, bad) {
			t.Errorf("%q on an ipc connection:\n%s", bad, got)
		}
	}
}

// asIPCConns turns the segments of a file's TCP connections to one server
// into those of ipc connections at path: the n-th client (in the order
// first seen) gets inode 110+n (pid 100+n), its accepted socket 210+n (pid
// 200), each connection its IPC value.
func asIPCConns(segs []segment.Segment, server netip.AddrPort, path string) []segment.Segment {
	conns := map[netip.AddrPort]*segment.IPC{}
	out := make([]segment.Segment, len(segs))
	for i, s := range segs {
		cl := s.Src
		if cl == server {
			cl = s.Dst
		}
		v := conns[cl]
		if v == nil {
			n := uint64(len(conns))
			v = &segment.IPC{Path: path, ClientPID: 100 + int(n), ClientComm: "dealer", ServerPID: 200, ServerComm: "router",
				ClientInode: 110 + n, ServerInode: 210 + n}
			conns[cl] = v
		}
		s.IPC, s.Ifindex = v, 0
		if s.Src == cl {
			s.Src, s.Dst = segment.IPCAddr(v.ClientInode, false), segment.IPCAddr(v.ServerInode, true)
		} else {
			s.Src, s.Dst = segment.IPCAddr(v.ServerInode, true), segment.IPCAddr(v.ClientInode, false)
		}
		out[i] = s
	}
	return out
}

// TestIPCDuplicateIdentity: two ipc connections to one path whose clients
// announce the same identity are the same ROUTER's (each accepted socket
// has an address of its own): the problem is found, naming the other
// client by its process.
func TestIPCDuplicateIdentity(t *testing.T) {
	const file = "../testdata/problem_duplicate_identity.pcap"
	cfg := &Config{IPC: []string{"/r.ipc"}, Output: output.Options{Location: time.UTC}, Snap: 64}
	segs := asIPCConns(readAll(t, file), netip.MustParseAddrPort("127.0.0.1:17039"), "/r.ipc")
	var stderr bytes.Buffer
	got := runIPCPipe(t, cfg, segs, &stderr, nil, nil)
	want := `problem: duplicate-identity: the client announces the identity "worker-1" that the open connection from pid 100 (dealer) to the same ROUTER already announced`
	if !strings.Contains(got, want) || !strings.Contains(got, "other_client=") {
		t.Errorf("no %q:\n%s", want, got)
	}
	if !strings.Contains(got, "pid 101 (dealer) > pid 200 (router) /r.ipc: problem: duplicate-identity") {
		t.Errorf("the problem line does not name the connection's ends:\n%s", got)
	}
	if strings.Contains(got+stderr.String(), "fd7a:") {
		t.Errorf("a synthetic address is printed:\n%s\n%s", got, stderr.String())
	}
}
