package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

var (
	srv1 = netip.MustParseAddrPort("10.0.0.1:5555")
	srv2 = netip.MustParseAddrPort("[fd00::2]:6000")
	t0   = time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
)

// gather scrapes r as Prometheus would and returns every sample as
// `name{label="value",...}` (labels sorted) → value; histograms as their
// _count, _sum and _bucket samples.
func gather(t *testing.T, r *Registry) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			key := func(suffix string, extra ...string) string {
				all := append(append([]string{}, ls...), extra...)
				sort.Strings(all)
				return mf.GetName() + suffix + "{" + strings.Join(all, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key("")] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key("")] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				out[key("_count")] = float64(h.GetSampleCount())
				out[key("_sum")] = h.GetSampleSum()
				for _, b := range h.GetBucket() {
					out[key("_bucket", fmt.Sprintf("le=%q", fmt.Sprint(b.GetUpperBound())))] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

func svc(server, ct, st, mech string) string {
	return fmt.Sprintf("client_socket_type=%q,mechanism=%q,server=%q,server_socket_type=%q", ct, mech, server, st)
}

func dirKey(name, labels, dir string) string {
	// direction sorts before mechanism and after client_socket_type.
	i := strings.Index(labels, ",mechanism=")
	return name + "{" + labels[:i] + fmt.Sprintf(",direction=%q", dir) + labels[i:] + "}"
}

var pushPull = Labels{ClientType: "PUSH", ServerType: "PULL", Mechanism: "NULL"}

func state(msgs0, bytes0, msgs1 uint64) State {
	var st State
	st.Counts[0] = zmtp.Counts{Messages: msgs0, Frames: msgs0 + 1, Bytes: bytes0}
	st.Counts[1] = zmtp.Counts{Messages: msgs1, Frames: msgs1 + 1}
	return st
}

func TestLabelsAndCounts(t *testing.T) {
	r := New(Config{})
	c := r.Open(srv1)
	st := state(10, 640, 0)
	st.Counts[0].Commands[zmtp.CountPing] = 3
	st.Gaps[1], st.Lost[1], st.Resyncs[1] = 1, 100, 1
	c.Update(pushPull, st, t0)
	got := gather(t, r)
	l := svc("10.0.0.1:5555", "PUSH", "PULL", "NULL")
	for k, want := range map[string]float64{
		dirKey("zmtp_messages_total", l, "to_server"):      10,
		dirKey("zmtp_message_bytes_total", l, "to_server"): 640,
		dirKey("zmtp_frames_total", l, "to_server"):        11,
		dirKey("zmtp_messages_total", l, "to_client"):      0,
		dirKey("zmtp_frames_total", l, "to_client"):        1,
		dirKey("zmtp_gaps_total", l, "to_client"):          1,
		dirKey("zmtp_lost_bytes_total", l, "to_client"):    100,
		dirKey("zmtp_resyncs_total", l, "to_client"):       1,
		"zmtp_commands_total{" + strings.Replace(l, ",mechanism=", `,command="PING",direction="to_server",mechanism=`, 1) + "}": 3,
		"zmtp_connections_open{" + l + "}":       1,
		"zmtpdump_ring_drops_total{}":            0,
		"zmtpdump_packets_total{}":               0,
		"zmtpdump_metrics_series_folded_total{}": 0,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	for k := range got {
		if strings.Contains(k, "port") && !strings.Contains(k, "10.0.0.1:5555") {
			t.Errorf("unexpected series %s", k)
		}
	}
}

func TestUnknownLabels(t *testing.T) {
	r := New(Config{})
	c := r.Open(srv2)
	c.Close(Labels{ClientType: "FROB", Mechanism: "\x00\x01"}, state(1, 1, 0), segment.Reset)
	got := gather(t, r)
	l := svc("[fd00::2]:6000", Unknown, Unknown, Unknown)
	if got["zmtp_connections_total{"+strings.Replace(l, ",mechanism=", `,end="rst",mechanism=`, 1)+"}"] != 1 {
		t.Errorf("no rst end with unknown labels in %v", got)
	}
	if got["zmtp_connections_open{"+l+"}"] != 0 {
		t.Errorf("closed connection still open")
	}
}

// A connection shows in no series until its labels settle, so that its
// counts never move between label sets.
func TestSettle(t *testing.T) {
	r := New(Config{})
	c := r.Open(srv1)
	c.Update(Labels{ClientType: "PUSH", Mechanism: "NULL"}, State{}, t0)
	if n := countPrefix(gather(t, r), "zmtp_"); n != 0 {
		t.Fatalf("unsettled connection shows in %d series", n)
	}
	c.Update(Labels{ClientType: "PUSH", Mechanism: "NULL"}, State{}, t0.Add(SettleAfter))
	l := svc("10.0.0.1:5555", "PUSH", Unknown, "NULL")
	if got := gather(t, r); got["zmtp_connections_open{"+l+"}"] != 1 {
		t.Fatalf("not settled after SettleAfter: %v", got)
	}
	// Later labels do not move it.
	c.Update(pushPull, state(5, 5, 0), t0.Add(2*SettleAfter))
	got := gather(t, r)
	if got[dirKey("zmtp_messages_total", l, "to_server")] != 5 {
		t.Errorf("counts moved away from the settled labels: %v", got)
	}
	// A message settles at once.
	c2 := r.Open(srv2)
	c2.Update(Labels{}, state(1, 1, 0), t0)
	if got := gather(t, r); got["zmtp_connections_open{"+svc("[fd00::2]:6000", Unknown, Unknown, Unknown)+"}"] != 1 {
		t.Errorf("a connection with a message did not settle: %v", got)
	}
}

func countPrefix(m map[string]float64, p string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, p) {
			n++
		}
	}
	return n
}

