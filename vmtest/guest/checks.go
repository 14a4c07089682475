package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// Everything runs 7–40× slower under qemu's TCG than on a host: the
// time limits are generous.
const (
	startLimit = 90 * time.Second // zmtpdump loading and attaching
	stopLimit  = 30 * time.Second
	peerLimit  = "60s" // gozmq -timeout
)

// checks run in order after the machine is set up.
// The ipc ones first, under the lockdown the machine booted with
// (integrity); raise-lockdown then makes it confidentiality, which
// check-command and the rest run under.
var checks = []check{
	{"ipc-check-integrity", checkIPCCommand},
	{"ipc-push-pull", checkIPCPushPull},
	{"ipc-join-mid-stream", checkIPCJoinMidStream},
	{"ipc-signals-leave-nothing", checkIPCSignals},
	{"raise-lockdown", checkRaiseLockdown},
	{"ipc-refused-confidentiality", checkIPCRefused},
	{"check-command", checkCommand},
	{"tcx-refused", checkTCXRefused},
	{"lo-socket-filter", checkLoopback},
	{"veth-netns", checkVeth},
	{"join-mid-stream", checkJoinMidStream},
	{"quiet-socket", checkQuietSocket},
	{"signals-leave-nothing", checkSignals},
}

// checkCommand: zmtpdump check must find TCX missing by probing and name
// the socket filter as the backend a capture would use, and say why the
// ipc:// capture cannot work under confidentiality lockdown (it reads
// kernel memory; under integrity, before raise-lockdown, 6.1 loads and
// attaches it: the ipc-* checks).
func checkCommand(e *env) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.zmtpdump, "check").CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("zmtpdump check: %w", err)
	}
	var problems []string
	for _, want := range []string{"  yes  BPF ring buffer", "  yes  socket filter programs", "  no   TCX (Linux 6.6+)", "  yes  kernel-side ZMTP framing",
		"  no   kernel counting for -q",
		"kernel lockdown: confidentiality (capture needs nothing it forbids)", "capture would use: socket filter",
		"ipc: impossible: ipc capture: kernel lockdown (confidentiality) forbids the BPF reads of kernel memory"} {
		if !strings.Contains(string(out), want) {
			problems = append(problems, fmt.Sprintf("no line with %q", want))
		}
	}
	return string(out), joinProblems(problems)
}

// checkTCXRefused: --backend tcx must fail with a clear error on a kernel
// without TCX, and leave nothing loaded.
func checkTCXRefused(e *env) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.zmtpdump, "-i", "lo", "--backend", "tcx", "--port", "7001")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return string(out), fmt.Errorf("want zmtpdump --backend tcx to exit with an error, got %v", err)
	}
	if strings.Contains(string(out), "panic:") || exit.ExitCode() != 1 {
		return string(out), fmt.Errorf("zmtpdump --backend tcx crashed (%w) instead of reporting an error", err)
	}
	const want = "no TCX (needs Linux 6.6 or later"
	if !strings.Contains(string(out), want) {
		return string(out), fmt.Errorf("its error does not say %q", want)
	}
	return string(out), waitNoProgs("a refused TCX attach")
}

// checkLoopback: the default backend probes TCX, falls back to the socket
// filter, and decodes a go-zeromq PUSH/PULL conversation on lo.
func checkLoopback(e *env) (string, error) {
	if err := waitNoProgs("an earlier check"); err != nil {
		return "", err
	}
	// -s turns on kernel-side framing with -v: bpf_loop (5.17) and a
	// global function with pointer arguments must load on this kernel.
	d, out, errOut, details, err := captured(e, "tcp://127.0.0.1:7002", (*exec.Cmd).Start, "-v", "-s", "64", "-i", "lo", "--port", "7002")
	if d != nil {
		defer d.kill()
	}
	if err != nil {
		return details, err
	}
	problems := conversation(out, "127.0.0.1:7002")
	if !strings.Contains(errOut, "listening on lo (socket filter)") {
		problems = append(problems, "the socket filter backend was not chosen on lo")
	}
	st := d.stats(&problems)
	if !strings.Contains(errOut, "kernel keeps 64 bytes of each frame body") || !st.KernelFraming || st.DirectionsUnframed != 0 {
		problems = append(problems, "kernel-side framing was not on, or did not follow the connection")
	}
	if st.RingDrops != 0 {
		problems = append(problems, "packets were dropped")
	}
	if err := waitNoProgs("SIGINT"); err != nil {
		problems = append(problems, err.Error())
	}
	return details, joinProblems(problems)
}

