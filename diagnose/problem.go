package diagnose

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Kind is a kind of problem. Its String is a fixed name, printed as the
// "kind" of a problem event.
type Kind uint8

// The kinds of problem.
const (
	// SocketTypeMismatch: READY socket types RFC 23 does not allow together.
	SocketTypeMismatch Kind = iota + 1
	// MechanismMismatch: the two greetings name different mechanisms.
	MechanismMismatch
	// AuthFailed: a PLAIN or CURVE handshake refused (ERROR, ZAP denial) or
	// closed by the server before it completed.
	AuthFailed
	// ConnectRefused: SYNs answered by RST, repeatedly (a reconnect loop).
	ConnectRefused
	// HeartbeatTimeout: a PING that got no PONG and no other traffic within
	// its TTL, then the close.
	HeartbeatTimeout
	// Stalled: the receiver advertised a zero window while the sender had
	// data, for at least Config.StallAfter.
	Stalled
	// ResetMidMessage: a connection reset or closed inside a message.
	ResetMidMessage
	// DuplicateIdentity: two open connections to one server endpoint whose
	// clients announce the same Identity.
	DuplicateIdentity
	// UnsupportedVersion: a peer below ZMTP 3.0 meeting a 3.x peer that
	// closes instead of downgrading.
	UnsupportedVersion
	// MisplacedSubscription: a SUBSCRIBE or CANCEL from a socket that is
	// not a subscriber (RFC 37, RFC 29).
	MisplacedSubscription
	// PongMismatch: a PONG whose context is not the PING's (RFC 37).
	PongMismatch
	// AsServerConflict: a PLAIN or CURVE connection whose two greetings
	// both claim the server role (RFC 23, RFC 24, RFC 26).
	AsServerConflict
	numKinds
)

// kindNames are the fixed names, by kind.
var kindNames = [numKinds]string{
	SocketTypeMismatch:    "socket-type-mismatch",
	MechanismMismatch:     "mechanism-mismatch",
	AuthFailed:            "auth-failed",
	ConnectRefused:        "connect-refused",
	HeartbeatTimeout:      "heartbeat-timeout",
	Stalled:               "stalled",
	ResetMidMessage:       "reset-mid-message",
	DuplicateIdentity:     "duplicate-identity",
	UnsupportedVersion:    "unsupported-version",
	MisplacedSubscription: "misplaced-subscription",
	PongMismatch:          "pong-mismatch",
	AsServerConflict:      "as-server-conflict",
}

// Kinds returns every kind, in order (for --explain and documentation).
func Kinds() []Kind {
	out := make([]Kind, 0, numKinds-1)
	for k := SocketTypeMismatch; k < numKinds; k++ {
		out = append(out, k)
	}
	return out
}

// String returns the kind's fixed name, e.g. "auth-failed", or "unknown".
func (k Kind) String() string {
	if k == 0 || k >= numKinds {
		return "unknown"
	}
	return kindNames[k]
}

// Rule returns the rule a kind reports broken and where it is written (the
// RFC and its section), as one or two plain sentences.
func (k Kind) Rule() string {
	if k == 0 || k >= numKinds {
		return ""
	}
	return kindRules[k]
}

// Problem is one problem seen on the wire. *Problem is a zmtp.Event, so
// that printers print it among the decoded events.
type Problem struct {
	zmtp.Header
	// Kind is what kind of problem it is.
	Kind Kind
	// Text is one plain-English sentence saying what happened, without
	// raw wire bytes (any text from the wire is escaped).
	Text string
	// Time is when the wire showed it.
	Time time.Time
	// Client and Server are the connection's endpoints (for connect-refused,
	// the refused client's last attempt and the endpoint it tried).
	Client, Server netip.AddrPort
	// ClientName and ServerName, when not empty, are how the exit summary
	// names those ends (an ipc:// connection's processes and path, set by
	// the caller that prints the problem); empty: by address.
	ClientName, ServerName string
	// From is the side whose behaviour shows the problem: the silent peer
	// of a heartbeat timeout, the receiver of a stall, the server of a
	// refused handshake or attempt; for reset-mid-message, the direction
	// that carried bytes last (which one was inside a message is not known).
	From segment.Dir
	// Fields are the facts of the problem, per kind, printed as JSON keys
	// and as key=value in text.
	Fields []Field
}

// Field is one fact of a problem. Value is a string, int64, uint64, float64,
// bool or time.Duration.
type Field struct {
	Key   string
	Value any
}

