package diagnose

import (
	"errors"
	"math"
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Conn follows one connection's problems and figures. It is not safe for
// concurrent use.
//
// Its size is 192 bytes on 64-bit platforms, one allocation of that size
// class (two sides of 48 bytes and the connection's own fields, no
// padding: times are kept as Unix nanoseconds, socket types as a byte,
// flags as bits, and the Config is shared, not copied; TestConnSize holds
// these sizes). What only some connections need is allocated when it is
// first needed, and kept: a side's heartbeat state (128 bytes) at its
// first PING, its stall state (40 bytes) at its first stall, the security
// handshake's (72 bytes) at the first HELLO, the latency state (3.6 KB) at
// the first request of a request/reply connection, the subscription list
// at the first subscription.
type Conn struct {
	// the endpoints, as addresses and ports (an AddrPort pads its port to
	// 8 bytes): see client and server
	clientAddr, serverAddr netip.Addr
	cfg                    *Config // shared, read through its methods (defaults)
	sides                  [2]side

	// The security handshake: what followed the HELLO (hs, nil before
	// it); flags below hold its later steps.
	hs *handshake

	lat  *latency
	subs *subscriptions

	endAt nanos // when Close was called; noTime: a close without a time

	// reported marks the kinds already reported on this connection, a bit
	// per kind (each kind is reported at most once per connection, stalls
	// aside).
	reported uint16

	// flags are the handshake's later steps (flagWelcome, flagInitiate,
	// flagErrored) and flagClosed: Close was called, end and endAt are
	// why and when.
	flags uint8
	end   segment.CloseReason

	clientPort, serverPort uint16
}

// side is what the Conn knows of one direction's sender.
type side struct {
	mech string

	hb *heartbeat // the PINGs this side sent; nil before its first
	st *stall     // the stalls of this direction's sender; nil before its first

	lastTraffic nanos

	greeted  bool
	major    uint8
	minor    uint8
	down     bool
	asServer bool
	traffic  bool
	failed   bool // its decoder reported an error, or its stream lost bytes
	// stype is the socket type: 0 for none, its index in allTypes plus
	// one, or otherType for a type RFC 37 does not name (see sockType).
	stype uint8
}

// The bits of Conn.flags.
const (
	flagWelcome  uint8 = 1 << iota // a WELCOME was sent
	flagInitiate                   // an INITIATE was sent
	flagErrored                    // an ERROR was sent
	flagClosed                     // Close was called
)

// Conn.reported has a bit per kind.
var _ [16 - numKinds]struct{}

// otherType is a side's stype for a socket type RFC 37 does not name.
const otherType = math.MaxUint8

// setSockType records the socket type a side announced (v, as sent).
func (s *side) setSockType(v []byte) {
	for i, t := range allTypes {
		if string(v) == t {
			s.stype = uint8(i + 1)
			return
		}
	}
	s.stype = 0
	if len(v) > 0 {
		s.stype = otherType
	}
}

// sockType is the side's socket type, "" when it announced none or one
// RFC 37 does not name: the judgements read only the types they know.
func (s *side) sockType() string {
	if s.stype == 0 || s.stype == otherType {
		return ""
	}
	return allTypes[s.stype-1]
}

// stall is what the Conn knows of the stalls of one direction's sender,
// allocated at its first: most connections never stall.
type stall struct {
	stallAt  nanos
	endedAt  nanos
	endedDur time.Duration
	total    time.Duration // stalls of at least cfg.StallAfter, summed
	stalling bool
	// a stall that ended and is not yet reported: reported at the next
	// call, as recovered, unless that call is the close at the same time.
	ended bool
}

// nanos is a time as Unix nanoseconds: 8 bytes where a time.Time takes 24.
type nanos int64

func stamp(t time.Time) nanos { return nanos(t.UnixNano()) }

// noTime stands for the zero time.Time, which nanos cannot hold.
const noTime nanos = math.MinInt64

// stampTime is stamp, keeping the zero time as noTime.
func stampTime(t time.Time) nanos {
	if t.IsZero() {
		return noTime
	}
	return stamp(t)
}

// time returns n as a time.Time in like's location (a Conn's times come
// from one source), the zero time for noTime.
func (n nanos) time(like time.Time) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).In(like.Location())
}

// since returns the time from then to t.
func since(t time.Time, then nanos) time.Duration { return time.Duration(stamp(t) - then) }

// NewConn returns the diagnosis of a connection from client to server.
// Zero fields of cfg take DefaultConfig's values; nil takes them all. The
// Conn keeps cfg, not a copy, so that the connections of a capture share
// one: it must not change while the Conn is in use.
func NewConn(client, server netip.AddrPort, cfg *Config) *Conn {
	return &Conn{
		clientAddr: client.Addr(), clientPort: client.Port(),
		serverAddr: server.Addr(), serverPort: server.Port(),
		cfg: cfg,
	}
}

