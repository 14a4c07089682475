package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/filter"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/session"
)

// config is the command line: the raw flags as cobra fills them, checked
// by finish. session() resolves it into the pipeline's session.Config.
type config struct {
	interfaces []string
	// ipc are the --ipc paths (globs allowed).
	ipc      []string
	ports    filter.Ports
	readFile string
	verbose  bool
	json     bool
	snap     int
	// snapSet reports --snap given on the command line.
	snapSet bool
	// wholePayloads is --whole-payloads: no kernel-side framing.
	wholePayloads bool
	ringKiB       int
	// showSecrets prints PLAIN passwords instead of hiding them.
	showSecrets bool
	backend     string
	// netns is the network namespace to capture in ("" for ours); --pid N
	// sets it to /proc/N/ns/net.
	netns string
	// pid and comm select connections by the processes owning their ends.
	pid  int
	comm string
	// expr is the filter expression when it is more than "port N or ...",
	// which becomes ports, the kernel's fast path.
	expr string
	// shards is the number of assembler goroutines (0: automatic).
	shards int
	// cpuProfile is the hidden --cpu-profile: a pprof CPU profile file.
	cpuProfile string
	// flows bounds TCP reassembly (zero fields take flows' defaults).
	flows flows.Config
	// loc is the time zone of text timestamps (nil: local time).
	loc *time.Location

	// writeFile is -w: write the captured packets as pcapng there ("-":
	// stdout).
	writeFile string
	// count is -c: stop after this many ZMTP messages (0: never).
	count int
	// duration is -G: stop after this long (reading a file: this much
	// capture time after its first packet).
	duration time.Duration
	// timeFormat is -t, -tt, -ttt, -tttt or --time.
	timeFormat output.TimeFormat
	// textOnly (-A) and hexDump (-X) shape how frame bodies are shown.
	textOnly, hexDump bool
	// summary is -q: print only the conversation table, at exit.
	summary bool
	// summaryRows bounds the rows of that table (0: no limit).
	summaryRows int
	// numeric counts -n: accepted for tcpdump's habits, output is numeric.
	numeric int
	// color and status say when to colour text and show a live status
	// line: auto, never or always.
	color, status string
	// colorOn and statusOn are what color and status resolve to.
	colorOn, statusOn bool
	// filterText is the expression as given, written to pcapng files.
	filterText string
	// explain is --explain: "" or "never" (off), "once" (each note once
	// per connection) or "all".
	explain string
	// ladder is --ladder: draw each connection at its end.
	ladder bool
	// statsFile is --stats-file: the exit statistics of a live capture,
	// as a JSON object, written there.
	statsFile string
	// diagnose holds the thresholds of diagnosis (--refused-attempts,
	// --refused-quiet, --stall-after); noProblems is --no-problems.
	diagnose   diagnose.Config
	noProblems bool
	// metrics is --metrics and its options (metricsflags.go).
	metrics metricsFlags
}

// minFrameKeep is the fewest body bytes kernel-side framing keeps of a frame:
// enough to tell a CURVE MESSAGE (prefix and nonce) or a subscription.
const minFrameKeep = 32

// frameKeep returns loader.Config.FrameKeep: how many body bytes of each
// message frame the kernel ships, or 0 to ship whole payloads. Framing is on
// unless asked off, or unless -w or -v want every packet as it was and
// --snap does not say otherwise.
func (c *config) frameKeep() int {
	if c.wholePayloads || (!c.snapSet && (c.writeFile != "" || c.verbose)) {
		return 0
	}
	return max(c.snap, minFrameKeep)
}