// Counters never go backwards: a connection's counts move from its
// published state into its service's totals at its close.
func TestMonotonicAcrossClose(t *testing.T) {
	r := New(Config{})
	l := svc("10.0.0.1:5555", "PUSH", "PULL", "NULL")
	key := dirKey("zmtp_messages_total", l, "to_server")
	a := r.Open(srv1)
	a.Update(pushPull, state(10, 0, 0), t0)
	steps := []float64{gather(t, r)[key]}
	a.Close(pushPull, state(12, 0, 0), segment.Finished)
	steps = append(steps, gather(t, r)[key])
	b := r.Open(srv1)
	steps = append(steps, gather(t, r)[key])
	b.Update(pushPull, state(3, 0, 0), t0)
	steps = append(steps, gather(t, r)[key])
	b.Update(pushPull, state(3, 0, 0), t0) // an update twice counts once
	steps = append(steps, gather(t, r)[key])
	b.Close(pushPull, state(4, 0, 0), segment.Idle)
	b.Update(pushPull, state(100, 0, 0), t0) // after Close: ignored
	steps = append(steps, gather(t, r)[key])
	if diff := cmp.Diff([]float64{10, 12, 12, 15, 15, 16}, steps); diff != "" {
		t.Errorf("messages at each scrape (-want +got):\n%s", diff)
	}
	got := gather(t, r)
	for end, want := range map[string]float64{"fin": 1, "idle": 1} {
		k := "zmtp_connections_total{" + strings.Replace(l, ",mechanism=", fmt.Sprintf(",end=%q,mechanism=", end), 1) + "}"
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
}

func TestFolding(t *testing.T) {
	r := New(Config{MaxServices: 2})
	for i := range 5 {
		c := r.Open(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), uint16(7000+i)))
		c.Close(pushPull, state(1, 0, 0), segment.Finished)
	}
	// Another kind of service beyond the cap folds into the same one.
	c0 := r.Open(netip.MustParseAddrPort("10.0.0.9:8000"))
	c0.Close(Labels{ClientType: "REQ", ServerType: "REP", Mechanism: "CURVE"}, state(0, 0, 0), segment.Finished)
	// The first services keep their series, whatever comes later.
	c := r.Open(netip.MustParseAddrPort("10.0.0.9:7000"))
	c.Close(pushPull, state(1, 0, 0), segment.Finished)
	got := gather(t, r)
	want := map[string]float64{
		"10.0.0.9:7000": 2, "10.0.0.9:7001": 1, Other: 3, // and the REQ's 0
	}
	for server, n := range want {
		l := svc(server, "PUSH", "PULL", "NULL")
		if server == Other {
			l = svc(Other, Other, Other, Other)
		}
		k := dirKey("zmtp_messages_total", l, "to_server")
		if got[k] != n {
			t.Errorf("%s = %v, want %v", k, got[k], n)
		}
	}
	if got["zmtpdump_metrics_series_folded_total{}"] != 4 {
		t.Errorf("folded = %v, want 4", got["zmtpdump_metrics_series_folded_total{}"])
	}
	if n := countPrefix(got, "zmtp_connections_total"); n != 3 {
		t.Errorf("%d zmtp_connections_total series, want 3 (two services and other)", n)
	}
}

