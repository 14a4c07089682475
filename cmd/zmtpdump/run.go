package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// assembler is what the pipeline needs of flows: the single-goroutine
// Assembler or the Sharded front end.
type assembler interface {
	Add(seg *capture.Segment)
	Expire(now time.Time)
	Flush(now time.Time)
	Stats() flows.Stats
}

// pipeline carries segments from a source to the printer.
type pipeline struct {
	cfg  *config
	sink *sink
	asm  assembler
	// closeAsm stops a sharded assembler's goroutines.
	closeAsm func()
}

// shardsFor picks how many assembler goroutines a live capture gets. With
// -v, packet lines and the events they carry must come out in order: one.
// On small machines the reader and the shards would fight for the same
// cores (measured slower on 2 CPUs): one, run by the reader itself.
func shardsFor(cfg *config) int {
	if cfg.readFile != "" || cfg.verbose {
		return 0
	}
	if cfg.shards > 0 {
		return cfg.shards
	}
	if n := runtime.NumCPU(); n >= 4 {
		return n / 2
	}
	return 0
}

func newPipeline(cfg *config, stdout io.Writer) *pipeline {
	p := &pipeline{cfg: cfg, sink: &sink{}}
	opts := output.Options{Location: cfg.loc, Verbose: cfg.verbose, ShowSecrets: cfg.showSecrets}
	if cfg.json {
		p.sink.out = output.NewJSONOptions(stdout, opts)
	} else {
		p.sink.out = output.NewText(stdout, opts)
	}
	zopts := zmtp.Options{MaxBody: cfg.snap}
	if cfg.snap == 0 {
		zopts.MaxBody = -1 // sizes only
	}
	factory := func(c *flows.Conn) flows.Consumer { return newSession(c, p.sink, zopts) }
	if n := shardsFor(cfg); n > 0 {
		sh := flows.NewSharded(flows.Config{}, flows.ShardConfig{Shards: n}, factory)
		p.asm, p.closeAsm = sh, sh.Close
	} else {
		p.asm, p.closeAsm = flows.New(flows.Config{}, factory), func() {}
	}
	return p
}

// add handles one segment.
func (p *pipeline) add(seg *capture.Segment) {
	p.sink.packet(seg, p.cfg.verbose)
	p.asm.Add(seg)
}

func run(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	p := newPipeline(cfg, stdout)
	var err error
	if cfg.readFile != "" {
		err = p.readFile(ctx)
	} else {
		err = p.capture(ctx, stderr)
	}
	p.closeAsm()
	if ferr := p.sink.flush(); err == nil {
		err = ferr
	}
	if errors.Is(err, os.ErrClosed) || isBrokenPipe(err) {
		return nil
	}
	return err
}

func (p *pipeline) readFile(ctx context.Context) error {
	r, err := pcapfile.Open(p.cfg.readFile)
	if err != nil {
		return err
	}
	defer r.Close()
	if p.cfg.expr != "" {
		r.SetFilter(newFileFilter(p.cfg.expr).match)
	}
	var seg capture.Segment
	var last time.Time
	defer func() { p.asm.Flush(last) }()
	for ctx.Err() == nil {
		if err := r.Next(&seg); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if !p.cfg.ports.Match(seg.Src.Port(), seg.Dst.Port()) {
			continue
		}
		p.add(&seg)
		// Capture time drives expiry, as the clock does live.
		if seg.Time.Sub(last) >= expireEvery {
			p.asm.Expire(seg.Time)
			last = seg.Time
		}
		if seg.Time.After(last) {
			last = seg.Time
		}
		if _, _, err := p.sink.totals(); err != nil {
			return err
		}
	}
	return nil
}

// expireEvery is how often idle connections are looked for.
const expireEvery = time.Second

func (p *pipeline) capture(ctx context.Context, stderr io.Writer) error {
	lcfg := loader.Config{
		Interfaces: p.cfg.interfaces,
		Ports:      p.cfg.ports.List(),
		RingSize:   p.cfg.ringKiB << 10,
		Backend:    loader.Backend(p.cfg.backend),
	}
	if p.cfg.expr != "" {
		lcfg.Filter = kernelFilter(p.cfg.expr)
	}
	c, err := loader.Open(lcfg)
	if err != nil {
		return err
	}
	defer c.Close()
	what := describePorts(p.cfg.ports.List())
	if p.cfg.expr != "" {
		what = strconv.Quote(p.cfg.expr)
		if !p.cfg.ports.Empty() {
			what += " and " + describePorts(p.cfg.ports.List())
		}
	}
	fmt.Fprintf(stderr, "listening on %s (%s), %s, ring buffer %d KiB\n",
		strings.Join(c.Interfaces(), ", "), backendName(c.Backend()), what, p.cfg.ringKiB)
	stop := context.AfterFunc(ctx, c.Interrupt)
	defer stop()

	var seg capture.Segment
	var loopErr error
	for {
		c.SetDeadline(time.Now().Add(expireEvery))
		err := c.Next(&seg)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			p.asm.Expire(time.Now())
			if err := p.sink.flush(); err != nil {
				loopErr = err
				break
			}
			if err := c.CheckInterfaces(); err != nil {
				// Keep what was decoded: drain the ring, then stop.
				p.drain(c, &seg)
				loopErr = err
				break
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, loader.ErrClosed) {
				loopErr = err
			}
			break
		}
		p.add(&seg)
		if _, _, err := p.sink.totals(); err != nil {
			loopErr = err
			break
		}
	}
	p.asm.Flush(time.Now())
	st, err := c.Stats()
	if err != nil && loopErr == nil {
		loopErr = err
	}
	packets, events, _ := p.sink.totals()
	fs := p.asm.Stats()
	fmt.Fprintf(stderr, "%d packets captured\n%d packets matched in the kernel\n%d packets dropped by kernel (ring buffer full)\n%d ZMTP events decoded\n",
		packets, st.Matched, st.Lost, events)
	fmt.Fprintf(stderr, "%d connections, %d bytes reassembled, %d segments out of order, %d retransmitted, %d gaps (%d bytes lost)\n",
		fs.Flows, fs.Bytes, fs.OutOfOrder, fs.Retransmits, fs.Gaps, fs.LostBytes)
	if st.Duplicates > 0 {
		fmt.Fprintf(stderr, "%d packets seen twice (on two interfaces) reported once\n", st.Duplicates)
	}
	return loopErr
}

// drain decodes the records still in the ring, without waiting for more.
func (p *pipeline) drain(c *loader.Capture, seg *capture.Segment) {
	c.SetDeadline(time.Now())
	for c.Next(seg) == nil {
		p.add(seg)
	}
}

func describePorts(ports []uint16) string {
	if len(ports) == 0 {
		return "all TCP ports"
	}
	if len(ports) > 8 {
		return fmt.Sprintf("%d ports", len(ports))
	}
	words := make([]string, len(ports))
	for i, p := range ports {
		words[i] = strconv.Itoa(int(p))
	}
	if len(words) == 1 {
		return "port " + words[0]
	}
	return "ports " + strings.Join(words, ", ")
}

func backendName(b loader.Backend) string {
	if b == loader.TCX {
		return "TCX"
	}
	return "socket filter"
}