// usageError marks a bad command line (exit status 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		ifaces []string
		ports  []string
		cfg    = config{color: "auto", status: "auto"}
	)
	cmd := &cobra.Command{
		Use:   "zmtpdump [flags] [expression]",
		Short: "Capture and decode ZeroMQ (ZMTP) traffic",
		Long: `zmtpdump captures TCP traffic with eBPF (or reads a pcap/pcapng file) and
decodes the ZeroMQ Message Transport Protocol: greetings, commands such as
READY with their properties, and messages frame by frame.

The optional expression selects packets with tcpdump's filter language
(pcap-filter), e.g. "host 10.0.0.5 and port 7001"; it runs in the kernel.

With -w FILE the captured packets are also written as a pcapng file that
tcpdump and Wireshark read (-w - writes it to stdout and prints nothing
else there). -q prints a table of the conversations at exit instead of
every event. Stop with Ctrl-C, after -c messages or after -G.`,
		Example: `  sudo zmtpdump -i lo --port 7001
  sudo zmtpdump -v -i lo "port 7001 or port 7002"
  sudo zmtpdump -i eth0 --port 7001 --json
  sudo zmtpdump -i lo --port 7001 -w zmtp.pcapng -c 100
  sudo zmtpdump --ipc '/run/app/*.ipc' --json
  sudo zmtpdump --ipc /tmp/feed.ipc -i lo --port 7001
  sudo zmtpdump -i eth0 -q -G 60s "port 7001"
  zmtpdump -r capture.pcap -X -s 256 "port 7001"`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.snapSet = cmd.Flags().Changed("snap")
			if err := cfg.finish(ifaces, ports, args); err != nil {
				return usageError{err}
			}
			cfg.resolveTerminal(stdout, stderr, os.Getenv, isTerminal)
			if hook, ok := cmd.Context().Value(configHookKey{}).(func(*config) bool); ok && !hook(&cfg) {
				return nil
			}
			return run(cmd.Context(), &cfg, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&ifaces, "interface", "i", nil, `capture on this interface (repeatable; "any" for every interface that is up, followed as interfaces come and go)`)
	f.StringArrayVar(&cfg.ipc, "ipc", nil, "capture the ipc:// connections (Unix stream sockets) of the socket bound at this `PATH`, a glob allowed (repeatable; with -i, TCP in the same run)")
	f.StringArrayVar(&ports, "port", nil, "capture TCP traffic to or from this port, or range N-M (repeatable)")
	f.StringVarP(&cfg.readFile, "read", "r", "", "read packets from a pcap or pcapng file instead of capturing")
	f.BoolVarP(&cfg.verbose, "verbose", "v", false, "also print every TCP packet with its flags and sizes")
	f.BoolVar(&cfg.json, "json", false, "print JSON Lines instead of text")
	f.IntVarP(&cfg.snap, "snap", "s", 64, "show at most this many bytes of each frame body (the real size is always shown); live, the kernel copies only these (at least 32) of each message frame body")
	f.IntVarP(&cfg.ringKiB, "buffer-size", "B", loader.DefaultRingSize>>10, "kernel ring buffer size in KiB (a power of two); with --ipc the ipc capture has a ring of this size too")
	f.BoolVar(&cfg.showSecrets, "show-secrets", false, "print PLAIN passwords (hidden by default: their length, and each byte as * in dumps and JSON)")
	f.IntVar(&cfg.flows.MaxBufferedPerDir, "max-buffered-per-flow", flows.DefaultMaxBufferedPerDir, "out-of-order `BYTES` held per direction before the missing ones are declared lost")
	f.IntVar(&cfg.flows.MaxBufferedTotal, "max-buffered", flows.DefaultMaxBufferedTotal, "out-of-order `BYTES` held in all")
	f.IntVar(&cfg.flows.MaxFlows, "max-flows", flows.DefaultMaxFlows, "connections tracked at once; beyond, the least recently active is evicted")
	f.IntVar(&cfg.summaryRows, "summary-rows", session.DefaultSummaryRows, "rows of the -q table: the first conversations that end; later ones count only in a line of totals (0: no limit)")
	f.DurationVar(&cfg.flows.IdleTimeout, "idle-timeout", flows.DefaultIdleTimeout, "end connections idle this long")
	f.BoolVar(&cfg.flows.NoAckLoss, "merged", false, "the capture merges several capture points (mergecap): an acknowledgment may come before the bytes it acknowledges, so it does not prove them lost")
	f.IntVar(&cfg.shards, "shards", 0, "reassemble on this many goroutines (0: one per two CPUs on 4+ CPUs, else none)")
	f.StringVar(&cfg.cpuProfile, "cpu-profile", "", "write a Go CPU profile of the run to `FILE` (for developers)")
	for _, name := range []string{"shards", "cpu-profile"} {
		if err := f.MarkHidden(name); err != nil {
			panic(err)
		}
	}
	f.StringVar(&cfg.netns, "netns", "", "capture inside the network namespace at `PATH` (/var/run/netns/NAME, /proc/PID/ns/net)")
	f.IntVar(&cfg.pid, "pid", 0, "capture in process `PID`'s network namespace, and keep only connections it owns an end of")
	f.StringVar(&cfg.comm, "comm", "", "keep only connections one end of which a process named `NAME` owns")
	f.StringVar(&cfg.backend, "backend", string(loader.Auto), "attach with tcx (Linux 6.6+), socket (AF_PACKET socket filter, 5.8+) or auto")
	f.StringVar(&cfg.statsFile, "stats-file", "", "write the exit statistics of a live capture to `PATH` as a JSON object (the keys of --json's last line, \"event\":\"stats\")")
	f.BoolVar(&cfg.wholePayloads, "whole-payloads", false, "copy every payload byte out of the kernel (default with -w or -v unless --snap is given): no frame body left out")
	addOutputFlags(cmd, &cfg)
	addDiagnoseFlags(cmd, &cfg)
	addMetricsFlags(cmd, &cfg)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.AddCommand(newCheckCommand(stdout), newVersionCommand(stdout), newGenDocsCommand())
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	return cmd
}