func TestHistogramAndProblems(t *testing.T) {
	r := New(Config{})
	c := r.Open(srv1)
	reqRep := Labels{ClientType: "REQ", ServerType: "REP", Mechanism: "NULL"}
	for _, d := range []time.Duration{50 * time.Microsecond, 300 * time.Microsecond, 2 * time.Second, 20 * time.Second} {
		c.RoundTrip(d)
	}
	c.Problem(diagnose.HeartbeatTimeout)
	c.Update(reqRep, state(4, 0, 4), t0)
	c.RoundTrip(time.Millisecond) // not yet published
	l := svc("10.0.0.1:5555", "REQ", "REP", "NULL")
	got := gather(t, r)
	le := func(b string) string {
		return "zmtp_request_duration_seconds_bucket{" + strings.Replace(l, ",mechanism=", fmt.Sprintf(",le=%q,mechanism=", b), 1) + "}"
	}
	for k, want := range map[string]float64{
		"zmtp_request_duration_seconds_count{" + l + "}": 4,
		le("0.0001"): 1, le("0.0005"): 2, le("2.5"): 3, le("10"): 3,
		"zmtp_problems_total{" + strings.Replace(l, ",mechanism=", `,kind="heartbeat-timeout",mechanism=`, 1) + "}": 1,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if s := got["zmtp_request_duration_seconds_sum{"+l+"}"]; s < 22.0003 || s > 22.0004 {
		t.Errorf("sum = %v, want 22.00035", s)
	}
	c.Close(reqRep, state(5, 0, 5), segment.Finished)
	if got := gather(t, r); got["zmtp_request_duration_seconds_count{"+l+"}"] != 5 {
		t.Errorf("count after close = %v, want 5", got["zmtp_request_duration_seconds_count{"+l+"}"])
	}
	r.Problem(srv2, diagnose.ConnectRefused)
	got = gather(t, r)
	k := "zmtp_problems_total{" + strings.Replace(svc("[fd00::2]:6000", Unknown, Unknown, Unknown), ",mechanism=", `,kind="connect-refused",mechanism=`, 1) + "}"
	if got[k] != 1 {
		t.Errorf("%s = %v, want 1", k, got[k])
	}
}

func TestPodLabels(t *testing.T) {
	r := New(Config{PodLabels: true})
	c := r.Open(srv1)
	l := pushPull
	l.Pod, l.Namespace = "web-0", "prod"
	c.Update(l, state(1, 0, 0), t0)
	got := gather(t, r)
	k := `zmtp_connections_open{client_socket_type="PUSH",mechanism="NULL",namespace="prod",pod="web-0",server="10.0.0.1:5555",server_socket_type="PULL"}`
	if got[k] != 1 {
		t.Errorf("%s = %v; got %v", k, got[k], got)
	}
}

// Owners update and close connections on several goroutines while scrapes
// run: race-free (go test -race), and no counter goes backwards.
func TestConcurrent(t *testing.T) {
	r := New(Config{})
	var owners sync.WaitGroup
	stop := make(chan struct{})
	r.SetRefresh(func(context.Context) error { return nil })
	for g := range 4 {
		owners.Add(1)
		go func() {
			defer owners.Done()
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := r.Open(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(5000+g)))
				for n := uint64(1); n <= 5; n++ {
					c.RoundTrip(time.Millisecond)
					c.Update(pushPull, state(n, n, 0), t0)
				}
				c.Close(pushPull, state(6, 6, 0), segment.Finished)
			}
		}()
	}
	last := map[string]float64{}
	for range 200 {
		for k, v := range gather(t, r) {
			if strings.Contains(k, "_total") && v < last[k] {
				t.Fatalf("%s went back from %v to %v", k, last[k], v)
			}
			last[k] = v
		}
	}
	close(stop)
	owners.Wait()
}

func TestCheckAddr(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{":9464", true}, {"127.0.0.1:9464", true}, {"[::1]:9464", true}, {"localhost:0", true},
		{"9464", false}, {"127.0.0.1", false}, {"127.0.0.1:http", false}, {"127.0.0.1:70000", false},
		{"example.com:9464", false}, {"", false},
	} {
		if err := CheckAddr(c.addr); (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q) = %v, want ok %v", c.addr, err, c.ok)
		}
	}
}

