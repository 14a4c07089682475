package session

import (
	"os"
	"runtime"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/filter"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/pcapfile"
)

// Config is a resolved, validated run: what the command line asked for,
// in the terms the pipeline works in. The command builds it from its flags
// and checks it; Run takes it as it is.
type Config struct {
	// ReadFile is the pcap or pcapng file to read (-r); "" captures live.
	ReadFile string
	// FileFilter, when reading a file with a filter expression, tells
	// whether a frame of the link type matches it.
	FileFilter func(lt pcapfile.LinkType, frame []byte) (bool, error)
	// Loader is the live capture's configuration (not reading a file);
	// without interfaces, no TCP is captured (--ipc alone).
	Loader loader.Config
	// IPC are the --ipc paths (globs allowed): the Unix stream sockets
	// bound there are captured too (live only; none: no ipc capture).
	IPC []string
	// Ports are the ports selected: reading a file, the segments kept;
	// live, what the start-up line names.
	Ports filter.Ports
	// Expr is the filter expression when it is more than ports (for the
	// start-up line).
	Expr string
	// FilterText is the expression as given, written to pcapng files.
	FilterText string
	// PID and Comm keep only connections a process with that id or name
	// owns an end of (live only; 0 and "": all).
	PID  int
	Comm string

	// JSON prints JSON Lines instead of text.
	JSON bool
	// Output shapes the printer's lines (Options.Stderr is set by Run).
	Output output.Options
	// Verbose prints every TCP segment too (-v).
	Verbose bool
	// Snap is how many bytes of each frame body are shown (0: sizes only).
	Snap int
	// Summary prints only the conversation table at exit (-q), with at
	// most SummaryRows rows (0: all).
	Summary     bool
	SummaryRows int
	// Count stops after this many ZMTP messages (0: never).
	Count uint64
	// Duration stops after this long (reading a file: this much capture
	// time after its first packet; 0: never).
	Duration time.Duration
	// Explain and Ladder are learning mode (--explain, --ladder).
	Explain Explain
	Ladder  bool
	// Status shows the live status line on stderr.
	Status bool
	// NoProblems turns diagnosis off (--no-problems): no problem event,
	// no health figures, no exit summary of problems.
	NoProblems bool
	// Diagnose holds the detectors' thresholds (zero fields take
	// diagnose's defaults).
	Diagnose diagnose.Config

	// WriteFile writes the packets as pcapng there (-w; "-": stdout, and
	// nothing else is printed there).
	WriteFile string
	// Application names the program in the pcapng file.
	Application string
	// StatsFile receives the exit statistics as a JSON object (live only;
	// "": none).
	StatsFile string
	// Create creates the files written (-w, StatsFile); nil: CreateFile.
	Create func(name string) (*os.File, error)

	// Metrics is the address --metrics serves Prometheus metrics at (live
	// only; "": none); MetricsMaxSeries caps its services
	// (--metrics-max-series; 0: metrics.DefaultMaxServices);
	// MetricsPodLabels adds the pod and namespace labels
	// (--metrics-pod-labels); MetricsExpire drops services without open
	// connections (--metrics-expire; 0: metrics.DefaultExpire).
	Metrics          string
	MetricsMaxSeries int
	MetricsPodLabels bool
	MetricsExpire    time.Duration

	// Flows bounds TCP reassembly (zero fields take flows' defaults).
	Flows flows.Config
	// Shards is the number of reassembly goroutines (0: automatic).
	Shards int
}

// Explain is the --explain mode.
type Explain uint8

// Explain modes.
const (
	// ExplainOff: no notes.
	ExplainOff Explain = iota
	// ExplainOnce: each note once per connection.
	ExplainOnce
	// ExplainAll: every note every time it applies.
	ExplainAll
)

// DefaultSummaryRows is the default SummaryRows: a conversation kept for
// the -q table costs about 460 bytes, so 10,000 rows hold about 5 MB
// however long the capture runs.
const DefaultSummaryRows = 10000

// live reports a live capture.
func (c *Config) live() bool { return c.ReadFile == "" }

// tcp reports a live capture of TCP: interfaces to capture on (with
// --ipc alone, none).
func (c *Config) tcp() bool { return c.live() && (len(c.Loader.Interfaces) > 0 || len(c.IPC) == 0) }

// shards picks how many assembler goroutines a live capture gets. With
// -v, packet lines and the events they carry must come out in order: one.
// On small machines the reader and the shards would fight for the same
// cores (measured slower on 2 CPUs): one, run by the reader itself.
func (c *Config) shards() int {
	if !c.live() || c.Verbose {
		return 0
	}
	if c.Shards > 0 {
		return c.Shards
	}
	if n := runtime.NumCPU(); n >= 4 {
		return n / 2
	}
	return 0
}
