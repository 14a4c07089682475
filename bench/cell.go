package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// startCapturer starts c selecting t and waits until it listens (with
// --ipc too, zmtpdump says "listening on ipc:// at PATH ..."). A zmtpdump
// writes its exit statistics to a file on tmpfs (--stats-file), unless
// they end its JSON output file.
func startCapturer(b *bins, c capturer, t target) (*running, error) {
	r := &running{}
	if c.kind == zmtpdumpKind && !c.jsonOut {
		f, err := os.CreateTemp(b.tmpfs, "zmtpdump-bench-*.stats.json")
		if err != nil {
			return nil, err
		}
		f.Close()
		r.statsFile = f.Name()
	}
	path, args := c.command(b, t, r.statsFile)
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
	port      int    // tcp
	path      string // ipc: the receiver's socket
	count     int
	size      int
	conns     int
	rate      float64
	wait      time.Duration
	recv, snd *peerProc
}

// endpoint is the receiver's endpoint: tcp://127.0.0.1:P or ipc://PATH.
func (f *flow) endpoint() string {
	if f.path != "" {
		return "ipc://" + f.path
	}
	return fmt.Sprintf("tcp://127.0.0.1:%d", f.port)
}

// listening says whether the receiver listens: on 127.0.0.1:P, or on its
// ipc socket (bound and listening, as /proc/net/unix lists it; no
// connection is made, which the capture would see).
func (f *flow) listening() bool {
	if f.path != "" {
		return ipcListening(f.path)
	}
	return listening(f.port)
}

// idleCost runs capturer c with no traffic for a second and returns its CPU
// time: what starting (loading and verifying the BPF programs, compiling
// the filter), idling and stopping cost. On ipc it selects a socket path
// that nothing binds (the tracepoints run on every write all the same).
func idleCost(b *bins, c capturer, tr transport) (time.Duration, error) {
	var t target
	if tr == ipcTransport {
		dir, err := os.MkdirTemp("", "zmtpdump-bench-ipc-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		t.path = filepath.Join(dir, "bench-idle.ipc")
	} else {
		port, err := livetest.FreePort()
		if err != nil {
			return 0, err
		}
		t.port = port
	}
	r, err := startCapturer(b, c, t)
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
	if w.transport == ipcTransport {
		// A fresh directory per run, removed after: bench-0.ipc is the
		// measured flow's, bench-1.ipc the side flow's.
		dir, err := os.MkdirTemp("", "zmtpdump-bench-ipc-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		for i, f := range flows {
			f.path = filepath.Join(dir, fmt.Sprintf("bench-%d.ipc", i))
		}
	} else {
		for _, f := range flows {
			if f.port, err = livetest.FreePort(); err != nil {
				return res, err
			}
		}
	}
	t := target{port: matched.port, path: matched.path}

	var capt *running
	defer func() {
		if capt != nil {
			capt.cleanup()
		}
	}()
	var host0 time.Duration
	// begin starts the capturer and takes the host's busy time.
	begin := func() error {
		if c.kind != noCapture {
			var err error
			if capt, err = startCapturer(b, c, t); err != nil {
				return err
			}
		}
		var err error
		host0, err = hostBusy()
		return err
	}
	// On TCP the capture starts first. --ipc resolves its paths when it
	// starts (and every second after): there the receivers bind first,
	// so that the capture selects their sockets from the first message.
	if w.transport == tcpTransport {
		if err := begin(); err != nil {
			return res, err
		}
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
		if f.recv, err = startPeer(ctx, b, "-type", "pull", "-bind", f.endpoint(),
			"-count", fmt.Sprint(f.count), "-report", "-timeout", timeout); err != nil {
			return res, err
		}
	}
	for _, f := range flows {
		deadline := time.Now().Add(listenTimeout)
		for !f.listening() {
			if time.Now().After(deadline) {
				return res, fmt.Errorf("receiver at %s did not listen within %v\n%s", f.endpoint(), listenTimeout, f.recv.stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if w.transport == ipcTransport {
		if err := begin(); err != nil {
			return res, err
		}
	}
	for _, f := range flows {
		args := []string{"-type", "push", "-connect", f.endpoint(),
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
	if err := res.addZmtpdump(zmtpdumpStats(zs), jc, c.jsonOut, w.transport == ipcTransport); err != nil {
		return res, fmt.Errorf("%s: %w", c.name, err)
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
