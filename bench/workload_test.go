package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func capturerByName(t *testing.T, b *bins, name string) capturer {
	t.Helper()
	for _, c := range capturers(b) {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no capturer %q", name)
	return capturer{}
}

// TestCommand: a TCP run captures on lo with "port P" last; an ipc run
// selects the matched socket with --ipc PATH and has no -i and no filter;
// a zmtpdump gets -zargs and --stats-file after its own flags.
func TestCommand(t *testing.T) {
	b := &bins{zmtpdump: "/b/zmtpdump", tcpdump: "/usr/bin/tcpdump", hasWrite: true, hasMetrics: true,
		zargs: []string{"-B", "65536"}}
	tcp := target{port: 7001}
	ipc := target{path: "/tmp/d/bench-1.ipc"}
	for _, tc := range []struct {
		name      string
		t         target
		statsFile string
		wantPath  string
		want      []string
	}{
		{"zmtpdump-q", tcp, "/dev/shm/s.json", "/b/zmtpdump",
			[]string{"-i", "lo", "-q", "-B", "65536", "--stats-file", "/dev/shm/s.json", "port 7001"}},
		{"zmtpdump-q", ipc, "/dev/shm/s.json", "/b/zmtpdump",
			[]string{"--ipc", "/tmp/d/bench-1.ipc", "-q", "-B", "65536", "--stats-file", "/dev/shm/s.json"}},
		{"zmtpdump-json", ipc, "", "/b/zmtpdump",
			[]string{"--ipc", "/tmp/d/bench-1.ipc", "--json", "-B", "65536"}},
		{"zmtpdump-text", ipc, "/s", "/b/zmtpdump",
			[]string{"--ipc", "/tmp/d/bench-1.ipc", "-B", "65536", "--stats-file", "/s"}},
		{"zmtpdump-ws", tcp, "/s", "/b/zmtpdump",
			[]string{"-i", "lo", "-s", "64", "-w", "/dev/null", "-B", "65536", "--stats-file", "/s", "port 7001"}},
		{"tcpdump", tcp, "", "/usr/bin/tcpdump",
			[]string{"-i", "lo", "-n", "-w", "/dev/null", "port 7001"}},
	} {
		path, args := capturerByName(t, b, tc.name).command(b, tc.t, tc.statsFile)
		if path != tc.wantPath {
			t.Errorf("%s %+v: path %q, want %q", tc.name, tc.t, path, tc.wantPath)
		}
		if d := cmp.Diff(tc.want, args); d != "" {
			t.Errorf("%s %+v: args (-want +got):\n%s", tc.name, tc.t, d)
		}
	}
	// --metrics takes an address of its own each run.
	_, args := capturerByName(t, b, "zmtpdump-q-metrics").command(b, ipc, "")
	if len(args) < 5 || args[0] != "--ipc" || args[2] != "-q" || args[3] != "--metrics" || !strings.HasPrefix(args[4], "127.0.0.1:") {
		t.Errorf("zmtpdump-q-metrics on ipc: %q", args)
	}
}

// TestSkipFor: on ipc workloads tcpdump and the -w cells are skipped with
// a note, the others run; on TCP every capturer runs; a capturer the
// binary cannot run says so on either.
func TestSkipFor(t *testing.T) {
	var tcp, ipc workload
	for _, w := range workloads(1) {
		switch w.name {
		case "small":
			tcp = w
		case "ipc":
			ipc = w
		}
	}
	runsOnIPC := map[string]bool{"none": true, "zmtpdump-json": true, "zmtpdump-json-null": true,
		"zmtpdump-text": true, "zmtpdump-q": true, "zmtpdump-q-metrics": true}
	for _, c := range capturers(&bins{tcpdump: "/usr/bin/tcpdump", hasWrite: true, hasMetrics: true}) {
		if s := c.skipFor(tcp); s != "" {
			t.Errorf("%s skipped on tcp: %s", c.name, s)
		}
		s := c.skipFor(ipc)
		if runsOnIPC[c.name] != (s == "") {
			t.Errorf("%s on ipc: skip %q", c.name, s)
		}
	}
	for name, want := range map[string]string{
		"tcpdump":     "tcpdump sees no Unix sockets",
		"zmtpdump-wq": "the -w cells are measured against tcpdump, which sees no Unix sockets",
	} {
		if s := capturerByName(t, &bins{tcpdump: "x", hasWrite: true}, name).skipFor(ipc); s != want {
			t.Errorf("%s on ipc: skip %q, want %q", name, s, want)
		}
	}
	// The binary's own reason wins on both transports.
	qm := capturerByName(t, &bins{}, "zmtpdump-q-metrics")
	for _, w := range []workload{tcp, ipc} {
		if s := qm.skipFor(w); !strings.Contains(s, "--metrics") {
			t.Errorf("zmtpdump-q-metrics without --metrics on %s: skip %q", w.name, s)
		}
	}
}

// TestWorkloads: the four TCP workloads are as they were, and the two ipc
// ones follow, full size and divided by -quick's 10; the default run
// (no -workloads) runs all six.
func TestWorkloads(t *testing.T) {
	type shape struct {
		name             string
		count, size, con int
		tr               transport
		side             sideFlow
	}
	get := func(div int) []shape {
		var out []shape
		for _, w := range workloads(div) {
			s := shape{w.name, w.count, w.size, w.conns, w.transport, sideFlow{}}
			if w.side != nil {
				s.side = *w.side
			}
			out = append(out, s)
		}
		return out
	}
	want := []shape{
		{"small", 2_000_000, 64, 1, tcpTransport, sideFlow{}},
		{"large", 2_000, 1 << 20, 1, tcpTransport, sideFlow{}},
		{"conns", 1_000_000, 64, 100, tcpTransport, sideFlow{}},
		{"unrelated", 2_000_000, 64, 1, tcpTransport, sideFlow{1_500, 1_000}},
		{"ipc", 2_000_000, 64, 1, ipcTransport, sideFlow{}},
		{"ipc-unrelated", 2_000_000, 64, 1, ipcTransport, sideFlow{1_500, 1_000}},
	}
	if d := cmp.Diff(want, get(1), cmp.AllowUnexported(shape{}, sideFlow{})); d != "" {
		t.Errorf("full size (-want +got):\n%s", d)
	}
	quick := get(10)
	if quick[4].count != 200_000 || quick[5].count != 200_000 || quick[5].side.count != 150 {
		t.Errorf("-quick ipc workloads: %+v %+v", quick[4], quick[5])
	}
	all, err := pick(workloads(1), func(w workload) string { return w.name }, func(workload) bool { return true }, "", "workload")
	if err != nil || len(all) != 6 {
		t.Errorf("default workloads: %d, %v", len(all), err)
	}
	ws, err := pick(workloads(1), func(w workload) string { return w.name }, func(workload) bool { return true }, "ipc,ipc-unrelated", "workload")
	if err != nil || len(ws) != 2 || ws[0].name != "ipc" || ws[1].name != "ipc-unrelated" {
		t.Errorf("-workloads ipc,ipc-unrelated: %v, %v", ws, err)
	}
}

// TestFirstOfTransport: the idle cost is measured in the reps of the
// first workload of each transport, and only there.
func TestFirstOfTransport(t *testing.T) {
	ws := workloads(1)
	var got []string
	for i, w := range ws {
		if firstOfTransport(ws, i) {
			got = append(got, w.name)
		}
	}
	if d := cmp.Diff([]string{"small", "ipc"}, got); d != "" {
		t.Errorf("all workloads (-want +got):\n%s", d)
	}
	ipcOnly := ws[4:]
	if !firstOfTransport(ipcOnly, 0) || firstOfTransport(ipcOnly, 1) {
		t.Error("ipc, ipc-unrelated: the idle cost not measured once, on ipc")
	}
}

// TestFlowEndpoint: a flow's endpoint is its TCP port on 127.0.0.1, or
// its ipc socket's path.
func TestFlowEndpoint(t *testing.T) {
	if got := (&flow{port: 7001}).endpoint(); got != "tcp://127.0.0.1:7001" {
		t.Errorf("tcp endpoint %q", got)
	}
	if got := (&flow{port: 7001, path: "/tmp/d/bench-0.ipc"}).endpoint(); got != "ipc:///tmp/d/bench-0.ipc" {
		t.Errorf("ipc endpoint %q", got)
	}
}

// TestUnixListening: a receiver listens at its path once /proc/net/unix
// lists a stream socket there with __SO_ACCEPTCON; a connected socket
// at the path (an accepted connection), a datagram socket, a listener
// elsewhere or a path that only starts the same do not count.
func TestUnixListening(t *testing.T) {
	const table = `Num       RefCount Protocol Flags    Type St Inode Path
00000000b1faeb1d: 00000002 00000000 00010000 0001 01 2665798 /tmp/a/bench-0.ipc
00000000a876cf9e: 00000003 00000000 00000000 0001 03 2665801 /tmp/b/bench-0.ipc
00000000a876cf9f: 00000002 00000000 00010000 0002 01 2665802 /tmp/c/bench-0.ipc
00000000a876cfa0: 00000002 00000000 00010000 0001 01 2665803 /tmp/d/bench-0.ipc.old
00000000a876cfa1: 00000003 00000000 00000000 0001 03   575
`
	for path, want := range map[string]bool{
		"/tmp/a/bench-0.ipc": true,
		"/tmp/b/bench-0.ipc": false,
		"/tmp/c/bench-0.ipc": false,
		"/tmp/d/bench-0.ipc": false,
		"/tmp/e/bench-0.ipc": false,
	} {
		if got := unixListening(table, path); got != want {
			t.Errorf("%s: listening %v, want %v", path, got, want)
		}
	}
}
