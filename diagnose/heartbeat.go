package diagnose

import (
	"bytes"
	"math"
	"slices"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// heartbeat is what the Conn knows of the PINGs one side sent (RFC 37),
// allocated at the side's first PING: most connections send none.
type heartbeat struct {
	pingAt nanos // when the PING that waits was sent
	// late is how long the peer was silent after a PING it answered only
	// past the wait (see pingWait), lateAt when the answer came: if the
	// connection ends within a wait of it, that was the timeout the
	// pinger's libzmq acted on, its close crossing the answer. Cleared by
	// the next answer in time.
	late       time.Duration
	lateAt     nanos
	ttl        time.Duration
	lastPing   nanos
	pings      uint64
	nIntervals uint64
	intervals  [8]uint32      // the last intervals between PINGs in µs, a ring
	ctx        [2]pingContext // the last two PING contexts, [0] newest
	pending    bool           // the last PING waits for the peer's answer
}

// pingContext is a PING's context, 0 to 16 bytes (RFC 37).
type pingContext struct {
	n   uint8
	set bool
	b   [16]byte
}

// ping records a PING from d (RFC 37): it waits for the peer's answer.
func (c *Conn) ping(d segment.Dir, t time.Time, cmd *zmtp.Command) {
	s := &c.sides[d]
	if s.hb == nil {
		s.hb = &heartbeat{}
	}
	hb := s.hb
	if hb.pings > 0 {
		us := since(t, hb.lastPing) / time.Microsecond
		hb.intervals[hb.nIntervals%uint64(len(hb.intervals))] = uint32(min(max(us, 0), math.MaxUint32))
		hb.nIntervals++
	}
	hb.pings++
	hb.lastPing = stamp(t)
	if !hb.pending {
		hb.pending, hb.pingAt = true, stamp(t)
	}
	hb.ttl = time.Duration(cmd.TTL) * 100 * time.Millisecond
	hb.ctx[1] = hb.ctx[0]
	ctx := &hb.ctx[0]
	ctx.set = true
	ctx.n = uint8(copy(ctx.b[:], cmd.Context))
}

// pong judges a PONG from d against the peer's PINGs.
func (c *Conn) pong(out []Problem, d segment.Dir, t time.Time, cmd *zmtp.Command) []Problem {
	hb := c.sides[d.Reverse()].hb
	if hb == nil || !hb.ctx[0].set {
		return out
	}
	for _, ctx := range hb.ctx {
		if ctx.set && bytes.Equal(ctx.b[:ctx.n], cmd.Context) {
			return out
		}
	}
	want := hb.ctx[0]
	pr, ok := c.problem(PongMismatch, d, t,
		"the "+c.role(d)+" answered a PING with a PONG whose context is not the PING's (RFC 37: a PONG echoes the PING's context)",
		Field{"ping_context", printable(want.b[:want.n])}, Field{"pong_context", printable(cmd.Context)})
	return add(out, pr, ok)
}

// heartbeatTimeout reports, at the close, PINGs the peer never answered
// within their wait (pingWait), or answered only after it, the connection
// ending within a wait of the late answer.
func (c *Conn) heartbeatTimeout(out []Problem, end segment.CloseReason, t time.Time) []Problem {
	if t.IsZero() {
		return out
	}
	for d := segment.ClientToServer; d <= segment.ServerToClient; d++ {
		hb := c.sides[d].hb
		if hb == nil {
			continue
		}
		var silent time.Duration
		switch {
		case hb.pending:
			silent = since(t, hb.pingAt)
		case hb.late > 0 && since(t, hb.lateAt) <= c.pingWait(hb):
			silent = hb.late
		}
		if silent == 0 || silent < c.pingWait(hb) {
			continue
		}
		peer := d.Reverse()
		fields := []Field{{"silent", silent}, {"pinger", d.String()}, {"end", end.String()}}
		ttl := "no TTL"
		if hb.ttl > 0 {
			ttl = "a TTL of " + seconds(hb.ttl)
			fields = append(fields, Field{"ttl", hb.ttl})
		}
		p, ok := c.problem(HeartbeatTimeout, peer, t,
			"the "+c.role(peer)+" sent no PONG and nothing else for "+seconds(round3(silent))+" after the "+
				c.role(d)+"'s PING with "+ttl+", then the connection ended ("+end.String()+"): the peer stopped (hung, paused or unreachable)",
			fields...)
		out = add(out, p, ok)
	}
	return out
}

// pingWait is how long a side's PING waits for an answer before its
// silence is a timeout. The pinger's own timeout (libzmq's
// ZMQ_HEARTBEAT_TIMEOUT, which defaults to the interval between PINGs) is
// not on the wire: two intervals, once the side has sent two PINGs, leave
// a slow link's round trip its due while libzmq, at its default, has
// already given up. Without an interval, the PING's TTL (how long the
// peer may wait for traffic); without either, Config.HeartbeatTimeout.
func (c *Conn) pingWait(hb *heartbeat) time.Duration {
	if iv := hb.interval(); iv > 0 {
		return 2 * iv
	}
	if hb.ttl > 0 {
		return hb.ttl
	}
	return c.cfg.heartbeatTimeout()
}

// heartbeatInterval is the median interval between the PINGs of the side
// that sent more of them, 0 when neither sent two.
func (c *Conn) heartbeatInterval() time.Duration {
	hb := c.sides[segment.ClientToServer].hb
	if o := c.sides[segment.ServerToClient].hb; o != nil && (hb == nil || o.pings > hb.pings) {
		hb = o
	}
	return hb.interval()
}

// interval is the median of a side's last intervals between PINGs, 0
// before its second PING (and for a nil heartbeat, before its first).
func (hb *heartbeat) interval() time.Duration {
	if hb == nil {
		return 0
	}
	n := min(hb.nIntervals, uint64(len(hb.intervals)))
	if n == 0 {
		return 0
	}
	var iv [len(heartbeat{}.intervals)]uint32
	copy(iv[:], hb.intervals[:n])
	slices.Sort(iv[:n])
	return time.Duration(iv[(n-1)/2]) * time.Microsecond
}

// maxSubscriptions caps the topics a connection keeps (each at most
// maxTopic bytes): about 70 KB at worst, allocated topic by topic.
const (
	maxSubscriptions = 256
	maxTopic         = 255
)

// subscriptions are the topics a connection's subscriber subscribed to,
// with how many times (a SUB subscribing twice needs two cancels).
type subscriptions struct {
	topics []string
	counts []int
}

func (s *subscriptions) update(sub zmtp.Subscription, topic []byte) {
	topic = topic[:min(len(topic), maxTopic)]
	for i, t := range s.topics {
		if t != string(topic) {
			continue
		}
		if sub == zmtp.Subscribe {
			s.counts[i]++
			return
		}
		if s.counts[i]--; s.counts[i] == 0 {
			s.topics = slices.Delete(s.topics, i, i+1)
			s.counts = slices.Delete(s.counts, i, i+1)
		}
		return
	}
	if sub == zmtp.Subscribe && len(s.topics) < maxSubscriptions {
		s.topics = append(s.topics, string(topic))
		s.counts = append(s.counts, 1)
	}
}

func (s *subscriptions) active() []string {
	if len(s.topics) == 0 {
		return nil
	}
	return slices.Clone(s.topics)
}

func (c *Conn) subscribe(sub zmtp.Subscription, topic []byte) {
	if c.subs == nil {
		if sub != zmtp.Subscribe {
			return
		}
		c.subs = &subscriptions{}
	}
	c.subs.update(sub, topic)
}

// subscriptionCommand judges a SUBSCRIBE or CANCEL command (RFC 37).
func (c *Conn) subscriptionCommand(out []Problem, d segment.Dir, t time.Time, cmd *zmtp.Command) []Problem {
	st := c.sides[d].sockType()
	if known(st) && st != "SUB" && st != "XSUB" {
		p, ok := c.problem(MisplacedSubscription, d, t,
			"the "+c.role(d)+" is a "+st+" socket and sent "+cmd.Kind.String()+": only SUB and XSUB sockets subscribe (RFC 37)",
			Field{"socket_type", st}, Field{"command", cmd.Kind.String()})
		return add(out, p, ok)
	}
	sub := zmtp.Subscribe
	if cmd.Kind == zmtp.KindCancel {
		sub = zmtp.Cancel
	}
	c.subscribe(sub, cmd.Topic)
	return out
}

// message follows a message: subscriptions of the 3.0 form, and the round
// trips of request/reply pairs.
func (c *Conn) message(d segment.Dir, t time.Time, m *zmtp.Message) {
	if m.Subscription != zmtp.NoSubscription {
		c.subscribe(m.Subscription, m.Topic)
		return
	}
	if m.Encrypted {
		return
	}
	mine, peer := c.sides[d].sockType(), c.sides[d.Reverse()].sockType()
	switch {
	case requester(mine, peer):
		if c.lat == nil {
			c.lat = &latency{}
		}
		c.lat.request(envelope(m), t)
	case c.lat != nil && requester(peer, mine):
		c.lat.reply(envelope(m), t)
	}
}
