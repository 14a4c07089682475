package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/metrics"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/procs"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// --metrics: each session has a metrics.Conn (made by the factory, on the
// goroutine that owns the connection). A scrape asks the pipeline loop,
// through pipeMetrics.req, to have every open connection publish its state
// (EachConn, on the goroutines that own them) and the kernel's counters;
// the loop looks for a request after each segment (a channel's length) and
// when the ring is idle (the scrape wakes a waiting read). Nothing is done
// per message but a round trip's check after each decoded event, only on
// the connections of metrics. Closing connections hand their final state
// over in Close.

// errLoopEnded: the capture's loop no longer answers scrapes (it ended:
// what the connections carried was folded at their close).
var errLoopEnded = errors.New("the capture ended")

// pipeMetrics is the pipeline's side of --metrics.
type pipeMetrics struct {
	reg  *metrics.Registry
	addr string
	srv  *metrics.Server
	pods *podLabels // --metrics-pod-labels; nil: off
	// req carries a scrape's request to the loop, which closes the channel
	// it carries once done.
	req chan chan struct{}
	// done is closed when the loop ends.
	done chan struct{}
	// wake makes the loop's waiting read return (live captures; nil
	// otherwise); stats reads the kernel's counters, on the loop.
	wake  func()
	stats func() (loader.Stats, error)
}

// newMetrics returns the metrics of cfg (nil: --metrics not given).
func newMetrics(cfg *Config) *pipeMetrics {
	if cfg.Metrics == "" {
		return nil
	}
	m := &pipeMetrics{
		reg:  metrics.New(metrics.Config{MaxServices: cfg.MetricsMaxSeries, PodLabels: cfg.MetricsPodLabels, Expire: cfg.MetricsExpire}),
		addr: cfg.Metrics,
		req:  make(chan chan struct{}, 1),
		done: make(chan struct{}),
	}
	if cfg.MetricsPodLabels {
		m.pods = newPodLabels()
	}
	m.reg.SetRefresh(m.refresh)
	return m
}

// listen binds the metrics address; serving starts with serve.
func (m *pipeMetrics) listen() error {
	if m == nil {
		return nil
	}
	srv, err := metrics.Listen(m.addr, m.reg)
	if err != nil {
		return err
	}
	m.srv = srv
	return nil
}

// serve starts answering scrapes, once capturing, and says where on stderr;
// wake makes the loop's waiting read return (nil: none).
func (m *pipeMetrics) serve(c *loader.Capture, wake func(), stderr io.Writer) {
	if m == nil || m.srv == nil {
		return
	}
	m.wake = wake
	if c != nil {
		m.stats = c.Stats
	}
	fmt.Fprintf(stderr, "zmtpdump: serving metrics at http://%s/metrics\n", m.srv.Addr())
	m.srv.Serve()
}

// ended tells the scrapes that the loop no longer answers.
func (m *pipeMetrics) ended() {
	if m != nil {
		close(m.done)
	}
}

// close stops serving.
func (m *pipeMetrics) close() error {
	if m == nil || m.srv == nil {
		return nil
	}
	return m.srv.Close()
}

// pending reports a scrape waiting for the loop.
func (m *pipeMetrics) pending() bool { return m != nil && len(m.req) > 0 }

// refresh is the Registry's refresh function: it hands the loop a request
// and waits until the loop answered it, ended, or ctx is done.
func (m *pipeMetrics) refresh(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case m.req <- ack:
	case <-m.done:
		return errLoopEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	if m.wake != nil {
		m.wake()
	}
	select {
	case <-ack:
		return nil
	case <-m.done:
		return errLoopEnded
	case <-ctx.Done():
		return ctx.Err()
	}
}

// serveMetrics answers a scrape waiting, if any: every open connection
// publishes its state, the kernel's counters are read. Called by the loop.
func (p *Pipeline) serveMetrics() {
	if p.met == nil {
		return
	}
	select {
	case ack := <-p.met.req:
		now, counts := time.Now(), p.scrapeCounts()
		p.EachConn(func(v ConnView) { v.s.publish(now, counts) })
		if p.met.stats != nil {
			if ks, err := p.met.stats(); err == nil {
				p.met.reg.SetCapture(ks.Matched, ks.Lost)
			}
		}
		close(ack)
	default:
	}
}

// ConnView is an open connection as EachConn shows it, valid during the
// call only.
type ConnView struct{ s *session }

// Client and Server are the connection's endpoints.
func (v ConnView) Client() netip.AddrPort { return v.s.conn.Client }

// Server is the listening endpoint.
func (v ConnView) Server() netip.AddrPort { return v.s.conn.Server }

// Counts returns what direction d carried so far, exactly.
func (v ConnView) Counts(d segment.Dir) zmtp.Counts { return v.s.counts(d) }

// EachConn calls f with every open connection, on the goroutines that own
// them (several at once with reassembly shards: f must be safe for
// concurrent use), after the segments added so far. Call it from the
// goroutine that calls Add.
func (p *Pipeline) EachConn(f func(c ConnView)) {
	p.asm.Each(func(c flows.Consumer) {
		if s, ok := c.(*session); ok {
			f(ConnView{s})
		}
	})
}

