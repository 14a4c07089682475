package metrics

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// DefaultMaxServices is the default Config.MaxServices (--metrics-max-series).
const DefaultMaxServices = 1000

// DefaultExpire is the default Config.Expire (--metrics-expire).
const DefaultExpire = 10 * time.Minute

// MaxRefused caps the services known only from refused connection attempts
// (Registry.Problem), apart from Config.MaxServices: a port scan fills
// these, never the real services' places. Further ones fold into Other.
const MaxRefused = 100

// RefusedExpire is how long a service known only from refused attempts is
// kept after the last (Config.Expire if shorter).
const RefusedExpire = time.Minute

// SettleAfter is how long after a refresh first saw a connection its labels
// are fixed even if its handshake was not seen whole (see the package doc).
const SettleAfter = 5 * time.Second

// Unknown is the value of a socket type or mechanism label that is not known.
const Unknown = "unknown"

// Other is every label value of the one label set the services beyond
// Config.MaxServices fold into.
const Other = "other"

// Config shapes a Registry.
type Config struct {
	// MaxServices caps the label sets with a real server label (0:
	// DefaultMaxServices).
	MaxServices int
	// PodLabels adds the pod and namespace labels (Labels.Pod,
	// Labels.Namespace) to every zmtp_ series.
	PodLabels bool
	// Expire drops a service that has no open connection and counted
	// nothing new (no close, no problem) for this long, freeing its place
	// under MaxServices (0: DefaultExpire).
	Expire time.Duration
}

// Labels are what a connection's owner knows of its service, as decoded;
// the Registry normalises them (socket types and mechanisms the RFCs do not
// name become Unknown).
type Labels struct {
	// ClientType and ServerType are the socket types the client and the
	// server announced ("" when not known).
	ClientType, ServerType string
	// Mechanism is the security mechanism ("" when not known).
	Mechanism string
	// Pod and Namespace are the server end's Kubernetes pod and namespace
	// ("" when not known; used with Config.PodLabels only).
	Pod, Namespace string
	// OwnersDone reports that process attribution looked the connection's
	// owners up for good: an empty Pod is then final (with
	// Config.PodLabels, labels wait for the pod or for this).
	OwnersDone bool
	// Server, when set, names the server instead of its ip:port: an
	// ipc:// connection's is "ipc://" and the path its server is bound at
	// (its addresses are synthetic, one per connection).
	Server string
}

// complete reports that both socket types are known.
func (l *Labels) complete() bool { return l.ClientType != "" && l.ServerType != "" }

// State is what a connection carried so far, per segment.Dir: cumulative,
// each field only grows.
type State struct {
	// Counts are the direction's counts (zmtp.Counts).
	Counts [2]zmtp.Counts
	// Gaps and Lost count the direction's losses and the bytes they took;
	// Resyncs the times its decoder found its place again.
	Gaps, Lost, Resyncs [2]uint64
}

// maxKinds bounds the problem kinds a Conn counts (diagnose.Kind is below
// 16: diagnose.Conn keeps a bit per kind in 16 bits).
const maxKinds = 16

// connData is what a connection counts: its state, its problems by kind
// and its round trips (nil before the first).
type connData struct {
	st       State
	problems [maxKinds]uint32
	rtt      *hist
}

// copyFrom makes d a copy of o, reusing d's histogram.
func (d *connData) copyFrom(o *connData) {
	d.st, d.problems = o.st, o.problems
	if o.rtt != nil {
		if d.rtt == nil {
			d.rtt = new(hist)
		}
		*d.rtt = *o.rtt
	}
}

// Registry keeps the metrics of a capture: the services, the connections
// open and the capture's counters. It is a prometheus.Collector (see
// Collect). Its methods are safe for concurrent use.
type Registry struct {
	cfg Config

	// scrape serialises Collect; refresh asks the owners of the open
	// connections to publish their state (nil: nobody to ask).
	scrape  sync.Mutex
	refresh func(ctx context.Context) error

	mu       sync.Mutex
	services map[serviceKey]*service
	real     int // services with a real server label, refused excluded
	refused  int // services known only from refused attempts
	open     map[*Conn]struct{}
	folded   uint64
	packets  uint64
	drops    uint64

	desc descs
	now  func() time.Time // time.Now; tests set their own
}

// New returns an empty Registry.
func New(cfg Config) *Registry {
	if cfg.MaxServices <= 0 {
		cfg.MaxServices = DefaultMaxServices
	}
	if cfg.Expire <= 0 {
		cfg.Expire = DefaultExpire
	}
	r := &Registry{cfg: cfg, services: map[serviceKey]*service{}, open: map[*Conn]struct{}{}, now: time.Now}
	r.desc = newDescs(cfg.PodLabels)
	return r
}

// SetRefresh sets the function Collect calls first, to have the open
// connections' owners publish their state (Conn.Update) and the capture's
// counters (SetCapture); it returns once they have, or with ctx's error.
func (r *Registry) SetRefresh(f func(ctx context.Context) error) {
	r.scrape.Lock()
	defer r.scrape.Unlock()
	r.refresh = f
}