// Health holds a connection's figures at its end.
type Health struct {
	// Latency is the request/reply round-trip time, nil when no reply was
	// matched to its request.
	Latency *Latency
	// HeartbeatInterval is the median interval between the PINGs of one
	// direction (the one that sent more), 0 when fewer than two were seen.
	HeartbeatInterval time.Duration
	// Stalled is the total time a direction was stalled, counting only the
	// stalls that lasted at least Config.StallAfter.
	Stalled time.Duration
	// Subscriptions are the topics subscribed and not cancelled at the end,
	// in the order first subscribed, as sent (binary: output escapes them).
	Subscriptions []string
}

// Latency summarises the round trips of a request/reply connection.
type Latency struct {
	// Count is the number of replies matched to their request.
	Count uint64
	// P50, P90 and P99 are percentiles of the round trips (exact up to
	// latencySamples round trips, then of a uniform sample of them); Max is
	// the longest.
	P50, P90, P99, Max time.Duration
}

// Config holds the thresholds of the detectors.
type Config struct {
	// RefusedAttempts is how many refused connection attempts make a
	// connect-refused burst (the --refused-attempts flag).
	RefusedAttempts int
	// RefusedQuiet ends a burst: a refused pair with no refused attempt
	// for RefusedQuiet has ended its burst (--refused-quiet).
	RefusedQuiet time.Duration
	// StallAfter is how long a stall must last to be a problem
	// (--stall-after).
	StallAfter time.Duration
	// HeartbeatTimeout is how long a PING waits for the peer's answer (a
	// PONG or any traffic) before it counts as unanswered when neither the
	// interval between the sender's PINGs nor its TTL is known (see
	// Conn's heartbeat rule).
	HeartbeatTimeout time.Duration
	// MaxRefusedPairs caps the client-address/server-endpoint pairs Refused
	// follows at once; attempts from further pairs are not followed.
	MaxRefusedPairs int
	// MaxIdentities caps the open connections Identities follows.
	MaxIdentities int
	// Names, when set, names a connection's ends in problem texts and
	// fields (an ipc:// end by its process rather than its synthetic
	// address); nil names ends by address and port. It is called on the
	// goroutines of the Conns and the Identities that share the Config.
	Names EndNamer
}

// EndNamer names a connection's end for problem texts.
type EndNamer interface {
	// EndName returns the name of the end ap.
	EndName(ap netip.AddrPort) string
}

// DefaultConfig returns the documented defaults: 5 refused attempts, 1 s
// of quiet to end a burst, 200 ms for a stall, 30 s for the answer to a
// PING of unknown interval and TTL, 4096 refused pairs and 65536
// identities followed.
func DefaultConfig() Config {
	return Config{
		RefusedAttempts:  5,
		RefusedQuiet:     time.Second,
		StallAfter:       200 * time.Millisecond,
		HeartbeatTimeout: 30 * time.Second,
		MaxRefusedPairs:  4096,
		MaxIdentities:    65536,
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.RefusedAttempts <= 0 {
		c.RefusedAttempts = d.RefusedAttempts
	}
	if c.RefusedQuiet <= 0 {
		c.RefusedQuiet = d.RefusedQuiet
	}
	if c.StallAfter <= 0 {
		c.StallAfter = d.StallAfter
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if c.MaxRefusedPairs <= 0 {
		c.MaxRefusedPairs = d.MaxRefusedPairs
	}
	if c.MaxIdentities <= 0 {
		c.MaxIdentities = d.MaxIdentities
	}
	return c
}

// endName is how texts name the end ap: by Config.Names, else by its
// address (c may be nil).
func (c *Config) endName(ap netip.AddrPort) string {
	if c == nil || c.Names == nil {
		return ap.String()
	}
	return c.Names.EndName(ap)
}

// stallAfter is c's StallAfter or its default (c may be nil).
func (c *Config) stallAfter() time.Duration {
	if c == nil || c.StallAfter <= 0 {
		return DefaultConfig().StallAfter
	}
	return c.StallAfter
}

// heartbeatTimeout is c's HeartbeatTimeout or its default (c may be nil).
func (c *Config) heartbeatTimeout() time.Duration {
	if c == nil || c.HeartbeatTimeout <= 0 {
		return DefaultConfig().HeartbeatTimeout
	}
	return c.HeartbeatTimeout
}
