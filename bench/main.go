package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// options are the command line.
type options struct {
	quick     bool
	reps      int
	out       string
	workloads string
	capturers string
	goCmd     string
	zmtpdump  string
	zargs     string
}

// bins are the programs the runs use.
type bins struct {
	zmtpdump, peer, tcpdump string
	// hasWrite says whether zmtpdump has -w (--write).
	hasWrite bool
	// hasMetrics says whether zmtpdump has --metrics.
	hasMetrics bool
	// tmpfs is where JSON output goes.
	tmpfs string
	// zargs are extra arguments for every zmtpdump run.
	zargs []string
}

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "a tenth of the messages and one run per cell")
	flag.IntVar(&o.reps, "reps", 0, "runs per cell, the median shown (default 3; 1 with -quick)")
	flag.StringVar(&o.out, "o", "", "also write the report (markdown) to this file")
	flag.StringVar(&o.workloads, "workloads", "", "comma-separated workloads to run: small, large, conns, unrelated, ipc, ipc-unrelated (default all)")
	flag.StringVar(&o.capturers, "capturers", "", "comma-separated capturers: tcpdump, zmtpdump-w, zmtpdump-wq, zmtpdump-ws, zmtpdump-json, zmtpdump-json-null, zmtpdump-text, zmtpdump-q, zmtpdump-q-metrics (default all; none always runs)")
	flag.StringVar(&o.goCmd, "go", "go", "the go command that builds zmtpdump and zmqpeer")
	flag.StringVar(&o.zmtpdump, "zmtpdump", "", "use this zmtpdump binary instead of building ./cmd/zmtpdump")
	flag.StringVar(&o.zargs, "zargs", "", "extra arguments for every zmtpdump run, space-separated, e.g. -zargs='-B 65536'")
	flag.Parse()
	if err := run(&o); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flag.Args())
	}
	if os.Geteuid() != 0 {
		return errors.New("live capture needs root: run as root (sudo make bench)")
	}
	div := 1
	if o.quick {
		div = 10
	}
	if o.reps == 0 {
		o.reps = 3
		if o.quick {
			o.reps = 1
		}
	}
	ws, err := pick(workloads(div), func(w workload) string { return w.name },
		func(workload) bool { return true }, o.workloads, "workload")
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "zmtpdump-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b, err := build(o.goCmd, dir, o.zmtpdump)
	if err != nil {
		return err
	}
	b.zargs = strings.Fields(o.zargs)
	all := capturers(b)
	cs, err := pick(all[1:], func(c capturer) string { return c.name },
		func(c capturer) bool { return !c.optional }, o.capturers, "capturer")
	if err != nil {
		return err
	}
	cs = append([]capturer{all[0]}, cs...)

	rep := &report{machine: machine(), versions: versions(b), load: loadAverage(), reps: o.reps, quick: o.quick,
		caps: cs, zargs: o.zargs}
	start := time.Now()
	for wi, w := range ws {
		for i := range o.reps {
			// Each run starts with another capturer, so that none of
			// them always runs first (or right after the same one).
			for k := range cs {
				c := cs[(k+i)%len(cs)]
				if c.skipFor(w) != "" {
					continue
				}
				if firstOfTransport(ws, wi) && c.kind != noCapture {
					// The idle cost, once a rep, among the cells
					// (the same host's state as theirs), on the
					// first workload of each transport (--ipc loads
					// other programs): ns/msg takes the median off and
					// calls what is within the runs' spread noise.
					waitQuietHost(quietMax)
					cpu, err := idleCost(b, c, w.transport)
					if err != nil {
						return fmt.Errorf("%s with no traffic on %s: %w", c.name, w.transport, err)
					}
					rep.setIdle(c, w.transport, cpu)
				}
				quiet := waitQuietHost(quietMax)
				if !quiet {
					rep.noisy++
				}
				fmt.Fprintf(os.Stderr, "bench: %s, %s, run %d/%d ... ", w.name, c.name, i+1, o.reps)
				res, err := runCell(b, w, c)
				if err != nil {
					fmt.Fprintf(os.Stderr, "failed\n")
					res.problems = append(res.problems, "run failed: "+firstLine(err.Error()))
					fmt.Fprintf(os.Stderr, "bench: %v\n", err)
				} else {
					fmt.Fprintf(os.Stderr, "%.0f msgs/s, capturer CPU %.2f s, lag %.1f s\n",
						res.appRate, res.capCPU.Seconds(), res.lag.Seconds())
				}
				rep.add(w, c, res)
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	for _, tr := range []transport{tcpTransport, ipcTransport} {
		for _, c := range cs[1:] {
			if idle, ok := rep.idleMedian(c, tr); ok {
				rep.idle = append(rep.idle, fmt.Sprintf("%s %.2f s", idleName(c, tr), idle.Seconds()))
			}
		}
	}
	rep.elapsed = time.Since(start)
	text := rep.markdown()
	fmt.Print(text)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(text), 0o644)
	}
	return nil
}

// firstOfTransport says whether ws[wi] is the first workload of its
// transport: its reps measure the capturers' idle cost on that transport.
func firstOfTransport(ws []workload, wi int) bool {
	for _, w := range ws[:wi] {
		if w.transport == ws[wi].transport {
			return false
		}
	}
	return true
}

// quietMax is how long a run waits for other work on the host to end.
const quietMax = 30 * time.Second

// build builds zmtpdump (static, as make does; unless prebuilt names one)
// and the load generator into dir, and finds tcpdump and a tmpfs.
func build(goCmd, dir, prebuilt string) (*bins, error) {
	root, err := exec.Command(goCmd, "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return nil, fmt.Errorf("find the module root: %w", err)
	}
	b := &bins{zmtpdump: filepath.Join(dir, "zmtpdump"), peer: filepath.Join(dir, "zmqpeer")}
	targets := []struct{ out, pkg, cgo string }{{b.peer, "./testpeers/zmqpeer", "1"}}
	if prebuilt == "" {
		targets = append(targets, struct{ out, pkg, cgo string }{b.zmtpdump, "./cmd/zmtpdump", "0"})
	} else if b.zmtpdump, err = filepath.Abs(prebuilt); err != nil {
		return nil, err
	}
	for _, t := range targets {
		fmt.Fprintf(os.Stderr, "bench: building %s\n", t.pkg)
		cmd := exec.Command(goCmd, "build", "-trimpath", "-o", t.out, t.pkg)
		cmd.Dir = strings.TrimSpace(string(root))
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+t.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build %s: %v\n%s", t.pkg, err, out)
		}
	}
	help, _ := exec.Command(b.zmtpdump, "--help").CombinedOutput()
	b.hasWrite = strings.Contains(string(help), "--write")
	b.hasMetrics = strings.Contains(string(help), "--metrics")
	if p, err := exec.LookPath("tcpdump"); err == nil {
		b.tcpdump = p
	}
	b.tmpfs = "/dev/shm"
	if st, err := os.Stat(b.tmpfs); err != nil || !st.IsDir() {
		b.tmpfs = os.TempDir()
	}
	return b, nil
}

// versions names the software the runs used.
func versions(b *bins) string {
	var parts []string
	if out, err := exec.Command("pkg-config", "--modversion", "libzmq").Output(); err == nil {
		parts = append(parts, "libzmq "+strings.TrimSpace(string(out)))
	}
	if b.tcpdump != "" {
		if out, err := exec.Command(b.tcpdump, "--version").Output(); err == nil {
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "tcpdump version") || strings.HasPrefix(line, "libpcap version") {
					parts = append(parts, strings.TrimSpace(line))
				}
			}
		}
	}
	return strings.Join(parts, ", ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
