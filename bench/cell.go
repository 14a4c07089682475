package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// Time limits. Every run ends by itself within these.
const (
	peerTimeout   = 120 * time.Second // each zmqpeer's own -timeout and -linger
	runTimeout    = 180 * time.Second // the context the peers run under
	startTimeout  = 20 * time.Second  // for a capturer to say it is listening
	idleMax       = 60 * time.Second  // for a capturer to catch up
	stopTimeout   = 30 * time.Second  // for a capturer to exit after SIGINT
	listenTimeout = 5 * time.Second   // for a receiver to listen
)

// running is a started capturer.
type running struct {
	*livetest.Dump
	out       *os.File // JSON output file, or nil
	statsFile string   // zmtpdump's --stats-file, or ""
}

// startCapturer starts c with the filter and waits until it listens. A
// zmtpdump writes its exit statistics to a file on tmpfs (--stats-file),
// unless they end its JSON output file.
func startCapturer(b *bins, c capturer, filter string) (*running, error) {
	path, args := c.args(b, filter)
	r := &running{}
	if c.kind == zmtpdumpKind {
		extra := b.zargs
		if !c.jsonOut {
			f, err := os.CreateTemp(b.tmpfs, "zmtpdump-bench-*.stats.json")
			if err != nil {
				return nil, err
			}
			f.Close()
			r.statsFile = f.Name()
			extra = append(slices.Clip(extra), "--stats-file", r.statsFile)
		}
		// The filter stays last.
		args = append(append(args[:len(args)-1:len(args)-1], extra...), filter)
	}
	cmd := exec.Command(path, args...)
	if c.jsonOut {
		f, err := os.CreateTemp(b.tmpfs, "zmtpdump-bench-*.json")
		if err != nil {
			r.cleanup()
			return nil, err
		}
		r.out = f
		cmd.Stdout = f
	} else {
		// A file, as exec's default /dev/null is (no copying goroutine), open
		// for writing: the printers write to it (read-only, every write
		// failed with EBADF and a zmtpdump without -q exited 1).
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			r.cleanup()
			return nil, err
		}
		defer null.Close()
		cmd.Stdout = null
	}
	d, err := livetest.Start(cmd)
	if err != nil {
		r.cleanup()
		return nil, err
	}
	r.Dump = d
	if err := d.WaitListening(startTimeout); err != nil {
		r.cleanup()
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	return r, nil
}

// stop sends SIGINT and waits for the exit, killing after stopTimeout.
func (r *running) stop() error {
	if err := r.Stop(stopTimeout); err != nil {
		return fmt.Errorf("%w\n%s", err, r.Stderr.String())
	}
	return nil
}

// cleanup ends the capturer if it still runs and removes its files.
func (r *running) cleanup() {
	if r.Dump != nil {
		r.Kill()
	}
	if r.out != nil {
		r.out.Close()
		os.Remove(r.out.Name())
	}
	if r.statsFile != "" {
		os.Remove(r.statsFile)
	}
}

// peerProc is a started zmqpeer.
type peerProc struct {
	cmd    *exec.Cmd
	stderr *livetest.Buffer
}