// checkVeth: a PULL in a network namespace behind a veth pair, a PUSH in
// the root namespace, zmtpdump on the root namespace's end (an Ethernet
// device: the socket sees both directions).
func checkVeth(e *env) (string, error) {
	if err := waitNoProgs("an earlier check"); err != nil {
		return "", err
	}
	ns, err := livetest.NewNetns()
	if err != nil {
		return "", err
	}
	defer syscall.Close(ns)
	n, err := livetest.OpenNetlink()
	if err != nil {
		return "", err
	}
	defer n.Close()
	if err := n.AddVeth("vh0", "vp0", ns); err != nil {
		return "", err
	}
	if err := n.AddAddr("vh0", "10.233.0.1/30"); err != nil {
		return "", err
	}
	if err := n.SetUp("vh0"); err != nil {
		return "", err
	}
	if err := setUpPeer(ns); err != nil {
		return "", fmt.Errorf("in the namespace: %w", err)
	}

	d, out, errOut, details, err := captured(e, "tcp://10.233.0.2:7003", func(c *exec.Cmd) error { return livetest.InNetns(ns, c.Start) }, "-v", "-i", "vh0", "--port", "7003")
	if d != nil {
		defer d.kill()
	}
	if err != nil {
		return details, err
	}
	problems := conversation(out, "10.233.0.2:7003")
	if !strings.Contains(errOut, "listening on vh0 (socket filter)") {
		problems = append(problems, "the socket filter backend was not chosen on vh0")
	}
	if d.stats(&problems).RingDrops != 0 {
		problems = append(problems, "packets were dropped")
	}
	if err := waitNoProgs("SIGINT"); err != nil {
		problems = append(problems, err.Error())
	}
	return details, joinProblems(problems)
}

// setUpPeer brings lo and the veth's peer end vp0 up in the namespace ns
// and gives vp0 its address.
func setUpPeer(ns int) error {
	m, err := livetest.OpenNetlinkAt(ns)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.SetUp("lo"); err != nil {
		return err
	}
	if err := m.AddAddr("vp0", "10.233.0.2/30"); err != nil {
		return err
	}
	return m.SetUp("vp0")
}

// checkSignals: a zmtpdump stopped by SIGTERM, or killed outright, leaves
// no program behind (its socket, and with it the filter, dies with the
// process). SIGINT is covered by the conversation checks.
func checkSignals(e *env) (string, error) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := waitNoProgs("an earlier check"); err != nil {
			return "", err
		}
		d, err := startDump(e, "-i", "lo", "--port", "7004")
		if err != nil {
			return "", err
		}
		ids, err := zmtpdumpProgs()
		if err != nil {
			d.kill()
			return "", err
		}
		if countPrefix(ids, "capture_") == 0 {
			d.kill()
			return d.Stderr.String(), fmt.Errorf("zmtpdump is capturing but no capture_* program is loaded: the check would prove nothing")
		}
		d.Cmd.Process.Signal(sig)
		select {
		case <-time.After(stopLimit):
			d.kill()
			return d.Stderr.String(), fmt.Errorf("zmtpdump did not exit within %v of %v", stopLimit, sig)
		case <-d.Exited():
			err = d.Wait()
			d.kill() // removes the statistics file
		}
		if sig != syscall.SIGKILL && err != nil {
			return d.Stderr.String(), fmt.Errorf("exit after %v: %w", sig, err)
		}
		if err := waitNoProgs(sig.String()); err != nil {
			return "", err
		}
	}
	return "", nil
}

// conversation checks zmtpdump -v's text for one PUSH → PULL connection to
// srv carrying the messages "1", "2", "3" (go-zeromq speaks ZMTP 3.0).
func conversation(out, srv string) []string {
	var problems []string
	count := func(what string, want int, words ...string) []string {
		got := livetest.Lines(out, words...)
		if len(got) != want {
			problems = append(problems, fmt.Sprintf("want %d %s, got %d", want, what, len(got)))
		}
		return got
	}
	count("SYN to the server", 1, "> "+srv+": tcp SYN,")
	count("SYN ACK from the server", 1, srv+" > ", ": tcp SYN ACK,")
	count("greeting to the server", 1, "> "+srv+": greeting: ", "ZMTP 3.0, mechanism NULL, as-server 0")
	count("greeting from the server", 1, srv+" > ", ": greeting: ", "ZMTP 3.0, mechanism NULL, as-server 0")
	count(`READY "PUSH" to the server`, 1, "> "+srv+": READY: ", `Socket-Type="PUSH"`)
	count(`READY "PULL" from the server`, 1, srv+" > ", ": READY: ", `Socket-Type="PULL"`)
	msgs := count("messages", 3, "> "+srv+": message: ")
	for i, m := range msgs {
		if want := fmt.Sprintf(`"%d" %x`, i+1, '1'+i); !strings.HasSuffix(m, want) {
			problems = append(problems, fmt.Sprintf("message %d: want %s, got %q", i+1, want, m))
		}
	}
	return problems
}

