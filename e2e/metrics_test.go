package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// TestMetricsPrometheus runs zmtpdump --metrics on lo while a real
// Prometheus server (Debian's prometheus, scripts/deps) scrapes it every
// second, a libzmq PUSH sends exactly N messages to a PULL and a REQ makes
// R round trips to a REP; Prometheus's HTTP API must then return exactly
// those counts, with the service labels.
func TestMetricsPrometheus(t *testing.T) {
	requireLive(t)
	const n, size, trips = 1500, 64, 40
	push, rr, refused, mport := freePort(t), freePort(t), freePort(t), freePort(t)
	d := startDump(t, "-i", "lo", "--port", strconv.Itoa(push), "--port", strconv.Itoa(rr), "--port", strconv.Itoa(refused), "-q",
		"--metrics", fmt.Sprintf("127.0.0.1:%d", mport))
	prom := startPrometheus(t, fmt.Sprintf("127.0.0.1:%d", mport))

	runPeers(t,
		[]string{"-type", "pull", "-bind", fmt.Sprintf("tcp://127.0.0.1:%d", push), "-count", strconv.Itoa(n)},
		[]string{"-type", "push", "-connect", fmt.Sprintf("tcp://127.0.0.1:%d", push), "-count", strconv.Itoa(n), "-size", strconv.Itoa(size)})
	runPeers(t,
		[]string{"-type", "rep", "-bind", fmt.Sprintf("tcp://127.0.0.1:%d", rr), "-count", strconv.Itoa(trips)},
		[]string{"-type", "req", "-connect", fmt.Sprintf("tcp://127.0.0.1:%d", rr), "-count", strconv.Itoa(trips)})

	// A reconnect loop against a port nobody listens on: a connect-refused
	// problem, of a service whose socket types nobody announced. The PULL
	// gives up (its timeout) with nothing received: no error of ours.
	_ = exec.Command(built.peer, "-type", "pull", "-connect", fmt.Sprintf("tcp://127.0.0.1:%d", refused),
		"-count", "1", "-timeout", "1500ms", "-reconnect-ivl", "50ms").Run()

	pushSvc := fmt.Sprintf(`server="127.0.0.1:%d"`, push)
	rrSvc := fmt.Sprintf(`server="127.0.0.1:%d"`, rr)
	pushLabels := map[string]string{"client_socket_type": "PUSH", "server_socket_type": "PULL", "mechanism": "NULL", "direction": "to_server"}
	rrLabels := map[string]string{"client_socket_type": "REQ", "server_socket_type": "REP", "mechanism": "NULL"}
	for _, c := range []struct {
		query  string
		want   float64
		labels map[string]string
	}{
		{`zmtp_messages_total{` + pushSvc + `,direction="to_server"}`, n, pushLabels},
		{`zmtp_message_bytes_total{` + pushSvc + `,direction="to_server"}`, n * size, pushLabels},
		{`zmtp_messages_total{` + pushSvc + `,direction="to_client"}`, 0, nil},
		{`zmtp_messages_total{` + rrSvc + `,direction="to_server"}`, trips, rrLabels},
		{`zmtp_messages_total{` + rrSvc + `,direction="to_client"}`, trips, rrLabels},
		{`zmtp_request_duration_seconds_count{` + rrSvc + `}`, trips, rrLabels},
		{`sum(zmtp_connections_total{` + pushSvc + `})`, 1, nil},
		{`zmtp_connections_open{` + pushSvc + `}`, 0, nil},
		{`zmtp_gaps_total{` + pushSvc + `,direction="to_server"}`, 0, nil},
		{`zmtpdump_ring_drops_total`, 0, nil},
		{fmt.Sprintf(`zmtp_problems_total{server="127.0.0.1:%d",kind="connect-refused"}`, refused), 1,
			map[string]string{"client_socket_type": "unknown", "server_socket_type": "unknown", "mechanism": "unknown"}},
	} {
		prom.waitFor(t, c.query, c.want, c.labels)
	}
	if v := prom.value(t, `zmtpdump_packets_total`); v < n/50 {
		t.Errorf("zmtpdump_packets_total = %v, want at least %d", v, n/50)
	}
	// Refused attempts are no connections.
	if got := prom.series(t, fmt.Sprintf(`zmtp_connections_total{server="127.0.0.1:%d"}`, refused)); got != 0 {
		t.Errorf("refused attempts counted as %d connection series", got)
	}
	// One series per service and direction: no client port in a label.
	if got := prom.series(t, `zmtp_messages_total{`+pushSvc+`}`); got != 2 {
		t.Errorf("%d zmtp_messages_total series for the PUSH/PULL service, want 2 (one per direction)", got)
	}
	d.stop(t)
}

// prometheus is a running Prometheus server.
type prometheus struct {
	url string
	cmd *exec.Cmd
	log *bytes.Buffer
}

// startPrometheus starts Prometheus on 127.0.0.1 scraping target every
// second, and waits until it is ready; it is stopped when the test ends. A
// Prometheus that is not installed or cannot start skips the test (fails
// it under ZMTPDUMP_REQUIRE_E2E=1).
func startPrometheus(t *testing.T, target string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		skip.Unavailable(t, "no prometheus binary (Debian's prometheus package: scripts/deps installs it): %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	yml := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: zmtpdump\n    static_configs:\n      - targets: ['%s']\n", target)
	if err := os.WriteFile(conf, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := &prometheus{url: "http://" + addr, log: new(bytes.Buffer)}
	p.cmd = exec.Command(bin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		skip.Unavailable(t, "prometheus cannot start: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			skip.Unavailable(t, "prometheus exited at start: %v\n%s", err, p.log.String())
		default:
		}
		if resp, err := http.Get(p.url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			skip.Unavailable(t, "prometheus not ready after 30 s:\n%s", p.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sample is one element of an instant query's vector.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query and returns its vector.
func (p *prometheus) query(t *testing.T, q string) []sample {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string   `json:"resultType"`
			Result     []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s\n%s", q, err, r.Error, body)
	}
	return r.Data.Result
}

// number is a sample's value.
func (s *sample) number(t *testing.T) float64 {
	t.Helper()
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("value %v: %v", s.Value, err)
	}
	return v
}

// value returns the value of a query that returns one sample (-1: none).
func (p *prometheus) value(t *testing.T, q string) float64 {
	t.Helper()
	r := p.query(t, q)
	if len(r) != 1 {
		return -1
	}
	return r[0].number(t)
}

// series returns how many series a query returns.
func (p *prometheus) series(t *testing.T, q string) int { return len(p.query(t, q)) }

// waitFor waits (20 s at most: scrapes come every second) until q returns
// one sample equal to want, and checks its labels.
func (p *prometheus) waitFor(t *testing.T, q string, want float64, labels map[string]string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last []sample
	for {
		last = p.query(t, q)
		if len(last) == 1 && last[0].number(t) == want {
			break
		}
		if time.Now().After(deadline) {
			up := p.query(t, "up")
			t.Errorf("%s: got %v, want one sample of %v (up: %v)", q, last, want, up)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	for k, v := range labels {
		if got := last[0].Metric[k]; got != v {
			t.Errorf("%s: label %s=%q, want %q (%v)", q, k, got, v, last[0].Metric)
		}
	}
	for k := range last[0].Metric {
		if strings.Contains(k, "port") || k == "client" {
			t.Errorf("%s: per-client label %s", q, k)
		}
	}
}