// The server answers /metrics in the text format once Serve was called.
func TestServer(t *testing.T) {
	r := New(Config{})
	c := r.Open(srv1)
	c.Update(pushPull, state(7, 0, 0), t0)
	refreshed := 0
	r.SetRefresh(func(context.Context) error { refreshed++; return nil })
	s, err := Listen("127.0.0.1:0", r)
	if err != nil {
		t.Fatal(err)
	}
	s.Serve()
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `zmtp_messages_total{client_socket_type="PUSH",direction="to_server",mechanism="NULL",server="10.0.0.1:5555",server_socket_type="PULL"} 7`
	if !strings.Contains(string(body), want) {
		t.Errorf("no %s in\n%s", want, body)
	}
	if refreshed != 1 {
		t.Errorf("refreshed %d times, want 1", refreshed)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	if _, err := Listen("127.0.0.1:"+strings.Split(s.Addr().String(), ":")[1], r); err != nil {
		t.Errorf("port not released at Close: %v", err)
	}
	if _, err := Listen("nonsense", r); err == nil || !strings.Contains(err.Error(), "--metrics nonsense") {
		t.Errorf("Listen(nonsense) = %v", err)
	}
}

// TestBadPodLabel: a pod label that is not a Kubernetes name (here not even
// UTF-8, which client_golang refuses) is dropped, not published: every
// scrape still succeeds and the other series are there.
func TestBadPodLabel(t *testing.T) {
	r := New(Config{PodLabels: true})
	c := r.Open(srv1)
	l := pushPull
	l.Pod, l.Namespace = "evil\xff", "Not_A_Name"
	c.Update(l, state(1, 0, 0), t0)
	c2 := r.Open(srv2)
	l.Pod, l.Namespace = "web-0", "prod"
	c2.Update(l, state(1, 0, 0), t0)
	got := gather(t, r)
	for _, k := range []string{
		`zmtp_connections_open{client_socket_type="PUSH",mechanism="NULL",namespace="",pod="",server="10.0.0.1:5555",server_socket_type="PULL"}`,
		`zmtp_connections_open{client_socket_type="PUSH",mechanism="NULL",namespace="prod",pod="web-0",server="[fd00::2]:6000",server_socket_type="PULL"}`,
	} {
		if got[k] != 1 {
			t.Errorf("%s = %v; got %v", k, got[k], got)
		}
	}
	for _, bad := range []string{"evil\xff", "", "a..b", "-a", "a-", strings.Repeat("a", 254), "UPPER"} {
		if kubeName(bad, 253) {
			t.Errorf("kubeName(%q) = true", bad)
		}
	}
	for _, ok := range []string{"a", "web-7d4b9c-x2x9q", "a.b-c", "0x"} {
		if !kubeName(ok, 253) {
			t.Errorf("kubeName(%q) = false", ok)
		}
	}
}

// TestExpire: a service with no open connection and nothing new for
// Config.Expire is dropped and frees its place under the cap; a service
// with an open connection is kept whatever the time, its counters never
// going back. Refused attempts (no connection) take no place under the cap
// and expire sooner.
func TestExpire(t *testing.T) {
	now := t0
	r := New(Config{MaxServices: 2, Expire: 10 * time.Minute})
	r.now = func() time.Time { return now }
	live := r.Open(srv2)
	live.Update(pushPull, state(3, 0, 0), now)
	dead := r.Open(srv1)
	dead.Close(pushPull, state(1, 0, 0), segment.Finished)
	// A port scan: refused on many ports, no place under the cap taken.
	for i := range 500 {
		r.Problem(netip.AddrPortFrom(netip.MustParseAddr("10.0.0.7"), uint16(1000+i)), diagnose.ConnectRefused)
	}
	now = now.Add(9 * time.Minute)
	got := gather(t, r)
	if k := dirKey("zmtp_messages_total", svc(srv1.String(), "PUSH", "PULL", "NULL"), "to_server"); got[k] != 1 {
		t.Errorf("before expiry %s = %v, want 1", k, got[k])
	}
	now = now.Add(2 * time.Minute)
	live.Update(Labels{}, state(4, 0, 0), now)
	third := netip.MustParseAddrPort("10.0.0.3:7000")
	c := r.Open(third)
	c.Update(pushPull, state(2, 0, 0), now)
	got = gather(t, r)
	for k, want := range map[string]float64{
		dirKey("zmtp_messages_total", svc(srv1.String(), "PUSH", "PULL", "NULL"), "to_server"):  0, // expired
		dirKey("zmtp_messages_total", svc(srv2.String(), "PUSH", "PULL", "NULL"), "to_server"):  4, // live
		dirKey("zmtp_messages_total", svc(third.String(), "PUSH", "PULL", "NULL"), "to_server"): 2, // its own labels
		"zmtpdump_metrics_series_folded_total{}":                                                0,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	// The refused beyond MaxRefused went to other, which stays.
	if n := countPrefix(got, "zmtp_problems_total"); n != 1 {
		t.Errorf("%d refused services left after expiry, want 1 (other); %v", n, got)
	}
}

// TestPodLabelsWait: with Config.PodLabels a connection's labels do not
// settle with an empty pod while its owners may still be found: they wait
// for the pod, for the owners' look-up to end, or SettleAfter.
func TestPodLabelsWait(t *testing.T) {
	r := New(Config{PodLabels: true})
	c := r.Open(srv1)
	c.Update(pushPull, state(1, 0, 0), t0) // complete, a message, no pod yet
	if c.Settled() {
		t.Fatal("settled with no pod while the owners may still be found")
	}
	l := pushPull
	l.Pod, l.Namespace = "web-0", "prod"
	c.Update(l, state(2, 0, 0), t0.Add(time.Second))
	if !c.Settled() {
		t.Fatal("not settled with the pod known")
	}
	c2 := r.Open(srv2)
	l = pushPull
	l.OwnersDone = true
	c2.Update(l, state(1, 0, 0), t0)
	if !c2.Settled() {
		t.Fatal("not settled once the owners' look-up ended")
	}
	c3 := r.Open(netip.MustParseAddrPort("10.0.0.3:1"))
	c3.Update(pushPull, state(1, 0, 0), t0)
	c3.Update(pushPull, state(1, 0, 0), t0.Add(SettleAfter))
	if !c3.Settled() {
		t.Fatal("not settled after SettleAfter")
	}
	got := gather(t, r)
	k := `zmtp_connections_open{client_socket_type="PUSH",mechanism="NULL",namespace="prod",pod="web-0",server="10.0.0.1:5555",server_socket_type="PULL"}`
	if got[k] != 1 {
		t.Errorf("%s = %v; got %v", k, got[k], got)
	}
}

// TestUndecidedServer: a connection whose server end is not known settles
// neither on a complete handshake nor on a message, only SettleAfter after
// it was first seen, under server="unknown"; once Decide named the server
// (swapped or not) it settles as any other.
func TestUndecidedServer(t *testing.T) {
	r := New(Config{})
	c := r.OpenUndecided()
	c.Update(pushPull, state(1, 0, 0), t0)
	if c.Settled() || c.Decided() {
		t.Fatal("an undecided connection settled on its handshake")
	}
	c.Update(pushPull, state(2, 0, 0), t0.Add(SettleAfter))
	if !c.Settled() {
		t.Fatal("not settled after SettleAfter")
	}
	c.Decide(srv2, true) // too late: ignored
	d := r.OpenUndecided()
	d.Decide(srv1, true)
	if !d.Decided() || !d.Swapped() {
		t.Fatal("Decide not kept")
	}
	d.Update(pushPull, state(3, 0, 0), t0)
	got := gather(t, r)
	for k, want := range map[string]float64{
		dirKey("zmtp_messages_total", svc(Unknown, "PUSH", "PULL", "NULL"), "to_server"):       2,
		dirKey("zmtp_messages_total", svc(srv1.String(), "PUSH", "PULL", "NULL"), "to_server"): 3,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if countPrefix(got, `zmtp_connections_open{client_socket_type="PUSH",mechanism="NULL",server="[fd00::2]:6000"`) != 0 {
		t.Error("a Decide after settling moved the connection")
	}
}

// TestIPCServerName: the connections of one ipc:// socket, each with
// synthetic addresses of its own, count under one service named by its
// path, never under an address.
func TestIPCServerName(t *testing.T) {
	r := New(Config{})
	l := pushPull
	l.Server = "ipc:///run/app/feed.ipc"
	for i := range 3 {
		addr := netip.AddrPortFrom(netip.MustParseAddr(fmt.Sprintf("fd7a:6970:6300::%x", 0x100+i)), 1)
		c := r.Open(addr)
		c.Update(l, state(2, 128, 0), t0)
		if i < 2 {
			c.Close(l, state(2, 128, 0), segment.Finished)
		}
	}
	got := gather(t, r)
	k := svc("ipc:///run/app/feed.ipc", "PUSH", "PULL", "NULL")
	if v := got[dirKey("zmtp_messages_total", k, "to_server")]; v != 6 {
		t.Errorf("messages of the path's service = %v, want 6", v)
	}
	if v := got["zmtp_connections_open{"+k+"}"]; v != 1 {
		t.Errorf("open connections of the path's service = %v, want 1", v)
	}
	for s := range got {
		if strings.Contains(s, "fd7a") {
			t.Errorf("a series names a synthetic address: %s", s)
		}
	}
}