// finish validates the flags and the positional expression into cfg.
func (c *config) finish(ifaces, ports, args []string) error {
	for _, s := range ports {
		p, err := filter.ParsePortSpec(s)
		if err != nil {
			return fmt.Errorf("--port: %w", err)
		}
		c.ports.Add(p...)
	}
	if len(args) > 0 {
		expr := strings.Join(args, " ")
		if simple, err := filter.ParseExpression(expr); err == nil {
			// "port N or port M": the kernel's port table does it fastest.
			c.ports.Add(simple.List()...)
		} else {
			// Compile now, so that a bad expression fails before anything
			// is loaded; it is compiled again per link type.
			if _, err := filter.Compile(expr, filter.Ethernet); err != nil {
				return err
			}
			c.expr = expr
		}
	}
	c.interfaces = ifaces
	switch {
	case c.flows.MaxBufferedPerDir <= 0 || c.flows.MaxBufferedTotal <= 0 || c.flows.MaxFlows <= 0 || c.flows.IdleTimeout <= 0:
		return errors.New("--max-buffered-per-flow, --max-buffered, --max-flows and --idle-timeout must be positive")
	case c.pid < 0:
		return fmt.Errorf("--pid %d: want a process id", c.pid)
	case c.pid > 0 && c.netns != "":
		return errors.New("--pid and --netns exclude each other: --pid captures in that process's namespace")
	case c.readFile != "" && (c.netns != "" || c.pid != 0 || c.comm != ""):
		return errors.New("--netns, --pid and --comm need a live capture, not -r")
	case c.readFile != "" && c.statsFile != "":
		return errors.New("--stats-file writes the statistics of a live capture: -r prints none")
	case c.statsFile == "-":
		return errors.New("--stats-file -: name a file; --json already ends stdout with the statistics")
	case c.statsFile != "" && c.statsFile == c.writeFile:
		return errors.New("--stats-file and -w name the same file")
	case c.readFile != "" && len(ifaces) > 0:
		return errors.New("-r and -i exclude each other: read a file or capture live")
	case c.readFile != "" && len(c.ipc) > 0:
		return errors.New("-r and --ipc exclude each other: --ipc captures live (a -w file's ipc streams read back with -r alone)")
	case c.readFile == "" && len(ifaces) == 0 && len(c.ipc) == 0:
		return errors.New("no interface: say where to capture with -i IFACE (e.g. -i lo) or --ipc PATH, or read a file with -r FILE")
	case len(ifaces) == 0 && len(c.ipc) > 0 && (len(ports) > 0 || len(args) > 0):
		return errors.New("--port and filter expressions select TCP, which --ipc alone does not capture: say where with -i (e.g. -i lo --ipc PATH --port 7001)")
	case slices.Contains(c.ipc, ""):
		return errors.New("--ipc \"\": name a socket's path (or a glob)")
	}
	ipc, err := ipcPaths(c.ipc)
	if err != nil {
		return err
	}
	c.ipc = ipc
	if c.snap < 0 {
		return fmt.Errorf("--snap %d: must be 0 or more", c.snap)
	}
	c.filterText = strings.Join(args, " ")
	if err := c.finishOutput(); err != nil {
		return err
	}
	if err := c.finishDiagnose(); err != nil {
		return err
	}
	if err := c.finishMetrics(); err != nil {
		return err
	}
	switch loader.Backend(c.backend) {
	case loader.Auto, loader.TCX, loader.Socket:
	default:
		return fmt.Errorf("--backend %q: want tcx, socket or auto", c.backend)
	}
	if c.ringKiB <= 0 || c.ringKiB&(c.ringKiB-1) != 0 {
		return fmt.Errorf("--buffer-size %d: must be a power of two (KiB)", c.ringKiB)
	}
	return nil
}

// configHookKey carries, in a command's context, a function that adjusts the
// validated config (tests use it to print times in UTC) and says whether
// to run (tests of the command line say no).
type configHookKey struct{}

func withConfigHook(ctx context.Context, hook func(*config) bool) context.Context {
	return context.WithValue(ctx, configHookKey{}, hook)
}
