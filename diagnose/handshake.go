package diagnose

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// handshake is a security handshake's state (RFC 23; PLAIN and CURVE),
// allocated at the first HELLO: most connections (NULL) send none.
type handshake struct {
	mech      string      // the HELLO's mechanism
	serverErr string      // the server's decoding error during the handshake
	key       [32]byte    // the client's transient CURVE key
	keyN      uint8       // 32 once a HELLO carried a whole CURVE key
	dir       segment.Dir // the direction that sent HELLO
	done      bool        // READY from the server side after the HELLO
}

// greeting records a direction's greeting and judges it against the peer's.
func (c *Conn) greeting(out []Problem, d segment.Dir, t time.Time, g *zmtp.Greeting) []Problem {
	s := &c.sides[d]
	s.greeted, s.major, s.minor, s.down = true, g.Major, g.Minor, g.Downgraded
	s.mech, s.asServer = g.Mechanism, g.AsServer
	if g.SocketType != "" {
		s.setSockType([]byte(g.SocketType))
		out = c.checkSocketTypes(out, d, t)
	}
	p := &c.sides[d.Reverse()]
	if !p.greeted || s.major < 3 || p.major < 3 {
		return out
	}
	if s.mech != p.mech {
		return c.mechanismMismatch(out, d, t)
	}
	// Both claiming the server role is reported; neither is not: libzmq
	// 4.3.4 sends as-server 0 on both sides of its PLAIN and CURVE
	// connections (testdata/plain_ok.pcap, curve.pcap).
	if (s.mech == "PLAIN" || s.mech == "CURVE") && s.asServer && p.asServer {
		pr, ok := c.problem(AsServerConflict, d, t,
			"the two "+s.mech+" greetings both claim the server role (as-server): one peer must be the "+s.mech+
				" server and the other its client, so the handshake cannot complete",
			Field{"mechanism", s.mech}, Field{"as_server", s.asServer})
		out = add(out, pr, ok)
	}
	return out
}

// mechanismMismatch reports greetings naming different mechanisms.
func (c *Conn) mechanismMismatch(out []Problem, d segment.Dir, t time.Time) []Problem {
	cm, sm := c.sides[segment.ClientToServer].mech, c.sides[segment.ServerToClient].mech
	if cm == "" || sm == "" || cm == sm {
		return out
	}
	p, ok := c.problem(MechanismMismatch, d, t,
		"the client's greeting names the "+printable([]byte(cm))+" mechanism and the server's "+printable([]byte(sm))+
			": a ZMTP peer closes a connection whose mechanisms differ (a "+printable([]byte(cm))+" client cannot talk to a "+
			printable([]byte(sm))+" server)",
		Field{"client_mechanism", cm}, Field{"server_mechanism", sm})
	return add(out, p, ok)
}

// greetingClosed reports a connection closed by a 3.x peer inside its own
// greeting, once it read the other peer's whole greeting: libzmq checks the
// mechanism there and closes on a mismatch before it sends the rest of its
// greeting (a NULL client meeting a CURVE server shows exactly this), so
// only one mechanism is on the wire.
func (c *Conn) greetingClosed(out []Problem, t time.Time) []Problem {
	for d := segment.ClientToServer; d <= segment.ServerToClient; d++ {
		g, q := &c.sides[d], &c.sides[d.Reverse()]
		if !g.greeted || g.major < 3 || g.down || q.greeted || !q.traffic || q.failed || g.failed {
			continue
		}
		cm, sm := g.mech, "unknown"
		if d == segment.ServerToClient {
			cm, sm = sm, cm
		}
		p, ok := c.problem(MechanismMismatch, d.Reverse(), t,
			"the "+c.role(d.Reverse())+" closed the connection inside its greeting, once it had read the "+c.role(d)+
				"'s greeting naming the "+printable([]byte(g.mech))+" mechanism: most likely it uses another mechanism "+
				"("+otherMechanisms(g.mech)+") and refused the mismatch, as libzmq does",
			Field{"client_mechanism", cm}, Field{"server_mechanism", sm})
		out = add(out, p, ok)
	}
	return out
}

// otherMechanisms names the usual mechanisms but m: "PLAIN or CURVE".
func otherMechanisms(m string) string {
	var o []string
	for _, x := range []string{"NULL", "PLAIN", "CURVE"} {
		if x != m {
			o = append(o, x)
		}
	}
	return strings.Join(o[:len(o)-1], ", ") + " or " + o[len(o)-1]
}

