package output

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Conversation is what the --summary table says of one connection.
type Conversation struct {
	// Client sent the connection's first SYN; Server is its peer.
	Client, Server netip.AddrPort
	// IPC is the ipc:// connection whose ends Client and Server's
	// synthetic addresses are (nil: TCP): the table names them as
	// AppendEnd does.
	IPC *segment.IPC
	// Start and End are the times of the first and last segment that
	// carried data, a gap or the end of the connection.
	Start, End time.Time
	// Summary is the connection's summary: why it ended (End) and what
	// the client and the server sent (Sides, in that order).
	Summary zmtp.Connection
	// Gaps and Lost count, per direction (client to server first), the
	// gaps in the stream and the bytes they lost.
	Gaps, Lost [2]uint64
	// Health is the connection's figures (nil: none); the table lists
	// the request/reply latency and the time stalled below the rows.
	Health *diagnose.Health
}

// NewConversation copies the connection summary c, which is only valid
// while its emit callback runs, into a Conversation.
func NewConversation(client, server netip.AddrPort, start, end time.Time, c *zmtp.Connection) Conversation {
	conv := Conversation{Client: client, Server: server, Start: start, End: end, Summary: *c}
	for i := range conv.Summary.Sides {
		s := &conv.Summary.Sides[i]
		s.Identity = slices.Clone(s.Identity)
	}
	return conv
}

// Rest sums up the conversations a table leaves out: those past its row
// limit, counted but not kept.
type Rest struct {
	// Conversations is how many were left out.
	Conversations uint64
	// Messages and Bytes are what they sent, client to server first.
	Messages, Bytes [2]uint64
	// Errors, Gaps, Lost and Resyncs are their totals.
	Errors, Gaps, Lost, Resyncs uint64
}

// Add counts c in r.
func (r *Rest) Add(c *Conversation) {
	r.Conversations++
	for d := range c.Summary.Sides {
		s := &c.Summary.Sides[d]
		r.Messages[d] += s.Messages
		r.Bytes[d] += s.MessageBytes
		if s.Err != nil {
			r.Errors++
		}
	}
	r.Gaps += c.Gaps[0] + c.Gaps[1]
	r.Lost += c.Lost[0] + c.Lost[1]
	r.Resyncs += resyncs(&c.Summary)
}

// WriteConversations writes the conversation table, like tshark -z conv:
// one line per connection in order of start, then the errors that stopped
// decoding, by connection. Start is relative to the first conversation.
func WriteConversations(w io.Writer, convs []Conversation) error {
	return WriteConversationsRest(w, convs, Rest{})
}

// WriteConversationsRest writes the table of convs as WriteConversations
// does, and says below it how many more conversations there were and what
// they sent, in one line of totals.
func WriteConversationsRest(w io.Writer, convs []Conversation, rest Rest) error {
	convs = slices.Clone(convs)
	slices.SortStableFunc(convs, func(a, b Conversation) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		if c := a.Client.Compare(b.Client); c != 0 {
			return c
		}
		return a.Server.Compare(b.Server)
	})
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "ZMTP conversations: %d\n", uint64(len(convs))+rest.Conversations)
	if len(convs) == 0 {
		writeRest(bw, rest)
		return bw.Flush()
	}
	t := table{header: []string{"Client", "Server", "Sockets", "Version", "Mechanism",
		"Msgs ->", "Bytes ->", "Msgs <-", "Bytes <-", "Start", "Duration", "Errors", "Gaps", "Lost", "Resyncs", "End"}}
	t.right = []bool{false, false, false, false, false, true, true, true, true, true, true, true, true, true, true, false}
	var errs, joins, health []string
	first := convs[0].Start
	for i := range convs {
		c := &convs[i]
		a, z := &c.Summary.Sides[0], &c.Summary.Sides[1]
		nerr := 0
		for d, s := range []*zmtp.Side{a, z} {
			if s.Err == nil {
				continue
			}
			nerr++
			from, to := EndName(c.Client, c.IPC), EndName(c.Server, c.IPC)
			if d == 1 {
				from, to = to, from
			}
			errs = append(errs, fmt.Sprintf("  %s > %s: %s", from, to, escape(s.Err.Error())))
		}
		t.rows = append(t.rows, []string{
			EndName(c.Client, c.IPC), EndName(c.Server, c.IPC),
			sockets(a, z), version(a, z), escape(mechanism(a, z)),
			u(a.Messages), u(a.MessageBytes), u(z.Messages), u(z.MessageBytes),
			seconds(c.Start.Sub(first)), seconds(c.End.Sub(c.Start)),
			strconv.Itoa(nerr), u(c.Gaps[0] + c.Gaps[1]), u(c.Lost[0] + c.Lost[1]), u(resyncs(&c.Summary)),
			escape(c.Summary.End.String()),
		})
		if joined(&c.Summary) {
			joins = append(joins, fmt.Sprintf("  %s > %s: %s", EndName(c.Client, c.IPC), EndName(c.Server, c.IPC), inferredText(a, z)))
		}
		if h := healthText(c.Health); h != "" {
			health = append(health, fmt.Sprintf("  %s > %s: %s", EndName(c.Client, c.IPC), EndName(c.Server, c.IPC), h))
		}
	}
	t.write(bw)
	writeRest(bw, rest)
	if len(joins) > 0 {
		fmt.Fprintln(bw, "Joined mid-connection (greetings not seen; * marks what the traffic proved):")
		for _, j := range joins {
			fmt.Fprintln(bw, j)
		}
	}
	if len(health) > 0 {
		fmt.Fprintln(bw, "Health (latency, stalls, heartbeats, subscriptions at the end):")
		for _, h := range health {
			fmt.Fprintln(bw, h)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintln(bw, "Errors:")
		for _, e := range errs {
			fmt.Fprintln(bw, e)
		}
	}
	return bw.Flush()
}

