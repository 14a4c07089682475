package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// RefreshTimeout bounds how long Collect waits for the open connections'
// owners to publish; past it, a scrape shows what was published last.
const RefreshTimeout = 3 * time.Second

// Buckets are the upper bounds, in seconds, of zmtp_request_duration_seconds:
// 100 µs to 10 s (loopback round trips are tens of µs, a slow service's
// seconds).
var Buckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// hist is a round-trip histogram: counts per bucket (not cumulative), the
// last one for the longer round trips, and their sum.
type hist struct {
	counts [len(Buckets) + 1]uint64
	sum    float64
}

func (h *hist) observe(rtt time.Duration) {
	s := max(rtt, 0).Seconds()
	i := 0
	for i < len(Buckets) && s > Buckets[i] {
		i++
	}
	h.counts[i]++
	h.sum += s
}

func (h *hist) add(o *hist) {
	for i, n := range o.counts {
		h.counts[i] += n
	}
	h.sum += o.sum
}

// descs are the Registry's metric descriptions.
type descs struct {
	messages, bytes, frames, commands             *prometheus.Desc
	gaps, lost, resyncs                           *prometheus.Desc
	open, conns, problems, duration               *prometheus.Desc
	ringDrops, packets, folded                    *prometheus.Desc
	serviceLabels, dirLabels, cmdLabels, endLabel []string
}

func newDescs(pod bool) descs {
	svc := []string{"server", "client_socket_type", "server_socket_type", "mechanism"}
	if pod {
		svc = append(svc, "pod", "namespace")
	}
	dir := append(svc[:len(svc):len(svc)], "direction")
	cmd := append(dir[:len(dir):len(dir)], "command")
	end := append(svc[:len(svc):len(svc)], "end")
	kind := append(svc[:len(svc):len(svc)], "kind")
	d := func(name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return descs{
		messages:      d("zmtp_messages_total", "ZMTP messages carried (a message counts once its last frame header was seen).", dir),
		bytes:         d("zmtp_message_bytes_total", "Body bytes of ZMTP message frames carried (frame headers and commands left out).", dir),
		frames:        d("zmtp_frames_total", "ZMTP frame headers carried: message frames, commands and ZMTP 2.0 identities.", dir),
		commands:      d("zmtp_commands_total", "ZMTP PING, PONG, SUBSCRIBE and CANCEL commands carried.", cmd),
		gaps:          d("zmtp_gaps_total", "Losses in the captured byte streams (bytes the capture missed).", dir),
		lost:          d("zmtp_lost_bytes_total", "Bytes the capture missed.", dir),
		resyncs:       d("zmtp_resyncs_total", "Times a direction's decoder found its place in the stream again (after a loss or a mid-stream start).", dir),
		open:          d("zmtp_connections_open", "ZMTP connections open (once their labels are known).", svc),
		conns:         d("zmtp_connections_total", "ZMTP connections ended, by how: fin, rst, idle, reused, evicted, capture_end.", end),
		problems:      d("zmtp_problems_total", "Problems diagnosed, by kind (see zmtpdump --explain).", kind),
		duration:      d("zmtp_request_duration_seconds", "Round trips of REQ/REP and DEALER/ROUTER requests: from the request to its reply, as the capture saw them.", svc),
		ringDrops:     d("zmtpdump_ring_drops_total", "Packets the kernel could not hand over: the ring buffer was full.", nil),
		packets:       d("zmtpdump_packets_total", "Packets that matched the capture's filter, counted in the kernel.", nil),
		folded:        d("zmtpdump_metrics_series_folded_total", "Connections counted under server=\"other\": more services than --metrics-max-series.", nil),
		serviceLabels: svc, dirLabels: dir, cmdLabels: cmd, endLabel: end,
	}
}

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) {
	d := &r.desc
	for _, x := range []*prometheus.Desc{d.messages, d.bytes, d.frames, d.commands, d.gaps, d.lost, d.resyncs,
		d.open, d.conns, d.problems, d.duration, d.ringDrops, d.packets, d.folded} {
		ch <- x
	}
}

// Collect implements prometheus.Collector: it refreshes the open
// connections' state (see SetRefresh), then reports every service's totals
// plus what its open connections published. One scrape at a time.
func (r *Registry) Collect(ch chan<- prometheus.Metric) {
	r.scrape.Lock()
	defer r.scrape.Unlock()
	if r.refresh != nil {
		ctx, cancel := context.WithTimeout(context.Background(), RefreshTimeout)
		_ = r.refresh(ctx) // a capture ending or slow: what was published last
		cancel()
	}
	for _, m := range r.snapshot() {
		ch <- m
	}
}

// sum is a service's figures at a scrape.
type sum struct {
	connData
	open uint64
}

// snapshot builds the metrics from the totals and the published states.
func (r *Registry) snapshot() []prometheus.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(r.now())
	sums := make(map[*service]*sum, len(r.services))
	for _, s := range r.services {
		x := &sum{}
		x.add(&s.closed)
		sums[s] = x
	}
	for c := range r.open {
		if c.svc == nil {
			continue
		}
		x := sums[c.svc]
		x.add(&c.pub)
		x.open++
	}
	d := &r.desc
	out := make([]prometheus.Metric, 0, len(sums)*32+3)
	// A metric client_golang refuses (a label value not UTF-8: the labels
	// are checked before, this is the last guard) is left out, not a panic
	// that fails the whole scrape.
	keep := func(m prometheus.Metric, err error) {
		if err == nil {
			out = append(out, m)
		}
	}
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		keep(prometheus.NewConstMetric(desc, prometheus.CounterValue, float64(v), labels...))
	}
	for s, x := range sums {
		svc := r.labelValues(s)
		for dir, name := range [2]string{"to_server", "to_client"} {
			l := append(svc[:len(svc):len(svc)], name)
			c := &x.st.Counts[dir]
			counter(d.messages, c.Messages, l...)
			counter(d.bytes, c.Bytes, l...)
			counter(d.frames, c.Frames, l...)
			for k := zmtp.CountedCommand(0); k < zmtp.NumCounted; k++ {
				counter(d.commands, c.Commands[k], append(l[:len(l):len(l)], k.String())...)
			}
			counter(d.gaps, x.st.Gaps[dir], l...)
			counter(d.lost, x.st.Lost[dir], l...)
			counter(d.resyncs, x.st.Resyncs[dir], l...)
		}
		keep(prometheus.NewConstMetric(d.open, prometheus.GaugeValue, float64(x.open), svc...))
		for i, n := range s.ends {
			if n > 0 {
				counter(d.conns, n, append(svc[:len(svc):len(svc)], endNames[i])...)
			}
		}
		for k, n := range x.problems {
			if n > 0 {
				counter(d.problems, uint64(n), append(svc[:len(svc):len(svc)], diagnose.Kind(k).String())...)
			}
		}
		if h := x.rtt; h != nil {
			buckets := make(map[float64]uint64, len(Buckets))
			var cum uint64
			for i, b := range Buckets {
				cum += h.counts[i]
				buckets[b] = cum
			}
			cum += h.counts[len(Buckets)]
			keep(prometheus.NewConstHistogram(d.duration, cum, h.sum, buckets, svc...))
		}
	}
	counter(d.ringDrops, r.drops)
	counter(d.packets, r.packets)
	counter(d.folded, r.folded)
	return out
}

// labelValues are s's service label values, in the descriptions' order.
func (r *Registry) labelValues(s *service) []string {
	k := &s.key
	v := []string{k.server, k.clientType, k.serverType, k.mechanism}
	if r.cfg.PodLabels {
		v = append(v, k.pod, k.namespace)
	}
	return v
}
