package diagnose

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// captureConn decodes one connection of a capture and diagnoses it, as
// session does.
type captureConn struct {
	r   *captureRun
	fc  *flows.Conn
	z   *zmtp.Conn
	dc  *Conn
	now time.Time
}

type captureRun struct {
	problems  []Problem
	health    []*Health
	ids       *Identities
	diagFirst bool // Conn.Close before zmtp.Conn.Close
}

func (c *captureConn) emit(d segment.Dir, ev zmtp.Event) {
	c.r.problems = append(c.r.problems, c.dc.Event(d, c.now, ev)...)
	c.r.problems = append(c.r.problems, c.r.ids.Event(c.fc.Client, c.fc.Server, d, c.now, ev)...)
}

func (c *captureConn) Data(d segment.Dir, p []byte, seg *segment.Segment) {
	c.now = seg.Time
	if len(p) > 0 {
		c.dc.Traffic(d, seg.Time)
	}
	c.z.Feed(d, p, c.emit)
}

func (c *captureConn) Gap(d segment.Dir, n uint64, seg *segment.Segment) {
	c.now = seg.Time
	c.z.Gap(d, n, c.emit)
}

func (c *captureConn) Skip(d segment.Dir, n uint64, seg *segment.Segment) {
	c.now = seg.Time
	c.z.Skip(d, n, c.emit)
}

// Stall is flows.Consumer's stall report (WINDOW's contract).
func (c *captureConn) Stall(d segment.Dir, stalled bool, seg *segment.Segment) {
	var t time.Time
	if seg != nil {
		t = seg.Time
	}
	c.r.problems = append(c.r.problems, c.dc.Stall(d, stalled, t)...)
}

func (c *captureConn) Close(reason segment.CloseReason, seg *segment.Segment) {
	t := c.now
	if seg != nil {
		t = seg.Time
	}
	mid := false
	for d := segment.ClientToServer; d <= segment.ServerToClient; d++ {
		dec := c.z.Decoder(d)
		if _, in, ok := dec.NextHeader(); ok && in || dec.Passes(1) {
			mid = true
		}
	}
	c.now = t
	if c.r.diagFirst {
		// session's order: the diagnosis ends, then zmtp emits what it
		// held and the connection summary.
		c.r.problems = append(c.r.problems, c.dc.Close(reason, t, mid)...)
		c.z.Close(reason, c.emit)
	} else {
		c.z.Close(reason, c.emit)
		c.r.problems = append(c.r.problems, c.dc.Close(reason, t, mid)...)
	}
	c.r.ids.Close(c.fc.Client, c.fc.Server)
	c.r.health = append(c.r.health, c.dc.Health())
}

// diagnoseCapture runs a capture of testdata through flows, zmtp and
// diagnose, refused attempts included.
func diagnoseCapture(t *testing.T, path string, diagFirst bool) *captureRun {
	t.Helper()
	segs, err := pcapfile.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	run := &captureRun{ids: NewIdentities(Config{}), diagFirst: diagFirst}
	ref := NewRefused(Config{})
	a := flows.New(flows.Config{}, func(fc *flows.Conn) flows.Consumer {
		return &captureConn{r: run, fc: fc, z: zmtp.NewConn(zmtp.Options{}), dc: NewConn(fc.Client, fc.Server, nil)}
	})
	var last time.Time
	for i := range segs {
		s := &segs[i]
		if s.Flags&(segment.SYN|segment.RST) != 0 {
			run.problems = append(run.problems, ref.Segment(s)...)
		}
		a.Add(s)
		last = s.Time
	}
	a.Flush(last)
	run.problems = append(run.problems, ref.Flush(last, true)...)
	return run
}

// TestCaptures: the real captures of testdata, all healthy but
// plain_rejected, give no problem but its auth-failed; the figures of
// reqrep, heartbeat and the subscriptions match what record.sh did.
func TestCaptures(t *testing.T) {
	names, err := filepath.Glob("../testdata/*.pcap*")
	if err != nil {
		t.Fatal(err)
	}
	lossy, _ := filepath.Glob("../testdata/lossy/*.pcap")
	names = append(names, lossy...)
	if len(names) < 10 {
		t.Fatalf("only %d captures", len(names))
	}
	for _, path := range names {
		name, _ := filepath.Rel("../testdata", path)
		t.Run(name, func(t *testing.T) {
			r := diagnoseCapture(t, path, false)
			if r2 := diagnoseCapture(t, path, true); kinds(r2.problems) != kinds(r.problems) {
				t.Errorf("closing diagnose before zmtp: %s, after: %s", kinds(r2.problems), kinds(r.problems))
			}
			for i := range r.problems {
				checkProblem(t, &r.problems[i])
			}
			if strings.HasPrefix(name, "problem_") {
				return // cmd/zmtpdump's TestProblemCaptures asserts their problems
			}
			if name == "plain_rejected.pcap" {
				if len(r.problems) != 1 || r.problems[0].Kind != AuthFailed {
					t.Fatalf("problems %s: %+v", kinds(r.problems), r.problems)
				}
				t.Logf("%s: %s %v", name, r.problems[0].Text, r.problems[0].Fields)
				return
			}
			if len(r.problems) != 0 {
				t.Fatalf("healthy capture: problems %s: %+v", kinds(r.problems), r.problems)
			}
			var h *Health
			for _, x := range r.health {
				if x != nil {
					h = x
				}
			}
			switch name {
			case "reqrep.pcap":
				if h == nil || h.Latency == nil || h.Latency.Count != 2 || h.Latency.P50 <= 0 || h.Latency.Max < h.Latency.P50 {
					t.Fatalf("health %+v", h)
				}
				t.Logf("latency %+v", *h.Latency)
			case "healthy_reqrep_delay.pcap": // the REP sleeps 20 ms before each reply
				if h == nil || h.Latency == nil || h.Latency.Count != 10 || h.Latency.P50 < 16*time.Millisecond || h.Latency.P50 > 24*time.Millisecond {
					t.Fatalf("health %+v", h)
				}
			case "router_dealer.pcap":
				if h == nil || h.Latency == nil || h.Latency.Count != 2 {
					t.Fatalf("health %+v", h)
				}
			case "heartbeat.pcap", "lossy/null_mixed.pcap":
				want := 100 * time.Millisecond
				if name != "heartbeat.pcap" {
					want = 50 * time.Millisecond
				}
				if h == nil || h.HeartbeatInterval < want*8/10 || h.HeartbeatInterval > want*13/10 {
					t.Fatalf("health %+v", h)
				}
			case "pubsub.pcap", "pubsub_zmq4_sub.pcap", "lossy/pubsub31.pcap":
				if h != nil && len(h.Subscriptions) != 0 {
					t.Fatalf("subscriptions cancelled, still %q", h.Subscriptions)
				}
			default:
				if h != nil && (h.Latency != nil || h.Stalled != 0 || len(h.Subscriptions) != 0) {
					t.Fatalf("health %+v", h)
				}
			}
		})
	}
}
