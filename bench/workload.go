package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// workload is one kind of traffic.
type workload struct {
	name string
	desc string
	// count messages of size bytes over conns connections: the measured
	// flow, whose receiver's rate is the application's throughput.
	count, size, conns int
	// wait is how long the sender lets its connections come up.
	wait time.Duration
	// side, if set, is a small flow that the capture selects; the
	// measured flow is then on a port (ipc: a socket) it does not select.
	side *sideFlow
	// transport is how the peers connect, and so how the capture selects
	// the matched flow.
	transport transport
}

// transport is how a workload's peers connect.
type transport int

const (
	// tcp://127.0.0.1:P, captured on lo with the filter "port P".
	tcpTransport transport = iota
	// ipc://DIR/bench-N.ipc, captured with --ipc DIR/bench-N.ipc.
	ipcTransport
)

func (t transport) String() string {
	if t == ipcTransport {
		return "ipc"
	}
	return "tcp"
}

// target is what a capture selects: the matched flow's TCP port on lo, or
// (path set) its ipc socket's path.
type target struct {
	port int
	path string
}

// sideFlow is a small paced flow beside the measured one.
type sideFlow struct {
	count int
	rate  float64
}

// workloads returns the workloads, scaled down by div (1: full size).
func workloads(div int) []workload {
	return []workload{
		{name: "small", desc: fmt.Sprintf("%s × 64 B", thousands(2_000_000/div)),
			count: 2_000_000 / div, size: 64, conns: 1, wait: 200 * time.Millisecond},
		{name: "large", desc: fmt.Sprintf("%s × 1 MiB", thousands(2_000/div)),
			count: 2_000 / div, size: 1 << 20, conns: 1, wait: 200 * time.Millisecond},
		{name: "conns", desc: fmt.Sprintf("%s × 64 B, 100 conns", thousands(1_000_000/div)),
			count: 1_000_000 / div, size: 64, conns: 100, wait: 500 * time.Millisecond},
		{name: "unrelated", desc: fmt.Sprintf("%s × 64 B unmatched + %s matched", thousands(2_000_000/div), thousands(1_500/div)),
			count: 2_000_000 / div, size: 64, conns: 1, wait: 200 * time.Millisecond,
			side: &sideFlow{count: 1_500 / div, rate: 1_000}},
		{name: "ipc", desc: fmt.Sprintf("%s × 64 B over ipc://", thousands(2_000_000/div)),
			count: 2_000_000 / div, size: 64, conns: 1, wait: 200 * time.Millisecond, transport: ipcTransport},
		{name: "ipc-unrelated", desc: fmt.Sprintf("%s × 64 B over an unselected ipc:// + %s matched", thousands(2_000_000/div), thousands(1_500/div)),
			count: 2_000_000 / div, size: 64, conns: 1, wait: 200 * time.Millisecond, transport: ipcTransport,
			side: &sideFlow{count: 1_500 / div, rate: 1_000}},
	}
}

// capturerKind says how a capturer is run and how its statistics read.
type capturerKind int

const (
	noCapture capturerKind = iota
	tcpdumpKind
	zmtpdumpKind
)

// capturer is one way of capturing the workload's traffic.
type capturer struct {
	name string
	kind capturerKind
	// flags returns the capturer's own flags, those after what selects
	// the traffic (-i lo, or --ipc PATH), for one run.
	flags func() []string
	// jsonOut sends stdout to a file on tmpfs whose message events are
	// counted; otherwise stdout goes to /dev/null.
	jsonOut bool
	// skip, if set, says why this capturer cannot run here.
	skip string
	// noIPC, if set, says why this capturer does not run on ipc
	// workloads.
	noIPC string
	// optional capturers run only when -capturers names them.
	optional bool
}

// fixed returns flags that are the same for every run.
func fixed(flags ...string) func() []string {
	return func() []string { return flags }
}

// Why the tcpdump and -w cells are left out of ipc workloads.
const (
	noTCPDump = "tcpdump sees no Unix sockets"
	noWrite   = "the -w cells are measured against tcpdump, which sees no Unix sockets"
)