// client and server are the connection's endpoints.
func (c *Conn) client() netip.AddrPort { return netip.AddrPortFrom(c.clientAddr, c.clientPort) }
func (c *Conn) server() netip.AddrPort { return netip.AddrPortFrom(c.serverAddr, c.serverPort) }

// problem returns a problem of the connection, once per kind: ok is false
// when the kind was already reported.
func (c *Conn) problem(k Kind, from segment.Dir, t time.Time, text string, fields ...Field) (Problem, bool) {
	if c.reported&(1<<k) != 0 {
		return Problem{}, false
	}
	c.reported |= 1 << k
	return Problem{Kind: k, Text: text, Time: t, Client: c.client(), Server: c.server(), From: from, Fields: fields}, true
}

// add appends a problem if ok.
func add(out []Problem, p Problem, ok bool) []Problem {
	if ok {
		out = append(out, p)
	}
	return out
}

// role names a side for sentences: "client 1.2.3.4:5" or "server ...",
// the end named by Config.Names when set.
func (c *Conn) role(d segment.Dir) string {
	if d == segment.ClientToServer {
		return "client " + c.cfg.endName(c.client())
	}
	return "server " + c.cfg.endName(c.server())
}

// Event judges an event decoded from direction d at time t, and returns the
// problems it shows: nil, almost always (no allocation then).
func (c *Conn) Event(d segment.Dir, t time.Time, ev zmtp.Event) []Problem {
	out := c.flushStall(nil, t, false)
	if _, summary := ev.(*zmtp.Connection); !summary {
		c.heard(d, t) // the summary is no traffic: it must not answer a PING
	}
	switch e := ev.(type) {
	case *zmtp.Greeting:
		out = c.greeting(out, d, t, e)
	case *zmtp.Command:
		out = c.command(out, d, t, e)
	case *zmtp.Message:
		c.message(d, t, e)
	case *zmtp.Connection:
		if c.flags&flagClosed != 0 {
			out = c.endJudgements(out, c.endAt.time(t))
		}
	case *zmtp.Gap, *zmtp.Resync:
		// Bytes of d were lost: what it said is not all known (a greeting
		// a gap took is no greeting withheld).
		c.sides[d].failed = true
	case *zmtp.Error:
		c.sides[d].failed = true
		switch {
		case errors.Is(e.Err, zmtp.ErrMechanismMismatch):
			out = c.mechanismMismatch(out, d, t)
		case c.hs != nil && !c.hs.done && d != c.hs.dir && c.hs.serverErr == "":
			// The server's answer to HELLO broke the grammar: libzmq
			// 4.3.4 mangles its ERROR's name so (`5e "RROR"`).
			c.hs.serverErr = printable([]byte(e.Reason()))
		}
	}
	if len(out) > 0 {
		h := *ev.EventHeader()
		for i := range out {
			if out[i].Header == (zmtp.Header{}) {
				out[i].Header = h
			}
		}
	}
	return out
}

// heard records traffic from d: it answers the peer's PING.
func (c *Conn) heard(d segment.Dir, t time.Time) {
	s := &c.sides[d]
	s.traffic = true
	s.lastTraffic = stamp(t)
	if hb := c.sides[d.Reverse()].hb; hb != nil && hb.pending {
		hb.pending = false
		if silent := since(t, hb.pingAt); silent >= c.pingWait(hb) {
			hb.late, hb.lateAt = silent, stamp(t)
		} else {
			hb.late = 0
		}
	}
}

// Traffic records that direction d carried payload at time t: any
// traffic answers the peer's PING (RFC 37).
func (c *Conn) Traffic(d segment.Dir, t time.Time) { c.heard(d, t) }

// Stall records that the sender of direction d became stalled (stalled) or
// recovered at time t, and returns the problems it shows. A stall of at
// least Config.StallAfter is reported once it ended: as recovered at the
// next call, or as lasting to the close when the close follows at the same
// time (flows ends a stall just before the close); a recovery with a zero
// time leaves the stall to Close.
func (c *Conn) Stall(d segment.Dir, stalled bool, t time.Time) []Problem {
	out := c.flushStall(nil, t, false)
	s := &c.sides[d]
	if stalled {
		if s.st == nil {
			s.st = &stall{}
		}
		if !s.st.stalling {
			s.st.stalling, s.st.stallAt = true, stamp(t)
		}
		return out
	}
	st := s.st
	if st == nil || !st.stalling || t.IsZero() {
		return out // a zero time (no closing segment): Close ends the stall
	}
	st.stalling = false
	dur := since(t, st.stallAt)
	if dur < c.cfg.stallAfter() {
		return out
	}
	st.total += dur
	st.ended, st.endedAt, st.endedDur = true, stamp(t), dur
	return out
}