func joinProblems(p []string) error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

// pushPull starts the PULL receiver with start, sends three messages to ep
// from a PUSH and waits for the receiver.
func pushPull(e *env, recv *exec.Cmd, ep string, start func() error) error {
	var rout bytes.Buffer
	recv.Stdout, recv.Stderr = &rout, &rout
	if err := start(); err != nil {
		return fmt.Errorf("start the receiver: %w", err)
	}
	time.Sleep(300 * time.Millisecond) // let it bind; the sender retries anyway
	send := exec.Command(e.gozmq, "-type", "push", "-connect", ep, "-count", "3", "-timeout", peerLimit)
	sout, serr := send.CombinedOutput()
	rerr := recv.Wait()
	if serr != nil {
		return fmt.Errorf("sender: %v: %s", serr, sout)
	}
	if rerr != nil {
		return fmt.Errorf("receiver: %v: %s", rerr, rout.String())
	}
	return nil
}

// dump is a running zmtpdump whose exit statistics go to a file.
type dump struct {
	*livetest.Dump
	statsFile string
}

// startDump starts zmtpdump with --stats-file and waits until it says it
// is listening.
// captured runs zmtpdump with args while a go-zeromq PUSH sends three
// messages to a PULL bound at ep, which start starts: it returns the dump,
// stopped (the caller kills it when done: that removes its statistics
// file), its stdout and stderr, and the details a failure shows (an
// error: zmtpdump's start, the peers' or the stop's).
func captured(e *env, ep string, start func(*exec.Cmd) error, args ...string) (d *dump, out, errOut, details string, err error) {
	d, err = startDump(e, args...)
	if err != nil {
		return nil, "", "", "", err
	}
	recv := exec.Command(e.gozmq, "-type", "pull", "-bind", ep, "-count", "3", "-timeout", peerLimit)
	peerErr := pushPull(e, recv, ep, func() error { return start(recv) })
	out, errOut, stopErr := d.stop()
	details = "stdout:\n" + out + "stderr:\n" + errOut
	if peerErr != nil {
		return d, out, errOut, details, peerErr
	}
	return d, out, errOut, details, stopErr
}

func startDump(e *env, args ...string) (*dump, error) {
	f, err := os.CreateTemp("", "zmtpdump-stats-*.json")
	if err != nil {
		return nil, err
	}
	f.Close()
	ld, err := livetest.Start(exec.Command(e.zmtpdump, append([]string{"--stats-file", f.Name()}, args...)...))
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	d := &dump{Dump: ld, statsFile: f.Name()}
	if err := d.WaitListening(startLimit); err != nil {
		d.kill()
		return nil, err
	}
	return d, nil
}

// stop lets the last records arrive, sends SIGINT and waits for a clean
// exit.
func (d *dump) stop() (stdout, stderr string, err error) {
	time.Sleep(time.Second)
	err = d.Stop(stopLimit)
	return d.Stdout.String(), d.Stderr.String(), err
}

// stats returns the exit statistics of a stopped zmtpdump; a failure to
// read them is added to the problems.
func (d *dump) stats(problems *[]string) livetest.Stats {
	st, err := d.Stats()
	if err != nil {
		*problems = append(*problems, err.Error())
	}
	return st
}

// kill ends zmtpdump if it still runs and removes its statistics file.
func (d *dump) kill() {
	d.Kill()
	os.Remove(d.statsFile)
}

// prog is a loaded BPF program.
type prog struct {
	id   ebpf.ProgramID
	name string
}

func (p prog) String() string { return fmt.Sprintf("%s#%d", p.name, p.id) }

// zmtpdump's programs are named capture_* (packets) and ipc_* (--ipc).
var progPrefixes = []string{"capture_", "ipc_"}

// zmtpdumpProgs lists the loaded programs that are zmtpdump's (the kernel
// keeps the first 15 characters of a name).
func zmtpdumpProgs() ([]prog, error) {
	var progs []prog
	id := ebpf.ProgramID(0)
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return progs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list BPF programs: %w", err)
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // gone meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err != nil {
			continue
		}
		for _, pre := range progPrefixes {
			if strings.HasPrefix(info.Name, pre) {
				progs = append(progs, prog{id, info.Name})
				break
			}
		}
	}
}

// countPrefix counts the programs whose name starts with prefix.
func countPrefix(progs []prog, prefix string) int {
	n := 0
	for _, p := range progs {
		if strings.HasPrefix(p.name, prefix) {
			n++
		}
	}
	return n
}

// waitNoProgs waits for the kernel to free zmtpdump's programs.
func waitNoProgs(after string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		ids, err := zmtpdumpProgs()
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s, zmtpdump's programs are still loaded: %v", after, ids)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