// SetCapture sets the capture's counters: packets that matched the filter
// and packets the ring buffer dropped (cumulative, from the kernel).
func (r *Registry) SetCapture(packets, drops uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.packets, r.drops = max(r.packets, packets), max(r.drops, drops)
}

// serviceKey is a service's label set, normalised.
type serviceKey struct {
	server, clientType, serverType, mechanism, pod, namespace string
}

// service is one label set's totals: what its closed connections carried
// and the problems counted without a connection.
type service struct {
	key    serviceKey
	closed connData
	ends   [numEnds]uint64
	// open counts the settled connections open in it; last is when it
	// last counted something new; refused: known only from refused
	// attempts (counted in Registry.refused, not real).
	open    int
	last    time.Time
	refused bool
}

// Conn is one connection's metrics. Its owner (one goroutine at a time)
// calls RoundTrip, Problem, Update and Close; Open made it.
type Conn struct {
	reg    *Registry
	server netip.AddrPort

	// own is the owner's: no lock. rtts counts its round trips.
	own  connData
	rtts uint64
	// undecided: which end serves is not known (OpenUndecided, until
	// Decide); swap: the owner's directions are the other way round.
	undecided, swap bool

	// Under reg.mu: what was published, the labels settled (svc nil
	// before), when a refresh first saw it, whether it closed.
	pub    connData
	svc    *service
	seen   time.Time
	closed bool
}

// Open returns the metrics of a new connection to server (the listening
// endpoint). It counts in no series until its labels settle.
func (r *Registry) Open(server netip.AddrPort) *Conn {
	c := &Conn{reg: r, server: server}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open[c] = struct{}{}
	return c
}

// OpenUndecided returns the metrics of a new connection whose server end is
// not known yet (picked up mid-stream: the first segment seen says
// nothing). Until Decide, its labels settle only SettleAfter after a
// refresh first saw it, or at its close, under the server label Unknown:
// never a client's ip:port.
func (r *Registry) OpenUndecided() *Conn {
	c := r.Open(netip.AddrPort{})
	c.undecided = true
	return c
}

// Decide names the server end of a connection OpenUndecided made, swapped
// when the owner's directions are the other way round (its client is the
// server); nothing once its labels settled. For the owner.
func (c *Conn) Decide(server netip.AddrPort, swapped bool) {
	if c.svc == nil {
		c.server, c.undecided, c.swap = server, false, swapped
	}
}

// Decided reports that the server end is known (Open, or Decide before the
// labels settled).
func (c *Conn) Decided() bool { return !c.undecided }

// Swapped reports that Decide found the owner's directions the other way
// round: its client is the server.
func (c *Conn) Swapped() bool { return c.swap }

// Settled reports that the connection's labels are fixed: Update and
// Close ignore the labels they are given from then on. For the owner.
func (c *Conn) Settled() bool { return c.svc != nil }

// RoundTrips returns how many round trips RoundTrip counted.
func (c *Conn) RoundTrips() uint64 { return c.rtts }

// RoundTrip counts a request/reply round trip of the connection.
func (c *Conn) RoundTrip(rtt time.Duration) {
	c.rtts++
	if c.own.rtt == nil {
		c.own.rtt = new(hist)
	}
	c.own.rtt.observe(rtt)
}

// Problem counts a problem of the connection.
func (c *Conn) Problem(k diagnose.Kind) {
	if k < maxKinds {
		c.own.problems[k]++
	}
}

// Update publishes the connection's state st and labels l, seen at now: a
// refresh asked for it. The labels settle if they are complete, if it
// carried a message or if it was first seen SettleAfter before now.
func (c *Conn) Update(l Labels, st State, now time.Time) {
	c.own.st = st
	r := c.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.closed {
		return
	}
	c.pub.copyFrom(&c.own)
	if c.seen.IsZero() {
		c.seen = now
	}
	settle := now.Sub(c.seen) >= SettleAfter
	if !c.undecided && (!r.cfg.PodLabels || l.Pod != "" || l.OwnersDone) {
		settle = settle || l.complete() || st.Counts[0].Messages+st.Counts[1].Messages > 0
	}
	if c.svc == nil && settle {
		c.svc = r.service(c.server, &l, true)
		c.svc.open++
	}
	if c.svc != nil {
		c.svc.last = now
	}
}

// Close ends the connection with its final state st and labels l, as end
// says: what it carried moves into its service's totals. Nothing may be
// called on c after Close.
func (c *Conn) Close(l Labels, st State, end segment.CloseReason) {
	c.own.st = st
	r := c.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	delete(r.open, c)
	if c.svc == nil {
		c.svc = r.service(c.server, &l, true)
	} else {
		c.svc.open--
	}
	c.svc.last = r.now()
	c.svc.closed.add(&c.own)
	c.svc.ends[endIndex(end)]++
	c.pub = connData{}
}

// Forget drops a connection that carried no ZMTP (no payload: a refused
// attempt, a port probe) or that is not to be shown: it counts nowhere, not
// even as ended, unless its labels had settled (then it ends as Close with
// what it published, as end says). Nothing may be called on c after Forget.
func (c *Conn) Forget(end segment.CloseReason) {
	if c.svc != nil { // written by the owner only: no lock to read it
		c.Close(Labels{}, c.own.st, end)
		return
	}
	r := c.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	c.closed = true
	delete(r.open, c)
}