func startPeer(ctx context.Context, b *bins, args ...string) (*peerProc, error) {
	p := &peerProc{cmd: exec.CommandContext(ctx, b.peer, args...), stderr: &livetest.Buffer{}}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// wait waits for the peer and returns its report and CPU time.
func (p *peerProc) wait() (peerReport, time.Duration, error) {
	err := p.cmd.Wait()
	var cpu time.Duration
	if p.cmd.ProcessState != nil {
		cpu = p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
	}
	rep, ok := parseReport(p.stderr.String())
	if err != nil {
		return rep, cpu, fmt.Errorf("zmqpeer %s: %v\n%s", strings.Join(p.cmd.Args[1:], " "), err, p.stderr.String())
	}
	if !ok {
		return rep, cpu, fmt.Errorf("zmqpeer %s printed no report\n%s", strings.Join(p.cmd.Args[1:], " "), p.stderr.String())
	}
	return rep, cpu, nil
}

// flow is one receiver and its sender.
type flow struct {
	port      int
	count     int
	size      int
	conns     int
	rate      float64
	wait      time.Duration
	recv, snd *peerProc
}

// idleCost runs capturer c with no traffic for a second and returns its CPU
// time: what starting (loading and verifying the BPF program, compiling the
// filter), idling and stopping cost.
func idleCost(b *bins, c capturer) (time.Duration, error) {
	port, err := livetest.FreePort()
	if err != nil {
		return 0, err
	}
	r, err := startCapturer(b, c, fmt.Sprintf("port %d", port))
	if err != nil {
		return 0, err
	}
	defer r.cleanup()
	time.Sleep(time.Second)
	if err := r.stop(); err != nil {
		return 0, err
	}
	return r.Cmd.ProcessState.UserTime() + r.Cmd.ProcessState.SystemTime(), nil
}

// runCell runs workload w once under capturer c.
func runCell(b *bins, w workload, c capturer) (res result, err error) {
	res = result{decoded: -1, drops: -1, packets: -1, ring: -1, payload: -1}
	measured := &flow{count: w.count, size: w.size, conns: w.conns, wait: w.wait}
	flows := []*flow{measured}
	matched := measured
	if w.side != nil {
		matched = &flow{count: w.side.count, size: w.size, conns: 1, rate: w.side.rate, wait: w.wait}
		flows = append(flows, matched)
	}
	for _, f := range flows {
		if f.port, err = livetest.FreePort(); err != nil {
			return res, err
		}
	}
	filter := fmt.Sprintf("port %d", matched.port)

	var capt *running
	if c.kind != noCapture {
		if capt, err = startCapturer(b, c, filter); err != nil {
			return res, err
		}
		defer capt.cleanup()
	}

	host0, err := hostBusy()
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	// On an early return, end the peers already started.
	defer func() {
		for _, f := range flows {
			for _, p := range []*peerProc{f.snd, f.recv} {
				if p != nil && p.cmd.ProcessState == nil {
					p.cmd.Process.Kill()
					p.cmd.Wait()
				}
			}
		}
	}()
	timeout := peerTimeout.String()
	for _, f := range flows {
		if f.recv, err = startPeer(ctx, b, "-type", "pull", "-bind", fmt.Sprintf("tcp://127.0.0.1:%d", f.port),
			"-count", fmt.Sprint(f.count), "-report", "-timeout", timeout); err != nil {
			return res, err
		}
	}
	for _, f := range flows {
		deadline := time.Now().Add(listenTimeout)
		for !listening(f.port) {
			if time.Now().After(deadline) {
				return res, fmt.Errorf("receiver on port %d did not listen within %v\n%s", f.port, listenTimeout, f.recv.stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, f := range flows {
		args := []string{"-type", "push", "-connect", fmt.Sprintf("tcp://127.0.0.1:%d", f.port),
			"-count", fmt.Sprint(f.count), "-size", fmt.Sprint(f.size), "-connections", fmt.Sprint(f.conns),
			"-wait", f.wait.String(), "-report", "-timeout", timeout, "-linger", timeout}
		if f.rate > 0 {
			args = append(args, "-rate", fmt.Sprint(f.rate))
		}
		if f.snd, err = startPeer(ctx, b, args...); err != nil {
			return res, err
		}
	}
	var errs []error
	for _, f := range flows {
		for _, p := range []*peerProc{f.snd, f.recv} {
			rep, cpu, err := p.wait()
			res.appCPU += cpu
			errs = append(errs, err)
			if p == measured.recv {
				res.appRate = rep.rate()
			}
			if p == matched.recv {
				res.sent = rep.msgs
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, err
	}

	if capt != nil {
		res.lag = waitIdle(capt.Cmd.Process.Pid, idleMax)
	}
	host1, err := hostBusy()
	if err != nil {
		return res, err
	}
	res.hostCPU = host1 - host0
	if capt == nil {
		return res, nil
	}
	if err := capt.stop(); err != nil {
		return res, fmt.Errorf("%s: %w", c.name, err)
	}
	ps := capt.Cmd.ProcessState
	res.capCPU = ps.UserTime() + ps.SystemTime()
	if c.kind != zmtpdumpKind {
		st := tcpdumpStats(capt.Stderr.String())
		res.drops, res.packets = st.drops, st.captured
		return res, nil
	}
	var jc jsonCounts
	if c.jsonOut {
		if _, err := capt.out.Seek(0, 0); err != nil {
			return res, err
		}
		if jc, err = countJSON(capt.out); err != nil {
			return res, fmt.Errorf("count JSON output: %w", err)
		}
	}
	zs, err := capt.stats(jc)
	if err != nil {
		return res, fmt.Errorf("%s: %w", c.name, err)
	}
	st := zmtpdumpStats(zs)
	res.drops, res.packets = st.drops, st.captured
	switch {
	case st.ring >= 0 && st.captured >= 0:
		// Kernel-side framing counts what it wrote.
		res.payload = st.bytes + max(st.skipped, 0) + max(st.lost, 0)
		res.ring = st.ring + st.captured*ringHeader
	case st.bytes >= 0 && st.captured >= 0:
		res.payload = st.bytes + max(st.skipped, 0) + max(st.lost, 0)
		res.ring = st.bytes + st.captured*ringRecordOverhead
	}
	if st.gaps > 0 {
		res.problems = append(res.problems, fmt.Sprintf("%d gaps", st.gaps))
	}
	if c.jsonOut {
		res.decoded = jc.messages
		if jc.errors > 0 {
			res.problems = append(res.problems, fmt.Sprintf("%d error events", jc.errors))
		}
		return res, nil
	}
	switch {
	case st.messages > 0:
		// The exit statistics' own count (with counting in the kernel,
		// -q's messages are counted there and never decoded one by one).
		res.decoded = st.messages
	case st.events >= 0 && st.conns >= 0:
		// Two greetings and two READY commands per NULL PUSH/PULL connection.
		res.decoded = st.events - 4*st.conns
	}
	return res, nil
}

// stats reads a stopped zmtpdump's exit statistics: the last line of its
// JSON output (counted into jc), or its --stats-file.
func (r *running) stats(jc jsonCounts) (livetest.Stats, error) {
	if r.out != nil {
		if jc.stats == nil {
			return livetest.Stats{}, fmt.Errorf("JSON output: %w", livetest.ErrNoStats)
		}
		return livetest.ParseStats(jc.stats)
	}
	return livetest.ReadStatsFile(r.statsFile)
}
