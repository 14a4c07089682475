package session

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
)

// expireEvery is how often idle connections are looked for.
const expireEvery = time.Second

// errIdle is what a live source's next returns when the ring buffer had
// nothing more by the deadline: a burst is over, or housekeeping is due.
var errIdle = errors.New("no record by the deadline")

// source is where the pipeline's segments come from: a live capture or a
// file, read by the one loop (Pipeline.loop).
type source interface {
	// next reads the next segment into seg, which stays valid until the
	// next call: io.EOF at the end of the source, errIdle when a live
	// source had nothing by its deadline.
	next(seg *segment.Segment) error
	// due reports whether housekeeping is due after seg (nil: after
	// errIdle), and the time it runs at: capture time for a file, the
	// clock live.
	due(seg *segment.Segment) (now time.Time, ok bool)
	// housekeep is the source's part of housekeeping, after connections
	// idle at now were expired (live: output written out, the status
	// line, interfaces that came or went).
	housekeep(now time.Time) error
	// end returns the time the connections still open end at; it is
	// called once the source is read, before they are ended (live: the
	// status line is cleared first, so that their last lines do not land
	// beside it).
	end() time.Time
}

// loop reads src to its end: every segment is added, and once a second
// (capture time for a file) the idle connections are expired and the
// source does its housekeeping. It stops at the first error, then hands
// over what the owner gate holds and ends the connections still open.
func (p *Pipeline) loop(src source) error {
	err := p.read(src)
	end := src.end()
	p.procs.finish(p.write)
	p.asm.Flush(end)
	p.flushRefused(end, true)
	return err
}

func (p *Pipeline) read(src source) error {
	var seg segment.Segment
	for {
		err := src.next(&seg)
		switch {
		case errors.Is(err, errIdle):
			// A burst is over: its partial batches and its output go
			// out now, not with the next one.
			p.asm.Send()
			if err := p.sink.flush(); err != nil {
				return err
			}
			p.serveMetrics()
			if now, ok := src.due(nil); ok {
				if err := p.housekeep(src, now); err != nil {
					return err
				}
			}
			continue
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		p.Add(&seg)
		if err := p.err(); err != nil {
			return err
		}
		if p.met.pending() {
			p.serveMetrics() // a scrape waits: see session/metrics.go
		}
		if now, ok := src.due(&seg); ok {
			if err := p.housekeep(src, now); err != nil {
				return err
			}
		}
	}
}

// housekeep expires idle connections, then does the source's housekeeping.
func (p *Pipeline) housekeep(src source, now time.Time) error {
	p.asm.Expire(now)
	p.flushRefused(now, false)
	return src.housekeep(now)
}

// fileSource reads a pcap or pcapng file: the segments of the ports
// asked for, up to -G of capture time after the first.
type fileSource struct {
	ctx         context.Context
	r           *pcapfile.Reader
	p           *Pipeline
	first, last time.Time
}

func (f *fileSource) next(seg *segment.Segment) error {
	cfg := f.p.cfg
	for {
		if f.ctx.Err() != nil {
			return io.EOF
		}
		if err := f.r.Next(seg); err != nil {
			return err
		}
		if !cfg.Ports.Match(seg.Src.Port(), seg.Dst.Port()) {
			continue
		}
		if f.first.IsZero() {
			f.first = seg.Time
		}
		if cfg.Duration > 0 && seg.Time.Sub(f.first) >= cfg.Duration {
			return io.EOF
		}
		return nil
	}
}

// due: capture time drives expiry, as the clock does live.
func (f *fileSource) due(seg *segment.Segment) (time.Time, bool) {
	if seg == nil {
		return time.Time{}, false
	}
	due := seg.Time.Sub(f.last) >= expireEvery
	if due || seg.Time.After(f.last) {
		f.last = seg.Time
	}
	return seg.Time, due
}

func (*fileSource) housekeep(time.Time) error { return nil }

func (f *fileSource) end() time.Time { return f.last }

// readFile reads cfg.ReadFile.
func (p *Pipeline) readFile(ctx context.Context) error {
	r, err := pcapfile.Open(p.cfg.ReadFile)
	if err != nil {
		return err
	}
	defer r.Close()
	if p.cfg.FileFilter != nil {
		r.SetFilter(p.cfg.FileFilter)
	}
	if p.pcap != nil {
		// One Ethernet interface; a pcapng file's other interfaces get one
		// each as their packets come.
		if err := p.pcap.start([]pcapfile.Interface{{Index: 0, Filter: p.cfg.FilterText}}); err != nil {
			return err
		}
	}
	return p.loop(&fileSource{ctx: ctx, r: r, p: p})
}