// Problem counts a problem that belongs to no connection (a connect-refused
// burst) for the service at server, whose other labels are not known.
func (r *Registry) Problem(server netip.AddrPort, k diagnose.Kind) {
	if k >= maxKinds {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.service(server, &Labels{}, false)
	s.closed.problems[k]++
	s.last = r.now()
}

// service returns the service of server with labels l, made if new: beyond
// MaxServices, the one label set whose values are all Other (conn: a
// connection is folded into it, and counted so). Called with r.mu held.
func (r *Registry) service(server netip.AddrPort, l *Labels, conn bool) *service {
	name := Unknown // a connection whose server end was never known
	switch {
	case l.Server != "":
		name = l.Server
	case server.IsValid():
		name = server.String()
	}
	k := serviceKey{
		server:     name,
		clientType: socketType(l.ClientType),
		serverType: socketType(l.ServerType),
		mechanism:  mechanism(l.Mechanism),
	}
	if r.cfg.PodLabels {
		// The pod's own files name them: anything but a Kubernetes name
		// (an RFC 1123 subdomain, a label for the namespace) is not one.
		if kubeName(l.Pod, 253) {
			k.pod = l.Pod
		}
		if kubeName(l.Namespace, 63) && !strings.Contains(l.Namespace, ".") {
			k.namespace = l.Namespace
		}
	}
	if s := r.services[k]; s != nil {
		if conn && s.refused { // a connection of it now: a real service
			s.refused = false
			r.refused--
			r.real++
		}
		return s
	}
	full := r.real >= r.cfg.MaxServices
	if !conn {
		full = r.refused >= MaxRefused
	}
	if full {
		r.expire(r.now())
		full = r.real >= r.cfg.MaxServices
		if !conn {
			full = r.refused >= MaxRefused
		}
	}
	if full {
		if conn {
			r.folded++
		}
		k = serviceKey{server: Other, clientType: Other, serverType: Other, mechanism: Other}
		if s := r.services[k]; s != nil {
			return s
		}
	} else if conn {
		r.real++
	} else {
		r.refused++
	}
	s := &service{key: k, refused: !conn && k.server != Other, last: r.now()}
	r.services[k] = s
	return s
}

// kubeName reports that s is an RFC 1123 subdomain of at most max bytes:
// dot-separated labels of lower-case letters, digits and inner hyphens, as
// Kubernetes names pods.
func kubeName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// expire drops the services with no open connection that counted nothing
// new for Config.Expire (RefusedExpire for those known only from refused
// attempts): Prometheus sees their series end. Called with r.mu held.
func (r *Registry) expire(now time.Time) {
	refused := min(RefusedExpire, r.cfg.Expire)
	for k, s := range r.services {
		if s.open > 0 || k.server == Other {
			continue
		}
		switch {
		case s.refused && now.Sub(s.last) >= refused:
			r.refused--
		case !s.refused && now.Sub(s.last) >= r.cfg.Expire:
			r.real--
		default:
			continue
		}
		delete(r.services, k)
	}
}

// add adds o's counts to d.
func (d *connData) add(o *connData) {
	for i := range d.st.Counts {
		d.st.Counts[i].Add(o.st.Counts[i])
		d.st.Gaps[i] += o.st.Gaps[i]
		d.st.Lost[i] += o.st.Lost[i]
		d.st.Resyncs[i] += o.st.Resyncs[i]
	}
	for i, n := range o.problems {
		d.problems[i] += n
	}
	if o.rtt != nil {
		if d.rtt == nil {
			d.rtt = new(hist)
		}
		d.rtt.add(o.rtt)
	}
}

// The end label's values, by segment.CloseReason.
const numEnds = 6

var endNames = [numEnds]string{
	segment.Finished: "fin",
	segment.Reset:    "rst",
	segment.Idle:     "idle",
	segment.Flushed:  "capture_end",
	segment.Reused:   "reused",
	segment.Evicted:  "evicted",
}

func endIndex(r segment.CloseReason) int {
	if int(r) < numEnds {
		return int(r)
	}
	return int(segment.Flushed)
}

// socketTypes are the socket types of the RFCs (23, 37, 41, 48, 49, 51,
// 52): any other value is Unknown.
var socketTypes = map[string]bool{
	"PAIR": true, "PUB": true, "SUB": true, "REQ": true, "REP": true, "DEALER": true,
	"ROUTER": true, "PULL": true, "PUSH": true, "XPUB": true, "XSUB": true, "STREAM": true,
	"CLIENT": true, "SERVER": true, "RADIO": true, "DISH": true, "SCATTER": true,
	"GATHER": true, "PEER": true, "CHANNEL": true,
}

func socketType(s string) string {
	if socketTypes[s] {
		return s
	}
	return Unknown
}

func mechanism(s string) string {
	switch s {
	case "NULL", "PLAIN", "CURVE", "GSSAPI":
		return s
	}
	return Unknown
}