// writeRest says what the conversations left out of the table sent.
func writeRest(w *bufio.Writer, r Rest) {
	if r.Conversations == 0 {
		return
	}
	fmt.Fprintf(w, "%d more conversations not shown (row limit; their errors not listed): %d msgs (%d bytes) ->, %d msgs (%d bytes) <-, %d errors, %d gaps, %d bytes lost, %d resyncs\n",
		r.Conversations, r.Messages[0], r.Bytes[0], r.Messages[1], r.Bytes[1], r.Errors, r.Gaps, r.Lost, r.Resyncs)
}

// healthText says a connection's latency and time stalled, "latency p50
// 1.2ms p99 3.4ms (10 replies), stalled 1.5s", or "" when neither is known.
func healthText(h *diagnose.Health) string {
	b := appendHealth(nil, h)
	if len(b) == 0 {
		return ""
	}
	return string(b[len(", "):])
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }

// seconds formats d as seconds with microseconds, "0.050862".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
}

func escape(s string) string { return string(AppendEscaped(nil, s)) }

// sockets says the socket types, "PUSH -> PULL", "?" for an unknown one.
func sockets(a, z *zmtp.Side) string {
	name := func(s *zmtp.Side) string {
		if s.SocketType == "" {
			return "?"
		}
		return string(AppendToken(nil, []byte(s.SocketType)))
	}
	return name(a) + " -> " + name(z)
}

// version is "3.1", "3.1/3.0" when the sides differ, "-" without greeting.
func version(a, z *zmtp.Side) string {
	v := func(s *zmtp.Side) string { return string(appendVersionNumber(nil, s)) }
	switch {
	case a.Greeted && z.Greeted && (a.Major != z.Major || a.Minor != z.Minor):
		return v(a) + "/" + v(z)
	case a.Greeted:
		return v(a)
	case z.Greeted:
		return v(z)
	case knownVersion(a):
		return v(a) + "*"
	case knownVersion(z):
		return v(z) + "*"
	}
	return "-"
}

// inferredText lists what was inferred of a joined connection's sides:
// "client: version, socket_type; server: nothing".
func inferredText(a, z *zmtp.Side) string {
	say := func(s *zmtp.Side) string {
		if n := s.Inferred.Names(); len(n) > 0 {
			return strings.Join(n, ", ")
		}
		return "nothing"
	}
	return "client: " + say(a) + "; server: " + say(z)
}

func mechanism(a, z *zmtp.Side) string {
	switch {
	case a.Greeted:
		return a.Mechanism
	case z.Greeted:
		return z.Mechanism
	case a.Mechanism != "":
		return a.Mechanism + "*"
	case z.Mechanism != "":
		return z.Mechanism + "*"
	}
	return "-"
}

// table is a text table with columns padded to their widest cell.
type table struct {
	header []string
	right  []bool // right-align this column
	rows   [][]string
}

func (t *table) write(w *bufio.Writer) {
	width := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	for _, r := range append([][]string{t.header}, t.rows...) {
		var line strings.Builder
		for i, c := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[i]-len(c))
			if t.right[i] {
				line.WriteString(pad + c)
			} else if i < len(r)-1 {
				line.WriteString(c + pad)
			} else {
				line.WriteString(c)
			}
		}
		w.WriteString(line.String())
		w.WriteByte('\n')
	}
}