// openMetrics gives a new connection its metrics (none without --metrics).
func (p *Pipeline) openMetrics(c *flows.Conn) *metrics.Conn {
	if p.met == nil {
		return nil
	}
	if c.ServerKnown { // a SYN or a SYN-ACK said
		return p.met.reg.Open(c.Server)
	}
	// Picked up mid-stream: the first segment's destination is only a
	// guess (a PUB's or a REP's segment goes to the client). The --port
	// filter's ports are servers' ports: one end's only decides.
	if ports := p.cfg.Ports; !ports.Empty() {
		cs, ss := ports.Match(c.Client.Port(), 0), ports.Match(c.Server.Port(), 0)
		switch {
		case ss && !cs:
			return p.met.reg.Open(c.Server)
		case cs && !ss:
			m := p.met.reg.OpenUndecided()
			m.Decide(c.Client, true)
			return m
		}
	}
	return p.met.reg.OpenUndecided() // process attribution may tell (decideServer)
}

// decideServer names the server end of a connection picked up mid-stream
// from process attribution, once it found the end that listened or
// accepted.
func (s *session) decideServer() {
	if s.met.Decided() || s.procs == nil || s.procs.tr == nil {
		return
	}
	e := s.own.ends
	if e[0] == nil || e[1] == nil { // no event yet may have looked them up
		c, sv := s.procs.tr.Ends(s.conn.Client, s.conn.Server)
		e = [2]*procs.Process{c, sv}
	}
	switch {
	case e[1] != nil && e[1].Server:
		s.met.Decide(s.conn.Server, false)
	case e[0] != nil && e[0].Server:
		s.met.Decide(s.conn.Client, true)
	}
}

// countsFunc returns what a session's direction carried so far.
type countsFunc func(s *session, d segment.Dir) zmtp.Counts

// scrapeCounts returns how a scrape reads the open connections' counts,
// on the loop before EachConn: it reads the kernel's counts of every
// direction in one pass (count mode; nil otherwise) and hands each session
// that, read-only during the visit, so shards may share it.
func (p *Pipeline) scrapeCounts() countsFunc {
	kc := p.kernelCounts()
	return func(s *session, d segment.Dir) zmtp.Counts { return s.countsIn(d, kc) }
}

// metricLabels are the connection's service labels as decoded so far.
func (s *session) metricLabels() metrics.Labels {
	cl, sv := s.zc.Decoder(segment.ClientToServer), s.zc.Decoder(segment.ServerToClient)
	if s.met != nil && s.met.Swapped() {
		cl, sv = sv, cl
	}
	l := metrics.Labels{ClientType: cl.SocketType(), ServerType: sv.SocketType(), Mechanism: cl.Mechanism()}
	if l.Mechanism == "" {
		l.Mechanism = sv.Mechanism()
	}
	s.podLabels(&l)
	if ipc := s.ipc(); ipc != nil {
		l.Server = "ipc://" + output.PathText(ipc.Path) // valid UTF-8, as lines show it
	}
	return l
}

// metricState is what the connection carried so far, its counts read
// with counts.
func (s *session) metricState(counts countsFunc) metrics.State {
	var st metrics.State
	for d := range st.Counts {
		st.Counts[d] = counts(s, segment.Dir(d))
		st.Resyncs[d] = s.zc.Decoder(segment.Dir(d)).Resyncs()
	}
	if l := s.loss; l != nil {
		// In count mode, less the losses the kernel's counts covered
		// (coverLoss).
		for d := range st.Gaps {
			st.Gaps[d] = l.gaps[d] - l.covered.gaps[d]
			st.Lost[d] = l.lost[d] - l.covered.lost[d]
			st.Resyncs[d] -= min(st.Resyncs[d], l.covered.resyncs[d])
		}
	}
	if s.met != nil && s.met.Swapped() {
		st.Counts[0], st.Counts[1] = st.Counts[1], st.Counts[0]
		st.Resyncs[0], st.Resyncs[1] = st.Resyncs[1], st.Resyncs[0]
		st.Gaps[0], st.Gaps[1] = st.Gaps[1], st.Gaps[0]
		st.Lost[0], st.Lost[1] = st.Lost[1], st.Lost[0]
	}
	return st
}

// publish hands the connection's state to its metrics, at a scrape. A
// connection the owner gate hides (--pid, --comm) publishes nothing.
func (s *session) publish(now time.Time, counts countsFunc) {
	if s.met == nil || s.own.skip {
		return
	}
	var l metrics.Labels
	if !s.met.Settled() { // fixed once settled: not looked up again
		s.decideServer()
		l = s.metricLabels()
	}
	s.met.Update(l, s.metricState(counts), now)
}

// closeMetrics hands the final state over at the connection's end. One
// that carried no payload (no ZMTP: a refused attempt, a port probe) or
// that the owner gate hides is forgotten.
func (s *session) closeMetrics(r segment.CloseReason) {
	if s.met == nil {
		return
	}
	if !s.fed() || s.own.skip {
		s.met.Forget(r)
	} else {
		var l metrics.Labels
		if !s.met.Settled() {
			s.decideServer()
			l = s.metricLabels()
		}
		s.met.Close(l, s.metricState((*session).counts), r)
	}
	s.met = nil
}

// roundTrip hands the round trip the event just matched, if any, to the
// metrics (diagnose measures round trips; a nil check on other
// connections).
func (s *session) roundTrip() {
	if n, rtt := s.diag.RoundTrips(); n != s.met.RoundTrips() {
		s.met.RoundTrip(rtt)
	}
}

// problemMetrics counts problems of this connection.
func (s *session) problemMetrics(ps []diagnose.Problem) {
	for i := range ps {
		s.met.Problem(ps[i].Kind)
	}
}

// refusedMetrics counts problems that belong to no connection.
func (p *Pipeline) refusedMetrics(ps []diagnose.Problem) {
	if p.met == nil {
		return
	}
	for i := range ps {
		p.met.reg.Problem(ps[i].Server, ps[i].Kind)
	}
}
