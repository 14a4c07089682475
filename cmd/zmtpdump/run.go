package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
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

// pipeline carries segments from a source to the printer.
type pipeline struct {
	cfg    *config
	out    output.Printer
	asm    *flows.Assembler
	counts counters
}

func newPipeline(cfg *config, stdout io.Writer) *pipeline {
	p := &pipeline{cfg: cfg}
	if cfg.json {
		p.out = output.NewJSON(stdout)
	} else {
		p.out = output.NewText(stdout, output.Options{Location: cfg.loc, Verbose: cfg.verbose})
	}
	opts := zmtp.Options{MaxBody: cfg.snap}
	if cfg.snap == 0 {
		opts.MaxBody = -1 // show sizes only
	}
	p.asm = flows.New(flows.Config{}, func(c *flows.Conn) flows.Consumer {
		return newSession(c, p.out, opts, &p.counts)
	})
	return p
}

// add handles one segment.
func (p *pipeline) add(seg *capture.Segment) error {
	p.counts.packets++
	if p.cfg.verbose {
		if err := p.out.TCP(seg); err != nil {
			return err
		}
	}
	p.asm.Add(seg)
	return p.counts.writeErr
}

func run(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	p := newPipeline(cfg, stdout)
	var err error
	if cfg.readFile != "" {
		err = p.readFile(ctx)
	} else {
		err = p.capture(ctx, stderr)
	}
	p.asm.Flush(time.Now())
	if ferr := p.out.Flush(); err == nil {
		err = ferr
	}
	if err == nil {
		err = p.counts.writeErr
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
	var seg capture.Segment
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
		if err := p.add(&seg); err != nil {
			return err
		}
	}
	return nil
}

// expireEvery is how often idle connections are looked for during a live
// capture.
const expireEvery = time.Second

func (p *pipeline) capture(ctx context.Context, stderr io.Writer) error {
	c, err := loader.Open(loader.Config{
		Interfaces: p.cfg.interfaces,
		Ports:      p.cfg.ports.List(),
		RingSize:   p.cfg.ringKiB << 10,
		Backend:    loader.Backend(p.cfg.backend),
	})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(stderr, "listening on %s (%s), %s, ring buffer %d KiB\n",
		strings.Join(c.Interfaces(), ", "), backendName(c.Backend()), describePorts(p.cfg.ports.List()), p.cfg.ringKiB)
	stop := context.AfterFunc(ctx, c.Interrupt)
	defer stop()

	var seg capture.Segment
	var loopErr error
	for {
		c.SetDeadline(time.Now().Add(expireEvery))
		err := c.Next(&seg)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			p.asm.Expire(time.Now())
			if err := p.out.Flush(); err != nil {
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
		if err := p.add(&seg); err != nil {
			loopErr = err
			break
		}
	}
	st, err := c.Stats()
	if err != nil && loopErr == nil {
		loopErr = err
	}
	fmt.Fprintf(stderr, "%d packets captured\n%d packets matched in the kernel\n%d packets dropped by kernel (ring buffer full)\n%d ZMTP events decoded\n",
		p.counts.packets, st.Matched, st.Lost, p.counts.events)
	if st.Duplicates > 0 {
		fmt.Fprintf(stderr, "%d packets seen twice (on two interfaces) reported once\n", st.Duplicates)
	}
	return loopErr
}

func describePorts(ports []uint16) string {
	if len(ports) == 0 {
		return "all TCP ports"
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
