package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/zmtpdump/zmtpdump/metrics"
)

// metricsFlags are --metrics ADDR and its options.
type metricsFlags struct {
	// addr is --metrics: serve Prometheus metrics there ("": off).
	addr string
	// maxSeries is --metrics-max-series: the services with a server label
	// of their own.
	maxSeries int
	// podLabels is --metrics-pod-labels.
	podLabels bool
	// expire is --metrics-expire: how long a service without open
	// connections is kept.
	expire time.Duration
}

// addMetricsFlags adds --metrics and its options.
func addMetricsFlags(cmd *cobra.Command, cfg *config) {
	f := cmd.Flags()
	f.StringVar(&cfg.metrics.addr, "metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics while capturing (host:port; :9464 listens on every address), alongside any other output")
	f.IntVar(&cfg.metrics.maxSeries, "metrics-max-series", metrics.DefaultMaxServices, "service label sets (server endpoint, socket types, mechanism) --metrics keeps; connections of further services count under one set of labels all \"other\"")
	f.DurationVar(&cfg.metrics.expire, "metrics-expire", metrics.DefaultExpire, "drop a --metrics service that had no open connection and counted nothing new for this `DURATION`, freeing its place under --metrics-max-series (its series end)")
	f.BoolVar(&cfg.metrics.podLabels, "metrics-pod-labels", false, "label --metrics series with the pod and namespace of the server's process (Kubernetes; from process attribution)")
}

// finishMetrics validates the metrics flags.
func (c *config) finishMetrics() error {
	m := &c.metrics
	switch {
	case m.addr == "" && (m.podLabels || m.maxSeries != metrics.DefaultMaxServices || m.expire != metrics.DefaultExpire):
		return errors.New("--metrics-max-series, --metrics-expire and --metrics-pod-labels shape --metrics: give --metrics ADDR")
	case m.addr == "":
		return nil
	case c.readFile != "":
		return errors.New("--metrics serves a live capture's metrics: with -r there is nothing to scrape once the file is read (use -q for its totals)")
	case m.maxSeries < 1:
		return fmt.Errorf("--metrics-max-series %d: want 1 or more", m.maxSeries)
	case m.expire <= 0:
		return fmt.Errorf("--metrics-expire %v: want more than 0", m.expire)
	}
	if err := metrics.CheckAddr(m.addr); err != nil {
		return fmt.Errorf("--metrics %s: %w", m.addr, err)
	}
	return nil
}
