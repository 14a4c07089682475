package diagnose

import (
	"bytes"
	"math"
	"slices"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// ping records a PING from d (RFC 37): it waits for the peer's answer.
func (c *Conn) ping(d segment.Dir, t time.Time, cmd *zmtp.Command) {
	s := &c.sides[d]
	if s.pings > 0 {
		us := since(t, s.lastPing) / time.Microsecond
		s.intervals[s.nIntervals%uint64(len(s.intervals))] = uint32(min(max(us, 0), math.MaxUint32))
		s.nIntervals++
	}
	s.pings++
	s.lastPing = stamp(t)
	if !s.pingPending {
		s.pingPending, s.pingAt = true, stamp(t)
	}
	s.pingTTL = time.Duration(cmd.TTL) * 100 * time.Millisecond
	s.pingCtx[1] = s.pingCtx[0]
	ctx := &s.pingCtx[0]
	ctx.set = true
	ctx.n = uint8(copy(ctx.b[:], cmd.Context))
}

// pong judges a PONG from d against the peer's PINGs.
func (c *Conn) pong(out []Problem, d segment.Dir, t time.Time, cmd *zmtp.Command) []Problem {
	p := &c.sides[d.Reverse()]
	if !p.pingCtx[0].set {
		return out
	}
	for _, ctx := range p.pingCtx {
		if ctx.set && bytes.Equal(ctx.b[:ctx.n], cmd.Context) {
			return out
		}
	}
	want := p.pingCtx[0]
	pr, ok := c.problem(PongMismatch, d, t,
		"the "+c.role(d)+" answered a PING with a PONG whose context is not the PING's (RFC 37: a PONG echoes the PING's context)",
		Field{"ping_context", printable(want.b[:want.n])}, Field{"pong_context", printable(cmd.Context)})
	return add(out, pr, ok)
}

// heartbeatTimeout reports, at the close, PINGs the peer never answered
// within the shortest of their TTL, the sender's interval between PINGs
// and Config.HeartbeatTimeout (pingWait), or answered only after it, the
// connection ending within a wait of the late answer.
func (c *Conn) heartbeatTimeout(out []Problem, end segment.CloseReason, t time.Time) []Problem {
	if t.IsZero() {
		return out
	}
	for d := segment.ClientToServer; d <= segment.ServerToClient; d++ {
		s := &c.sides[d]
		var silent time.Duration
		switch {
		case s.pingPending:
			silent = since(t, s.pingAt)
		case s.late > 0 && since(t, s.lateAt) <= c.pingWait(s):
			silent = s.late
		}
		if silent == 0 || silent < c.pingWait(s) {
			continue
		}
		peer := d.Reverse()
		fields := []Field{{"silent", silent}, {"pinger", d.String()}, {"end", end.String()}}
		ttl := "no TTL"
		if s.pingTTL > 0 {
			ttl = "a TTL of " + seconds(s.pingTTL)
			fields = append(fields, Field{"ttl", s.pingTTL})
		}
		p, ok := c.problem(HeartbeatTimeout, peer, t,
			"the "+c.role(peer)+" sent no PONG and nothing else for "+seconds(round3(silent))+" after the "+
				c.role(d)+"'s PING with "+ttl+", then the connection ended ("+end.String()+"): the peer stopped (hung, paused or unreachable)",
			fields...)
		out = add(out, p, ok)
	}
	return out
}

// pingWait is how long a side's PING waits for an answer: the shortest of
// its TTL, the side's interval between PINGs and Config.HeartbeatTimeout.
func (c *Conn) pingWait(s *side) time.Duration {
	wait := c.cfg.heartbeatTimeout()
	if s.pingTTL > 0 && s.pingTTL < wait {
		wait = s.pingTTL
	}
	if iv := c.interval(s); iv > 0 && iv < wait {
		wait = iv
	}
	return wait
}

// heartbeatInterval is the median interval between the PINGs of the side
// that sent more of them, 0 when neither sent two.
func (c *Conn) heartbeatInterval() time.Duration {
	s := &c.sides[segment.ClientToServer]
	if o := &c.sides[segment.ServerToClient]; o.pings > s.pings {
		s = o
	}
	return c.interval(s)
}

// interval is the median of a side's last intervals between PINGs, 0
// before its second PING.
func (c *Conn) interval(s *side) time.Duration {
	n := min(s.nIntervals, uint64(len(s.intervals)))
	if n == 0 {
		return 0
	}
	var iv [len(side{}.intervals)]uint32
	copy(iv[:], s.intervals[:n])
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
	st := c.sides[d].sockType
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
	mine, peer := c.sides[d].sockType, c.sides[d.Reverse()].sockType
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