// command judges a command.
func (c *Conn) command(out []Problem, d segment.Dir, t time.Time, cmd *zmtp.Command) []Problem {
	switch cmd.Kind {
	case zmtp.KindReady:
		if !cmd.Encrypted {
			for _, p := range cmd.Properties {
				if bytes.EqualFold(p.Name, []byte("Socket-Type")) {
					c.sides[d].setSockType(p.Value)
					out = c.checkSocketTypes(out, d, t)
				}
			}
		}
		if c.hs != nil && d != c.hs.dir {
			c.hs.done = true
		}
	case zmtp.KindHello:
		if c.hs == nil {
			c.hs = &handshake{}
		}
		hs := c.hs
		hs.dir, hs.mech = d, cmd.Mechanism
		if n := copy(hs.key[:], cmd.Key); n == len(hs.key) {
			hs.keyN = uint8(n)
		}
	case zmtp.KindWelcome:
		c.flags |= flagWelcome
	case zmtp.KindInitiate:
		c.flags |= flagInitiate
	case zmtp.KindError:
		out = c.errorCommand(out, d, t, cmd)
	case zmtp.KindPing:
		c.ping(d, t, cmd)
	case zmtp.KindPong:
		out = c.pong(out, d, t, cmd)
	case zmtp.KindSubscribe, zmtp.KindCancel:
		out = c.subscriptionCommand(out, d, t, cmd)
	}
	return out
}

// internType returns a socket type as a string, allocating only for a
// type RFC 37 does not name, which it returns escaped (printable) and cut
// at 32 bytes.
func internType(v []byte) string {
	for _, t := range allTypes {
		if string(v) == t {
			return t
		}
	}
	return printable(v[:min(len(v), 32)])
}

// allTypes are the socket types of RFC 37 and the drafts.
var allTypes = [...]string{
	"PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH",
	"XPUB", "XSUB", "STREAM", "CLIENT", "SERVER", "RADIO", "DISH",
	"SCATTER", "GATHER", "PEER", "CHANNEL",
}

// allowedPair reports whether RFC 23 ("Socket Semantics") or the draft
// RFCs (41 CLIENT-SERVER, 48 RADIO-DISH, 49 SCATTER-GATHER, 51 PEER) allow
// socket types a and b together.
func allowedPair(a, b string) bool { return pairOK(a, b) || pairOK(b, a) }

func pairOK(a, b string) bool {
	switch a {
	case "PAIR", "DEALER", "ROUTER", "PEER", "CHANNEL":
		if a == b {
			return true
		}
	}
	switch a {
	case "PUB", "XPUB":
		return b == "SUB" || b == "XSUB"
	case "REQ":
		return b == "REP" || b == "ROUTER"
	case "DEALER":
		return b == "REP" || b == "ROUTER"
	case "PUSH":
		return b == "PULL"
	case "CLIENT":
		return b == "SERVER"
	case "RADIO":
		return b == "DISH"
	case "SCATTER":
		return b == "GATHER"
	}
	return false
}

// known reports a socket type this package can judge.
func known(t string) bool {
	for _, k := range allTypes {
		if t == k {
			return t != "STREAM"
		}
	}
	return false
}

// checkSocketTypes judges the pair once both types are known, and sets up
// the latency of request/reply pairs.
func (c *Conn) checkSocketTypes(out []Problem, d segment.Dir, t time.Time) []Problem {
	ct, st := c.sides[segment.ClientToServer].sockType(), c.sides[segment.ServerToClient].sockType()
	if ct == "" || st == "" {
		return out
	}
	if !known(ct) || !known(st) {
		return out
	}
	if !allowedPair(ct, st) {
		p, ok := c.problem(SocketTypeMismatch, d, t,
			"the client is a "+ct+" socket and the server a "+st+" socket: RFC 23 does not allow "+ct+" with "+st+
				", and libzmq closes such a connection after the handshake",
			Field{"client_type", ct}, Field{"server_type", st})
		return add(out, p, ok)
	}
	return out
}

// requester reports whether a socket of type a sends the requests of a
// request/reply pair with a socket of type b.
func requester(a, b string) bool {
	return (a == "REQ" || a == "DEALER") && (b == "REP" || b == "ROUTER")
}

// zapStatus names the ZAP status codes (RFC 27) libzmq sends as ERROR
// reasons.
func zapStatus(reason []byte) string {
	if len(reason) != 3 {
		return ""
	}
	switch string(reason) {
	case "300":
		return "temporary error"
	case "400":
		return "authentication failure"
	case "500":
		return "internal error"
	}
	return ""
}

