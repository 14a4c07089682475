package session

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zmtpdump/zmtpdump/filter"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
)

// gatherMetrics scrapes the pipeline's registry and returns each sample
// as name{label="value",...} (labels sorted) → value; histograms as _count.
func gatherMetrics(t *testing.T, p *Pipeline) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(p.met.reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Error(err)
		return nil
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			k := "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				out[mf.GetName()+k] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[mf.GetName()+k] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[mf.GetName()+"_count"+k] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// metricsPipeline returns a pipeline with --metrics (never listened on:
// the tests scrape its registry) reading files' segments from a source
// that goes idle between every two, as a live one does.
func metricsPipeline(t *testing.T, shards int, files ...string) (*Pipeline, *fakeSource) {
	t.Helper()
	cfg := &Config{Metrics: "127.0.0.1:0", Shards: shards, Summary: true, Output: output.Options{Location: time.UTC}}
	p := New(cfg, io.Discard, io.Discard)
	var segs []segment.Segment
	for _, f := range files {
		segs = append(segs, readAll(t, "../testdata/"+f)...)
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].Time.Before(segs[j].Time) })
	return p, &fakeSource{segs: segs}
}

func series(name, server, client, srv, mech string, extra ...string) string {
	ls := append([]string{
		fmt.Sprintf("client_socket_type=%q", client), fmt.Sprintf("mechanism=%q", mech),
		fmt.Sprintf("server=%q", server), fmt.Sprintf("server_socket_type=%q", srv),
	}, extra...)
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

var captureWant = map[string]float64{
	series("zmtp_messages_total", "127.0.0.1:17036", "PUSH", "PULL", "NULL", `direction="to_server"`):           5,
	series("zmtp_message_bytes_total", "127.0.0.1:17036", "PUSH", "PULL", "NULL", `direction="to_server"`):      30,
	series("zmtp_messages_total", "127.0.0.1:17036", "PUSH", "PULL", "NULL", `direction="to_client"`):           0,
	series("zmtp_connections_total", "127.0.0.1:17036", "PUSH", "PULL", "NULL", `end="fin"`):                    1,
	series("zmtp_connections_open", "127.0.0.1:17036", "PUSH", "PULL", "NULL"):                                  0,
	series("zmtp_messages_total", "127.0.0.1:17037", "REQ", "REP", "NULL", `direction="to_server"`):             10,
	series("zmtp_messages_total", "127.0.0.1:17037", "REQ", "REP", "NULL", `direction="to_client"`):             10,
	series("zmtp_request_duration_seconds_count", "127.0.0.1:17037", "REQ", "REP", "NULL"):                      10,
	series("zmtp_problems_total", "127.0.0.1:17033", "unknown", "unknown", "unknown", `kind="connect-refused"`): 1,
}

// TestMetricsFromCaptures: the series of real captures (PUSH/PULL,
// REQ/REP with its round trips, a reconnect loop), with one assembler and
// with two shards: the same.
func TestMetricsFromCaptures(t *testing.T) {
	for _, shards := range []int{0, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			p, src := metricsPipeline(t, shards, "healthy_push_pull.pcap", "healthy_reqrep_delay.pcap", "problem_connect_refused.pcap")
			if err := p.loop(src); err != nil {
				t.Fatal(err)
			}
			p.met.ended()
			p.Close()
			got := gatherMetrics(t, p)
			for k, want := range captureWant {
				if v, ok := got[k]; !ok || v != want {
					t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
				}
			}
			// The refused attempts are no connections.
			for k := range got {
				if strings.HasPrefix(k, "zmtp_connections_total") && strings.Contains(k, "17033") {
					t.Errorf("a refused attempt counted as a connection: %s", k)
				}
			}
		})
	}
}

