package session

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Pipeline carries segments from a source to the printer, and to the
// pcapng writer of -w: reassembly (flows), decoding (zmtp, a session per
// connection), the owner gate (--pid, --comm) and the sink that prints
// and counts.
type Pipeline struct {
	cfg  *Config
	sink *sink
	asm  flows.Reassembler
	// procs finds connections' owners (live captures only; nil otherwise).
	procs *owners
	// joiner writes sync points into kernel-side framing (live captures
	// whose kernel walks frames; nil otherwise).
	joiner joiner
	// pcap writes -w's file once the interfaces are known; pcapErr is its
	// first error, which stops the capture.
	pcap    *pcapOut
	pcapErr error
	// statsFile is --stats-file's, opened with -w's (nil: none asked).
	statsFile *os.File
	// iface describes an interface of a live capture by its index, for the
	// -w file: one that came up during the capture gets its block before
	// its first packet (nil when reading a file).
	iface func(index int) (loader.Interface, bool)
	// refused finds connect-refused bursts in the SYNs and RSTs (nil:
	// --no-problems).
	refused *diagnose.Refused
	// diagnose is the detectors' thresholds, copied from cfg once: every
	// connection's diagnose.Conn shares it (nil: --no-problems).
	diagnose *diagnose.Config
	// met is --metrics (session/metrics.go; nil: off).
	met *pipeMetrics
	// ipcEnds is what the ipc capture learnt of its connections' ends
	// (nil: none), set before the first segment.
	ipcEnds *ipcEnds
	// ipcConns counts the ipc connections seen (sessions made on shard
	// goroutines count too).
	ipcConns atomic.Uint64
}

// New returns the pipeline of cfg, printing to stdout (the statistics for
// people to stderr). Close it when done.
func New(cfg *Config, stdout, stderr io.Writer) *Pipeline {
	p := &Pipeline{cfg: cfg}
	opts := cfg.Output
	opts.Stderr = stderr
	if cfg.JSON {
		p.sink = newSink(output.NewJSONOptions(stdout, opts))
	} else {
		p.sink = newSink(output.NewText(stdout, opts))
	}
	p.sink.quiet = cfg.Summary || cfg.WriteFile == "-"
	p.sink.collect, p.sink.maxConvs = cfg.Summary, cfg.SummaryRows
	p.sink.limit = cfg.Count
	p.sink.finishOnClose = !cfg.live() && cfg.WriteFile != "" && cfg.WriteFile != "-"
	zopts := zmtp.Options{MaxBody: cfg.Snap}
	if cfg.Snap == 0 {
		zopts.MaxBody = -1 // sizes only
	}
	p.newDiagnosis()
	p.met = newMetrics(cfg)
	factory := func(c *flows.Conn) flows.Consumer {
		s := newSession(c, p.sink, zopts, p.procs)
		s.learn = cfg.newLearning(c)
		if c.Ifindex == IPCIfindex { // the feed's segments; not by address
			p.ipcConns.Add(1)
		} else { // the kernel's framing walk is TCP's
			s.joiner = p.joiner
		}
		s.diag = p.newDiag(c.Client, c.Server)
		s.met = p.openMetrics(c)
		return s
	}
	if n := cfg.shards(); n > 0 {
		p.sink.shared = true
		p.asm = flows.NewSharded(cfg.Flows, flows.ShardConfig{Shards: n}, factory)
	} else {
		p.asm = flows.New(cfg.Flows, factory)
	}
	return p
}

// Add handles one segment.
func (p *Pipeline) Add(seg *segment.Segment) {
	p.sink.count()
	if p.pcap != nil || p.cfg.Verbose {
		p.procs.pass(seg, p.write) // --pid and --comm first: see ownerGate
	}
	p.refusedSegment(seg)
	p.asm.Add(seg)
}

// Flush writes out the output buffered and returns the first write error.
func (p *Pipeline) Flush() error { return p.sink.flush() }

// Messages returns how many ZMTP messages were decoded.
func (p *Pipeline) Messages() uint64 { return p.sink.messageCount() }

// Reassembly returns the reassembler's counts.
func (p *Pipeline) Reassembly() flows.Stats { return p.asm.Stats() }

// Close stops the reassembler's goroutines. It does not end the
// connections still open.
func (p *Pipeline) Close() { p.asm.Close() }

// write writes seg to the -w file and prints it under -v.
func (p *Pipeline) write(seg *segment.Segment) {
	if p.pcap != nil && p.pcapErr == nil {
		if p.iface != nil && !p.pcap.w.Knows(seg.Ifindex) {
			if ifc, ok := p.iface(seg.Ifindex); ok {
				p.pcapErr = p.pcap.w.AddInterface(pcapInterface(ifc, p.cfg.FilterText))
			}
		}
		if p.pcapErr == nil {
			p.pcapErr = p.pcap.write(seg)
		}
	}
	p.sink.printPacket(seg, p.cfg.Verbose)
}

// err returns the first error writing the output or the pcapng file.
func (p *Pipeline) err() error {
	if p.pcapErr != nil {
		return p.pcapErr
	}
	return p.sink.err()
}

// Run reads the file or captures live, as cfg says, printing to stdout
// (messages for people and the exit statistics to stderr) until the
// source ends, ctx is done, -c or -G is reached or writing fails. A
// reader of stdout gone away (zmtpdump | head) is no error.
func Run(ctx context.Context, cfg *Config, stdout, stderr io.Writer) (err error) {
	if cfg.Create == nil {
		c := *cfg
		c.Create = CreateFile
		cfg = &c
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 && cfg.live() {
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	text, table := stdout, stdout
	if cfg.WriteFile == "-" {
		text, table = io.Discard, stderr
	}
	p := New(cfg, text, stderr)
	p.sink.stop = cancel
	if cfg.WriteFile != "" {
		p.pcap = &pcapOut{name: cfg.WriteFile, stdout: stdout, app: cfg.Application, create: cfg.Create}
		if len(cfg.IPC) > 0 {
			p.pcap.comment = ipcPcapComment(strings.Join(cfg.IPC, " "))
		}
	}
	if err := p.met.listen(); err != nil {
		return err
	}
	defer func() {
		if merr := p.met.close(); err == nil {
			err = merr
		}
	}()
	var st *output.Stats
	if cfg.live() {
		st, err = p.capture(ctx, stderr)
	} else {
		err = p.readFile(ctx)
	}
	p.Close()
	// What was printed goes out before the summaries on stderr, so that
	// a terminal (or 2>&1) shows them after it; the error is kept, the
	// last flush returns it.
	_ = p.sink.flush()
	p.sink.writeProblems()
	if st != nil {
		p.sink.stats(st)
	}
	if serr := p.writeStatsFile(st); err == nil {
		err = serr
	}
	if ferr := p.sink.flush(); err == nil {
		err = ferr
	}
	if p.pcap != nil {
		if cerr := p.pcap.close(); err == nil {
			err = cerr
		}
	}
	if err == nil && cfg.Summary {
		err = p.sink.writeConversations(table)
	}
	if errors.Is(err, os.ErrClosed) || isBrokenPipe(err) {
		return nil
	}
	return err
}
