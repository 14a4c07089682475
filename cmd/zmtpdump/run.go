package main

import (
	"context"
	"fmt"
	"io"
	"runtime/pprof"

	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/session"
)

// session resolves the validated flags into the pipeline's configuration.
func (c *config) session() *session.Config {
	sc := &session.Config{
		ReadFile:    c.readFile,
		Ports:       c.ports,
		Expr:        c.expr,
		FilterText:  c.filterText,
		PID:         c.pid,
		Comm:        c.comm,
		JSON:        c.json,
		Output:      c.outputOptions(),
		Verbose:     c.verbose,
		Snap:        c.snap,
		Summary:     c.summary,
		SummaryRows: c.summaryRows,
		Count:       uint64(c.count),
		Duration:    c.duration,
		Ladder:      c.ladder,
		Status:      c.statusOn,
		WriteFile:   c.writeFile,
		Application: "zmtpdump " + version,
		StatsFile:   c.statsFile,
		Flows:       c.flows,
		Shards:      c.shards,
		NoProblems:  c.noProblems,
		Diagnose:    c.diagnose,
		IPC:         c.ipc,

		Metrics:          c.metrics.addr,
		MetricsMaxSeries: c.metrics.maxSeries,
		MetricsPodLabels: c.metrics.podLabels,
		MetricsExpire:    c.metrics.expire,
	}
	switch c.explain {
	case "once":
		sc.Explain = session.ExplainOnce
	case "all":
		sc.Explain = session.ExplainAll
	}
	if c.readFile != "" {
		if c.expr != "" {
			sc.FileFilter = newFileFilter(c.expr).match
		}
		return sc
	}
	netns := c.netns
	if c.pid > 0 {
		netns = fmt.Sprintf("/proc/%d/ns/net", c.pid)
	}
	sc.Loader = loader.Config{
		Interfaces: c.interfaces,
		Ports:      c.ports.List(),
		RingSize:   c.ringKiB << 10,
		Backend:    loader.Backend(c.backend),
		Netns:      netns,
		FrameKeep:  c.frameKeep(),
		CountOnly:  c.countOnly(),
		// Walk frames for their boundaries even when whole payloads are
		// shipped (-w, -v): decoding resumes exactly after a loss.
		Marks: true,
	}
	if c.expr != "" {
		sc.Loader.Filter = kernelFilter(c.expr)
	}
	return sc
}

func run(ctx context.Context, cfg *config, stdout, stderr io.Writer) (err error) {
	if cfg.cpuProfile != "" {
		stop, err := startProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer func() {
			if perr := stop(); err == nil {
				err = perr
			}
		}()
	}
	return session.Run(ctx, cfg.session(), stdout, stderr)
}

// startProfile starts a CPU profile into the file name; stop ends it.
func startProfile(name string) (stop func() error, err error) {
	f, err := session.CreateFile(name)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