// errorCommand reports an ERROR: a handshake refused.
func (c *Conn) errorCommand(out []Problem, d segment.Dir, t time.Time, cmd *zmtp.Command) []Problem {
	c.flags |= flagErrored
	mech := cmd.Mechanism
	if mech == "" {
		mech = c.sides[d].mech
	}
	reason := printable(cmd.Reason)
	fields := []Field{{"mechanism", mech}, {"reason", reason}}
	text := "the " + c.role(d) + " refused the " + printable([]byte(mech)) + " handshake with ERROR \"" + reason + "\""
	if z := zapStatus(cmd.Reason); z != "" {
		n, _ := strconv.ParseInt(string(cmd.Reason), 10, 64)
		fields = append(fields, Field{"zap_status", n}, Field{"zap_text", z})
		text += ": its authentication handler (ZAP) answered " + string(cmd.Reason) + " " + z
		if n == 400 {
			text += ", the credentials were denied"
		}
	}
	p, ok := c.problem(AuthFailed, d, t, text, fields...)
	return add(out, p, ok)
}

// authClosed reports a security handshake the connection's end cut short.
func (c *Conn) authClosed(out []Problem, end segment.CloseReason, t time.Time) []Problem {
	hs := c.hs
	if hs == nil || c.flags&flagErrored != 0 || hs.done {
		return out
	}
	welcome := c.flags&flagWelcome != 0
	srv := hs.dir.Reverse()
	mech := printable([]byte(hs.mech))
	var text string
	fields := []Field{{"mechanism", hs.mech}, {"end", end.String()}}
	switch {
	case hs.serverErr != "":
		text = "the " + c.role(srv) + " answered the client's " + mech + " " + c.lastStep() +
			" with a malformed command (libzmq 4.3.4 sends its ERROR so) and the connection was " + end.String() +
			": the server most likely refused the handshake"
		fields = append(fields, Field{"decoder_error", hs.serverErr})
	case !welcome && hs.mech == "CURVE":
		text = "the " + c.role(srv) + " never answered the CURVE HELLO with WELCOME before the connection was " +
			end.String() + ": it could not open the HELLO box, most likely the client has the wrong server public key"
		if hs.keyN == 32 {
			z, _ := zmtp.AppendZ85(nil, hs.key[:])
			k := string(z)
			text += " (the client's transient key is " + k + ")"
			fields = append(fields, Field{"client_key", k})
		}
	case !welcome:
		text = "the connection was " + end.String() + " after the client's " + mech + " HELLO without WELCOME or ERROR: the " +
			c.role(srv) + " refused the handshake"
	case c.flags&flagInitiate != 0:
		text = "the connection was " + end.String() + " after the client's " + mech + " INITIATE without READY: the " +
			c.role(srv) + " refused the client (its credentials or permanent key)"
	default:
		return out // the client gave up after WELCOME: not the server's refusal
	}
	p, ok := c.problem(AuthFailed, srv, t, text, fields...)
	return add(out, p, ok)
}

// lastStep names the client's last handshake command.
func (c *Conn) lastStep() string {
	if c.flags&flagInitiate != 0 {
		return "INITIATE"
	}
	return "HELLO"
}

// versionClosed reports a 3.x peer that closed on an older peer instead of
// downgrading.
func (c *Conn) versionClosed(out []Problem, t time.Time) []Problem {
	for d := segment.ClientToServer; d <= segment.ServerToClient; d++ {
		old, nw := &c.sides[d], &c.sides[d.Reverse()]
		if !old.greeted || old.major >= 3 || old.down {
			continue
		}
		if nw.greeted && (nw.major < 3 || nw.down) {
			continue // it downgraded, or is old too
		}
		if !nw.greeted && !nw.traffic {
			continue // it said nothing: nothing shows its version
		}
		v := strconv.Itoa(int(old.major)) + "." + strconv.Itoa(int(old.minor))
		what := "started a ZMTP 3.x greeting"
		if nw.greeted {
			what = "sent a ZMTP " + strconv.Itoa(int(nw.major)) + "." + strconv.Itoa(int(nw.minor)) + " greeting"
		}
		p, ok := c.problem(UnsupportedVersion, d.Reverse(), t,
			"the "+c.role(d)+" speaks ZMTP "+v+"; the "+c.role(d.Reverse())+" "+what+
				" and the connection closed instead of downgrading: the newer peer does not support ZMTP "+v,
			Field{"old_version", v}, Field{"old_side", d.String()})
		out = add(out, p, ok)
	}
	return out
}