// TestMetricsScrapedWhileCapturing scrapes, on another goroutine, while
// the loop runs (two shards): race-free under -race, no counter goes
// backwards, and the last scrape equals the one after the end.
func TestMetricsScrapedWhileCapturing(t *testing.T) {
	p, src := metricsPipeline(t, 2, "healthy_push_pull.pcap", "healthy_reqrep_delay.pcap", "heartbeat.pcap", "pubsub.pcap")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	scrapes := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		last := map[string]float64{}
		for {
			select {
			case <-stop:
				return
			default:
			}
			for k, v := range gatherMetrics(t, p) {
				if strings.Contains(k, "_total") && v < last[k] {
					t.Errorf("%s went back from %v to %v", k, last[k], v)
				}
				last[k] = v
			}
			scrapes++
		}
	}()
	err := p.loop(&slowSource{src})
	p.met.ended()
	close(stop)
	wg.Wait()
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := gatherMetrics(t, p)
	for k, want := range map[string]float64{
		series("zmtp_messages_total", "127.0.0.1:17036", "PUSH", "PULL", "NULL", `direction="to_server"`): 5,
		series("zmtp_messages_total", "127.0.0.1:17013", "PUSH", "PULL", "NULL", `direction="to_server"`): 2,
		series("zmtp_request_duration_seconds_count", "127.0.0.1:17037", "REQ", "REP", "NULL"):            10,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if got[series("zmtp_commands_total", "127.0.0.1:17014", "SUB", "PUB", "NULL", `command="SUBSCRIBE"`, `direction="to_server"`)] < 1 {
		t.Errorf("no SUBSCRIBE counted: %v", got)
	}
	t.Logf("%d scrapes during the capture", scrapes)
}

// An open connection shows in the series at a scrape, before its end.
func TestMetricsOpenConnection(t *testing.T) {
	p, src := metricsPipeline(t, 0, "healthy_push_pull.pcap")
	src.segs = src.segs[:len(src.segs)-4] // before its FINs
	if err := p.read(src); err != nil {
		t.Fatal(err)
	}
	done := make(chan map[string]float64)
	go func() { done <- gatherMetrics(t, p) }()
	// The loop answers a scrape after a segment or when the ring is idle.
	for {
		select {
		case got := <-done:
			open := series("zmtp_connections_open", "127.0.0.1:17036", "PUSH", "PULL", "NULL")
			if got[open] != 1 {
				t.Errorf("%s = %v, want 1 (%v)", open, got[open], got)
			}
			p.Close()
			return
		default:
			p.serveMetrics()
			time.Sleep(time.Millisecond)
		}
	}
}

// slowSource is a fakeSource that takes its time, so that scrapes land
// among the segments.
type slowSource struct{ *fakeSource }

func (s *slowSource) next(seg *segment.Segment) error {
	time.Sleep(200 * time.Microsecond)
	return s.fakeSource.next(seg)
}

// TestMetricsMidStreamServer: a connection picked up mid-stream whose first
// segment goes server → client. Flows takes its sender for the client; the
// metrics must not label the client's ephemeral port as the server: the
// --port filter's port decides which end serves, and without any knowledge
// (no filter, no SYN, no process attribution) the server is "unknown".
func TestMetricsMidStreamServer(t *testing.T) {
	for _, tc := range []struct {
		ports  []uint16
		listen bool // process attribution saw 17036's socket accepted
	}{{ports: []uint16{17036}}, {}, {listen: true}} {
		ports := tc.ports
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			p, src := metricsPipeline(t, 0)
			var f filter.Ports
			f.Add(ports...)
			p.cfg.Ports = f
			if tc.listen {
				tr := &fakeTracker{}
				srv, cli := netip.MustParseAddrPort("127.0.0.1:17036"), netip.MustParseAddrPort("127.0.0.1:36388")
				tr.own(srv, cli, 10)
				tr.socks[[2]netip.AddrPort{srv, cli}].Server = true
				tr.own(cli, srv, 11)
				p.procs = &owners{tr: tr}
			}
			all := readAll(t, "../testdata/healthy_push_pull.pcap")
			src.segs = all[13:] // server → client first, no SYN
			if s := src.segs[0]; s.Src.Port() != 17036 || s.Flags&segment.SYN != 0 {
				t.Fatalf("first segment %v → %v flags %#x", s.Src, s.Dst, s.Flags)
			}
			if err := p.loop(src); err != nil {
				t.Fatal(err)
			}
			p.met.ended()
			p.Close()
			got := gatherMetrics(t, p)
			want := `server="127.0.0.1:17036"`
			if ports == nil && !tc.listen {
				want = `server="unknown"`
			}
			n := 0
			for k, v := range got {
				if !strings.HasPrefix(k, "zmtp_") {
					continue
				}
				if !strings.Contains(k, want) {
					t.Errorf("%s = %v: want %s", k, v, want)
				}
				if strings.HasPrefix(k, "zmtp_connections_total") {
					n += int(v)
				}
			}
			if n != 1 {
				t.Errorf("%d connections, want 1: %v", n, got)
			}
			if ports != nil || tc.listen {
				// The client's messages go to the server.
				k := series("zmtp_messages_total", "127.0.0.1:17036", "unknown", "unknown", "unknown", `direction="to_client"`)
				if got[k] != 0 {
					t.Errorf("%s = %v, want 0 (%v)", k, got[k], got)
				}
			}
		})
	}
}