// flushStall reports the stalls that ended before t, as recovered unless
// closing at their end's time (or a close without a time).
func (c *Conn) flushStall(out []Problem, t time.Time, closing bool) []Problem {
	for d := segment.ClientToServer; d <= segment.ServerToClient; d++ {
		st := c.sides[d].st
		if st == nil || !st.ended {
			continue
		}
		endedAt := st.endedAt.time(t)
		if !closing && !t.After(endedAt) {
			continue // perhaps the close follows at the same instant
		}
		st.ended = false
		out = append(out, c.stallProblem(d, endedAt, st.endedDur, closing && (t.IsZero() || !t.After(endedAt))))
	}
	return out
}

// stallProblem describes a stall of d's sender.
func (c *Conn) stallProblem(d segment.Dir, t time.Time, dur time.Duration, toClose bool) Problem {
	recv := d.Reverse()
	how := "recovered after " + seconds(round3(dur))
	if toClose {
		how = "still stalled at the close, after " + seconds(round3(dur))
	}
	return Problem{
		Kind: Stalled, Time: t, Client: c.client(), Server: c.server(), From: recv,
		Text: "the " + c.role(recv) + " advertised a zero window while the " + c.role(d) +
			" had data to send: the receiving application stopped reading (high-water mark back-pressure); " + how,
		Fields: []Field{{"duration", dur}, {"recovered", !toClose}, {"stalled_sender", d.String()}},
	}
}

// Close ends the connection: end is why, t when, midMessage whether a
// message or a frame was in progress. It returns the problems the end shows.
// The judgements that read the greetings are made again when Event gets
// the *zmtp.Connection summary after Close, so that the greetings
// zmtp.Conn.Close emits (those it held) count whichever of the two Close
// calls comes first. Only an end the peers chose
// (segment.Finished, segment.Reset) shows a refused handshake, a version
// refused or a message cut; a heartbeat timeout shows at any end.
func (c *Conn) Close(end segment.CloseReason, t time.Time, midMessage bool) []Problem {
	out := c.flushStall(nil, t, true)
	for d := segment.ClientToServer; d <= segment.ServerToClient; d++ {
		if st := c.sides[d].st; st != nil && st.stalling {
			st.stalling = false
			if dur := since(t, st.stallAt); !t.IsZero() && dur >= c.cfg.stallAfter() {
				st.total += dur
				out = append(out, c.stallProblem(d, t, dur, true))
			}
		}
	}
	c.flags |= flagClosed
	c.end, c.endAt = end, stampTime(t)
	closed := end == segment.Finished || end == segment.Reset
	out = c.heartbeatTimeout(out, end, t)
	out = c.endJudgements(out, t)
	if midMessage && closed {
		// Which direction was inside a message is not known: the one
		// that carried bytes last, most likely.
		from := segment.ClientToServer
		if c.sides[segment.ServerToClient].lastTraffic > c.sides[from].lastTraffic {
			from = segment.ServerToClient
		}
		p, ok := c.problem(ResetMidMessage, from, t,
			"the connection was "+end.String()+" while a message or a frame was in progress: that message was lost",
			Field{"end", end.String()})
		out = add(out, p, ok)
	}
	return out
}

// endJudgements are the judgements of a closed connection that read its
// greetings: Close makes them, and Event again at the *zmtp.Connection
// summary that zmtp.Conn.Close emits after the greetings it held, if it
// comes after Close (each kind is reported once). t is the end's time.
func (c *Conn) endJudgements(out []Problem, t time.Time) []Problem {
	if c.end != segment.Finished && c.end != segment.Reset {
		return out
	}
	out = c.authClosed(out, c.end, t)
	out = c.versionClosed(out, t)
	return c.greetingClosed(out, t)
}

// Health returns the connection's figures, nil when there are none.
func (c *Conn) Health() *Health {
	h := Health{HeartbeatInterval: c.heartbeatInterval()}
	for _, s := range &c.sides {
		if s.st != nil {
			h.Stalled += s.st.total
		}
	}
	if c.lat != nil {
		h.Latency = c.lat.summary()
	}
	if c.subs != nil {
		h.Subscriptions = c.subs.active()
	}
	if h.Latency == nil && h.HeartbeatInterval == 0 && h.Stalled == 0 && len(h.Subscriptions) == 0 {
		return nil
	}
	return &h
}