func capturers(b *bins) []capturer {
	cs := []capturer{
		{name: "none", kind: noCapture},
		{name: "tcpdump", kind: tcpdumpKind, flags: fixed("-n", "-w", "/dev/null"), noIPC: noTCPDump},
		{name: "zmtpdump-w", kind: zmtpdumpKind, flags: fixed("-w", "/dev/null"), noIPC: noWrite},
		{name: "zmtpdump-wq", kind: zmtpdumpKind, flags: fixed("-q", "-w", "/dev/null"), noIPC: noWrite},
		{name: "zmtpdump-ws", kind: zmtpdumpKind, flags: fixed("-s", "64", "-w", "/dev/null"), noIPC: noWrite},
		{name: "zmtpdump-json", kind: zmtpdumpKind, jsonOut: true, flags: fixed("--json")},
		{name: "zmtpdump-json-null", kind: zmtpdumpKind, flags: fixed("--json")},
		{name: "zmtpdump-text", kind: zmtpdumpKind, flags: fixed()},
		{name: "zmtpdump-q", kind: zmtpdumpKind, flags: fixed("-q")},
		{name: "zmtpdump-q-metrics", kind: zmtpdumpKind, flags: func() []string {
			return []string{"-q", "--metrics", metricsAddr()}
		}},
	}
	for i := range cs {
		switch {
		case cs[i].kind == tcpdumpKind && b.tcpdump == "":
			cs[i].skip = "tcpdump not found"
		case strings.HasPrefix(cs[i].name, "zmtpdump-w") && !b.hasWrite:
			cs[i].skip = "needs -w: zmtpdump has no -w (--write) flag yet"
		case cs[i].name == "zmtpdump-q-metrics" && !b.hasMetrics:
			cs[i].skip = "needs --metrics: zmtpdump has no --metrics flag yet"
		}
	}
	return cs
}

// skipFor says why c does not run on workload w ("": it does).
func (c capturer) skipFor(w workload) string {
	if c.skip == "" && w.transport == ipcTransport {
		return c.noIPC
	}
	return c.skip
}

// command returns c's command line for a run that selects t: -i lo and
// the filter "port P" last, or --ipc PATH (zmtpdump only: tcpdump sees no
// Unix sockets). A zmtpdump also gets the extra arguments (-zargs) and,
// when statsFile is set, --stats-file.
func (c capturer) command(b *bins, t target, statsFile string) (string, []string) {
	args := []string{"-i", "lo"}
	if t.path != "" {
		args = []string{"--ipc", t.path}
	}
	args = append(args, c.flags()...)
	path := b.tcpdump
	if c.kind == zmtpdumpKind {
		path = b.zmtpdump
		args = append(args, b.zargs...)
		if statsFile != "" {
			args = append(args, "--stats-file", statsFile)
		}
	}
	if t.path == "" {
		args = append(args, fmt.Sprintf("port %d", t.port))
	}
	return path, args
}

// metricsAddr returns 127.0.0.1:PORT, PORT free now, for one run's
// --metrics (port 0, the kernel's pick, if none is found).
func metricsAddr() string {
	port, err := livetest.FreePort()
	if err != nil {
		port = 0
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// label is how the table names a capturer.
func (c capturer) label() string {
	switch c.name {
	case "tcpdump":
		return "tcpdump -w /dev/null"
	case "zmtpdump-w":
		return "zmtpdump -w /dev/null"
	case "zmtpdump-wq":
		return "zmtpdump -q -w /dev/null"
	case "zmtpdump-ws":
		return "zmtpdump -s 64 -w /dev/null"
	case "zmtpdump-json":
		return "zmtpdump --json > tmpfs"
	case "zmtpdump-json-null":
		return "zmtpdump --json > /dev/null"
	case "zmtpdump-text":
		return "zmtpdump > /dev/null"
	case "zmtpdump-q":
		return "zmtpdump -q"
	case "zmtpdump-q-metrics":
		return "zmtpdump -q --metrics"
	}
	return "no capture"
}

// pick keeps the items whose name is in the comma-separated list (when the
// list is empty, those that keep says to); an unknown name is an error.
func pick[T any](items []T, name func(T) string, keep func(T) bool, list, what string) ([]T, error) {
	if list == "" {
		var out []T
		for _, it := range items {
			if keep(it) {
				out = append(out, it)
			}
		}
		return out, nil
	}
	var out []T
	for _, want := range strings.Split(list, ",") {
		found := false
		for _, it := range items {
			if name(it) == want {
				out = append(out, it)
				found = true
			}
		}
		if !found {
			var names []string
			for _, it := range items {
				names = append(names, name(it))
			}
			return nil, fmt.Errorf("unknown %s %q: want one of %s", what, want, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// thousands formats n with commas: 2000000 is "2,000,000".
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
