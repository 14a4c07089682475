package session

import (
	"net/netip"
	"sync"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Diagnosis: problems are events. A session feeds its diagnose.Conn every
// decoded event, the traffic, the stalls and the close, and prints the
// problems they show through the sink, after the event that showed them
// and under the owner gate's decision for the connection. The pipeline
// feeds the SYNs and RSTs to a diagnose.Refused (connect-refused bursts,
// across connections) and the identities to a diagnose.Identities; the
// sink sums them up at exit.

// identities is a diagnose.Identities shared by the sessions, which run
// on shard goroutines: one lock per handshake event, none per message.
type identities struct {
	mu sync.Mutex
	id *diagnose.Identities
}

func (i *identities) event(client, server netip.AddrPort, d segment.Dir, t time.Time, ev zmtp.Event) []diagnose.Problem {
	if i == nil {
		return nil
	}
	switch e := ev.(type) {
	case *zmtp.Command:
		if e.Kind != zmtp.KindReady && e.Kind != zmtp.KindInitiate {
			return nil // not PINGs, PONGs, subscriptions: no lock for them
		}
	case *zmtp.Identity, *zmtp.Greeting:
	default:
		return nil // an identity is announced in READY or an identity frame
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.id.Event(client, server, d, t, ev)
}

func (i *identities) close(client, server netip.AddrPort) {
	if i == nil {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.id.Close(client, server)
}

// newDiagnosis sets the pipeline's detectors up, unless cfg turns them off.
func (p *Pipeline) newDiagnosis() {
	if p.cfg.NoProblems {
		return
	}
	dc := p.cfg.Diagnose
	if len(p.cfg.IPC) > 0 {
		dc.Names = pipeNames{p} // no synthetic address in the texts
	}
	p.diagnose = &dc
	p.refused = diagnose.NewRefused(p.cfg.Diagnose)
	p.sink.idents = &identities{id: diagnose.NewIdentities(dc)}
}

// pipeNames names connections' ends in problem texts (diagnose.Config's
// Names, with --ipc): an ipc end as lines name it, a TCP end by its
// address. It is called on shard goroutines.
type pipeNames struct{ p *Pipeline }

// EndName implements diagnose.EndNamer.
func (n pipeNames) EndName(ap netip.AddrPort) string {
	if n.p.ipcEnds == nil {
		return ap.String()
	}
	return n.p.ipcEnds.name(ap)
}

// newDiag returns the diagnosis of a new connection (nil: off).
func (p *Pipeline) newDiag(client, server netip.AddrPort) *diagnose.Conn {
	if p.diagnose == nil {
		return nil
	}
	return diagnose.NewConn(client, server, p.diagnose)
}

// refusedSegment shows a SYN or RST to the connect-refused detector.
func (p *Pipeline) refusedSegment(seg *segment.Segment) {
	if p.refused == nil || seg.Flags&(segment.SYN|segment.RST) == 0 {
		return
	}
	p.printRefused(p.refused.Segment(seg))
}

// flushRefused ends the connect-refused bursts quiet at now (all of them
// when final: the source is read).
func (p *Pipeline) flushRefused(now time.Time, final bool) {
	if p.refused != nil {
		p.printRefused(p.refused.Flush(now, final))
	}
}

// printRefused prints connect-refused problems. A refused attempt never
// became a connection whose owners the kernel could tell: under --pid or
// --comm they are counted in no summary and printed nowhere, as the
// connections the gate hides.
func (p *Pipeline) printRefused(ps []diagnose.Problem) {
	if len(ps) == 0 || p.procs.filtering() {
		return
	}
	p.refusedMetrics(ps)
	for i := range ps {
		pr := &ps[i]
		p.sink.problem(output.Line{From: pr.From, Time: pr.Time, Src: pr.Client, Dst: pr.Server}, pr)
	}
}

// diagEvent judges ev, sent in direction d at t, and prints the problems
// it shows. The session's owner gate was passed by the caller.
func (s *session) diagEvent(d segment.Dir, t time.Time, ev zmtp.Event) {
	if s.diag == nil {
		return
	}
	if ps := s.diag.Event(d, t, ev); len(ps) > 0 {
		s.printProblems(ps)
	}
	if s.met != nil {
		s.roundTrip()
	}
	if _, msg := ev.(*zmtp.Message); msg {
		return // identities are in greetings, identity frames and commands
	}
	if ps := s.out.idents.event(s.conn.Client, s.identServer(), d, t, ev); len(ps) > 0 {
		for i := range ps {
			ps[i].Server = s.conn.Server // not identServer's key
		}
		s.printProblems(ps)
	}
}

// identServer is the server endpoint the identities of the connection's
// client are compared under: its server's address for TCP; for ipc, where
// each accepted socket has an address of its own, one per path (the
// listening socket's, which all connections to it share), as
// segment.IPCAddr makes from a hash of the path.
func (s *session) identServer() netip.AddrPort {
	ipc := s.ipc()
	if ipc == nil {
		return s.conn.Server
	}
	h := uint64(14695981039346656037) // FNV-1a, with no allocation
	for i := 0; i < len(ipc.Path); i++ {
		h = (h ^ uint64(ipc.Path[i])) * 1099511628211
	}
	return segment.IPCAddr(h, true)
}

// printProblems prints problems of this connection, unless the owner gate
// hides it. Each goes to learning mode too (its --explain note, its row
// in the ladder).
func (s *session) printProblems(ps []diagnose.Problem) {
	if len(ps) == 0 {
		return
	}
	if s.met != nil {
		s.problemMetrics(ps) // the gate decides at the scrape and the close
	}
	if !s.resolveOwners(s.seg.Time) {
		return // --pid/--comm: neither end matches
	}
	ipc := s.ipc()
	for i := range ps {
		pr := &ps[i]
		if ipc != nil { // the exit summary names the ends as the lines do
			pr.ClientName, pr.ServerName = output.EndName(pr.Client, ipc), output.EndName(pr.Server, ipc)
		}
		notes := s.learn.event(pr.From, pr.Time, pr)
		l := output.Line{From: pr.From, Time: pr.Time, Src: pr.Client, Dst: pr.Server,
			Owners: s.ownersFor(segment.ClientToServer), Notes: notes, IPC: s.ipc()}
		s.out.problem(l, pr)
	}
}

// stallReport is flows' stall report (flows.Consumer.Stall): the sender of
// direction d became stalled (the receiver advertises a zero window while
// d has data unacknowledged) or recovered. seg is the segment that showed
// it (nil: the connection's end, at its last data).
func (s *session) stallReport(d segment.Dir, stalled bool, seg *segment.Segment) {
	if s.diag == nil {
		return
	}
	t := s.last
	if seg != nil {
		t = seg.Time
	}
	if s.seg == nil {
		s.seg = &segment.Segment{Time: t}
	}
	s.printProblems(s.diag.Stall(d, stalled, t))
}

// diagClose ends the diagnosis at the close of the connection, at t: the
// problems the end shows are printed before the connection's summary.
func (s *session) diagClose(r segment.CloseReason, t time.Time) {
	if s.diag == nil {
		return
	}
	mid := s.zc.Decoder(segment.ClientToServer).InMessage() || s.zc.Decoder(segment.ServerToClient).InMessage()
	s.printProblems(s.diag.Close(r, t, mid))
}

// diagForget forgets the connection among the identities followed, once
// its decoders emitted all they held (a 2.0 greeting waiting for its
// peer's would otherwise make an entry again, never removed).
func (s *session) diagForget() {
	if s.diag != nil {
		s.out.idents.close(s.conn.Client, s.identServer())
	}
}

// diagGap tells the diagnosis that direction d lost n bytes at t, as an
// event (a *zmtp.Gap: the decoder counts some gaps without emitting them),
// so that it judges nothing it did not see.
func (s *session) diagGap(d segment.Dir, t time.Time, n uint64) {
	if s.diag != nil {
		s.printProblems(s.diag.Event(d, t, &zmtp.Gap{Bytes: n}))
	}
}

// traffic tells the diagnosis that direction d carried bytes in seg (data,
// bytes not captured or lost: all of them are the peer talking).
func (s *session) traffic(d segment.Dir, seg *segment.Segment) {
	if s.diag != nil {
		s.diag.Traffic(d, seg.Time)
	}
}

// health returns the connection's figures for its summary (nil: none).
func (s *session) health() *diagnose.Health {
	if s.diag == nil {
		return nil
	}
	return s.diag.Health()
}
