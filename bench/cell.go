package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
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

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// running is a started capturer.
type running struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	out    *os.File // JSON output file, or nil
	done   chan error
}

// startCapturer starts c with the filter and waits until it listens.
func startCapturer(b *bins, c capturer, filter string) (*running, error) {
	path, args := c.args(b, filter)
	if c.kind == zmtpdumpKind {
		// The filter stays last.
		args = append(append(args[:len(args)-1:len(args)-1], b.zargs...), filter)
	}
	r := &running{cmd: exec.Command(path, args...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	r.cmd.Stderr = r.stderr
	if c.jsonOut {
		f, err := os.CreateTemp(b.tmpfs, "zmtpdump-bench-*.json")
		if err != nil {
			return nil, err
		}
		r.out = f
		r.cmd.Stdout = f
	}
	if err := r.cmd.Start(); err != nil {
		r.cleanup()
		return nil, err
	}
	go func() { r.done <- r.cmd.Wait() }()
	deadline := time.After(startTimeout)
	for !strings.Contains(r.stderr.String(), "listening on") {
		select {
		case err := <-r.done:
			r.cleanup()
			return nil, fmt.Errorf("%s exited before listening: %v\n%s", c.name, err, r.stderr.String())
		case <-deadline:
			r.cmd.Process.Kill()
			<-r.done
			r.cleanup()
			return nil, fmt.Errorf("%s did not start listening within %v\n%s", c.name, startTimeout, r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return r, nil
}

// stop sends SIGINT and waits for the exit, killing after stopTimeout.
func (r *running) stop() error {
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		return err
	}
	select {
	case err := <-r.done:
		if err != nil {
			return fmt.Errorf("exit: %v\n%s", err, r.stderr.String())
		}
		return nil
	case <-time.After(stopTimeout):
		r.cmd.Process.Kill()
		<-r.done
		return fmt.Errorf("did not stop within %v of SIGINT; killed", stopTimeout)
	}
}

// cleanup removes the JSON output file.
func (r *running) cleanup() {
	if r.out != nil {
		r.out.Close()
		os.Remove(r.out.Name())
	}
}

// peerProc is a started zmqpeer.
type peerProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
}

func startPeer(ctx context.Context, b *bins, args ...string) (*peerProc, error) {
	p := &peerProc{cmd: exec.CommandContext(ctx, b.peer, args...), stderr: &syncBuffer{}}
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
	port, err := freePort()
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
	return r.cmd.ProcessState.UserTime() + r.cmd.ProcessState.SystemTime(), nil
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
		if f.port, err = freePort(); err != nil {
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
		defer func() {
			if capt.cmd.ProcessState == nil {
				capt.cmd.Process.Kill()
				<-capt.done
			}
		}()
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
		res.lag = waitIdle(capt.cmd.Process.Pid, idleMax)
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
	ps := capt.cmd.ProcessState
	res.capCPU = ps.UserTime() + ps.SystemTime()
	st := parseStats(c.kind, capt.stderr.String())
	res.drops, res.packets = st.drops, st.captured
	if c.kind != zmtpdumpKind {
		return res, nil
	}
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
		if _, err := capt.out.Seek(0, 0); err != nil {
			return res, err
		}
		jc, err := countJSON(capt.out)
		if err != nil {
			return res, fmt.Errorf("count JSON output: %w", err)
		}
		res.decoded = jc.messages
		if jc.errors > 0 {
			res.problems = append(res.problems, fmt.Sprintf("%d error events", jc.errors))
		}
		return res, nil
	}
	if st.events >= 0 && st.conns >= 0 {
		// Two greetings and two READY commands per NULL PUSH/PULL connection.
		res.decoded = st.events - 4*st.conns
	}
	return res, nil
}
