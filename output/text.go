package output

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Text prints tcpdump-like lines:
//
//	12:13:35.585001 127.0.0.1:47563 > 127.0.0.1:7001: message: "1" 31
type Text struct {
	w       *lineBuf
	clock   clock
	body    Body
	color   bool
	verbose bool
	secrets bool
	hideBuf []byte // command data with a password hidden (commandData)
	notes   []Note // the notes of the event being printed (Line.Notes)
	stderr  io.Writer
	// The endpoints of the last line, "src > dst" formatted (a
	// connection's events come in runs).
	lastSrc, lastDst netip.AddrPort
	lastEnds         []byte
	addrs            addrCache // the endpoints' own text
	// Without colours, the whole start of the last line, "time src >
	// dst: " (the events of one segment share its time), and its time
	// (compared with ==, as JSON's).
	lastT    time.Time
	lastHead []byte
	// ipc is the ipc connection of the line being printed (nil: TCP),
	// lastIPC the one lastEnds was formatted with.
	ipc, lastIPC *segment.IPC
}

// NewText returns a text Printer writing to w.
func NewText(w io.Writer, opts Options) *Text {
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	return &Text{
		w:       newLineBuf(w),
		clock:   clock{format: opts.Time, loc: loc},
		body:    opts.Body,
		color:   opts.Color,
		verbose: opts.Verbose,
		secrets: opts.ShowSecrets,
		stderr:  opts.Stderr,
	}
}

// head starts a line: the time, then the endpoints in colour c (none:
// "").
func (p *Text) head(c string, t time.Time, src, dst netip.AddrPort) []byte {
	if !p.color && p.clock.repeats() {
		if p.lastHead == nil || src != p.lastSrc || dst != p.lastDst || t != p.lastT || p.ipc != p.lastIPC {
			p.lastT = t
			p.lastHead = append(p.appendEnds(p.clock.append(p.lastHead[:0], t), src, dst), ": "...)
		}
		return append(p.w.start(), p.lastHead...)
	}
	b := p.clock.append(p.w.start(), t)
	if c != "" {
		b = p.paint(b, c)
	}
	b = p.appendEnds(b, src, dst)
	if c != "" {
		b = p.unpaint(b)
	}
	return append(b, ": "...)
}

// appendEnds appends "src > dst" (an ipc connection's ends by their
// processes and path), kept from the last line when the same.
func (p *Text) appendEnds(b []byte, src, dst netip.AddrPort) []byte {
	if src != p.lastSrc || dst != p.lastDst || p.ipc != p.lastIPC || p.lastEnds == nil {
		p.lastSrc, p.lastDst, p.lastIPC = src, dst, p.ipc
		if p.ipc != nil {
			p.lastEnds = appendEnds(p.lastEnds[:0], src, dst, p.ipc)
		} else {
			p.lastEnds = append(p.lastEnds[:0], p.addrs.get(src)...)
			p.lastEnds = append(p.lastEnds, " > "...)
			p.lastEnds = append(p.lastEnds, p.addrs.get(dst)...)
		}
	}
	return append(b, p.lastEnds...)
}

func (p *Text) line(b []byte) error { return p.w.end(append(b, '\n')) }

// Packet implements Printer.
func (p *Text) Packet(seg *segment.Segment) error {
	p.ipc = seg.IPC
	defer func() { p.ipc = nil }()
	b := p.head("", seg.Time, seg.Src, seg.Dst)
	b = p.paint(b, colorDim)
	b = append(b, "tcp "...)
	b = append(b, segment.FlagString(seg.Flags)...)
	b = append(b, ", seq "...)
	b = strconv.AppendUint(b, uint64(seg.Seq), 10)
	if seg.Has(segment.ACK) {
		b = append(b, ", ack "...)
		b = strconv.AppendUint(b, uint64(seg.Ack), 10)
	}
	b = append(b, ", packet "...)
	b = strconv.AppendInt(b, int64(seg.PacketLen), 10)
	b = append(b, ", payload "...)
	b = strconv.AppendInt(b, int64(seg.PayloadLen), 10)
	if len(seg.Payload) < seg.PayloadLen {
		b = fmt.Appendf(b, " (%d captured)", len(seg.Payload))
	}
	if seg.Piece {
		b = append(b, ", piece"...)
	}
	b = p.unpaint(b)
	return p.line(b)
}

// Event implements Printer: the endpoints are coloured by direction
// (Options.Color), the notes follow on indented lines.
func (p *Text) Event(l *Line, ev zmtp.Event) error {
	p.notes, p.ipc = l.Notes, l.IPC
	err := p.event(l, ev)
	p.notes, p.ipc = nil, nil
	return err
}

func (p *Text) event(l *Line, ev zmtp.Event) error {
	src, dst := l.Src, l.Dst
	b := p.head(fromColor(l.From), l.Time, src, dst)
	switch e := ev.(type) {
	case *zmtp.Greeting:
		b = p.appendGreeting(b, e)
	case *zmtp.Identity:
		b = append(b, "identity: "...)
		if e.Size == 0 {
			b = append(b, "anonymous"...)
		} else {
			b = p.appendData(b, e.Data, e.Size)
		}
	case *zmtp.Command:
		b = p.appendCommand(b, e)
	case *zmtp.Message:
		b = p.appendMessage(b, e)
	case *zmtp.Connection:
		b = p.paint(b, colorBold)
		b = appendConnection(b, src, dst, l.IPC, e)
		b = appendHealth(b, l.Health)
		b = p.unpaint(b)
	case *zmtp.Gap:
		b = p.paint(b, colorRed)
		b = appendGap(b, e)
		b = p.unpaint(b)
	case *zmtp.Resync:
		b = p.paint(b, colorYellow)
		b = appendResync(b, e)
		b = p.unpaint(b)
	case *diagnose.Problem:
		b = p.appendProblem(b, e)
	case *zmtp.Error:
		b = p.paint(b, colorRed)
		b = append(b, "error: "...)
		b = AppendEscaped(b, e.Reason())
		b = p.unpaint(b)
	default:
		b = fmt.Appendf(b, "unknown event %T", ev)
	}
	if p.body == BodyHexDump {
		b = append(b, '\n')
		b = p.appendDumps(b, ev)
		return p.w.end(p.appendNotes(b))
	}
	return p.lineNotes(b)
}

// lineNotes writes b as a line, then the notes of the event.
func (p *Text) lineNotes(b []byte) error {
	if len(p.notes) == 0 {
		return p.line(b)
	}
	return p.w.end(p.appendNotes(append(b, '\n')))
}

func (p *Text) appendGreeting(b []byte, e *zmtp.Greeting) []byte {
	b = p.paint(b, colorGreen)
	b = append(b, "greeting"...)
	b = p.unpaint(b)
	b = append(b, ": "...)
	if p.verbose && (e.Major >= 2 || e.Downgraded) {
		b = append(b, "signature "...)
		b = AppendHexSpaced(b, e.Signature[:])
		b = append(b, ", "...)
	}
	switch {
	case e.Major >= 3:
		as := 0
		if e.AsServer {
			as = 1
		}
		b = fmt.Appendf(b, "ZMTP %d.%d, mechanism ", e.Major, e.Minor)
		b = AppendToken(b, []byte(e.Mechanism))
		b = fmt.Appendf(b, ", as-server %d", as)
	case e.Major == 2 && e.Downgraded:
		b = fmt.Appendf(b, "ZMTP 2.0 (downgraded from %d), socket-type ", e.Revision)
		b = AppendToken(b, []byte(e.SocketType))
	case e.Major == 2:
		b = fmt.Appendf(b, "ZMTP 2.0 (revision %d), socket-type ", e.Revision)
		b = AppendToken(b, []byte(e.SocketType))
	case e.Downgraded:
		b = append(b, "ZMTP 1.0 (downgraded, the signature heads the identity frame)"...)
	default:
		b = append(b, "ZMTP 1.0 (no greeting, identity frame first)"...)
	}
	return b
}

// appendData appends kept bytes quoted and in hex, saying how many of size
// were shown when they were cut.
func (p *Text) appendData(b, data []byte, size uint64) []byte {
	b = AppendQuoted(b, data)
	b = p.appendHexAfter(b, data)
	if uint64(len(data)) < size {
		b = fmt.Appendf(b, " ... (%d bytes, %d shown)", size, len(data))
	}
	return b
}

// appendCommand prints a command. Commands with known fields get them
// (PING, PONG, SUBSCRIBE, CANCEL, PLAIN HELLO, CURVE commands); the rest
// show properties or data. All end with the body size.
func (p *Text) appendCommand(b []byte, c *zmtp.Command) []byte {
	b = p.paint(b, colorYellow)
	b = AppendToken(b, []byte(c.Name))
	b = p.unpaint(b)
	switch {
	case c.Kind == zmtp.KindPing:
		b = fmt.Appendf(b, ": ttl %d.%ds, context ", c.TTL/10, c.TTL%10)
		b = AppendQuoted(b, c.Context)
	case c.Kind == zmtp.KindPong:
		b = append(b, ": context "...)
		b = AppendQuoted(b, c.Context)
	case c.Kind == zmtp.KindSubscribe || c.Kind == zmtp.KindCancel:
		b = append(b, ": "...)
		b = p.appendData(b, c.Topic, c.Size-uint64(len(c.Name))-1)
	case c.Kind == zmtp.KindHello && c.Mechanism == "PLAIN":
		b = append(b, " (PLAIN): username "...)
		b = AppendQuoted(b, c.Username)
		if p.secrets {
			b = append(b, ", password "...)
			b = AppendQuoted(b, c.Password)
		} else {
			b = fmt.Appendf(b, ", password (%d bytes, hidden)", len(c.Password))
		}
	case c.Mechanism == "CURVE" && (c.Nonce != nil || c.Kind == zmtp.KindMessage):
		b = append(b, " (CURVE):"...)
		if c.Key != nil {
			b = fmt.Appendf(b, " version %d.%d, client key ", c.CurveVersion[0], c.CurveVersion[1])
			b = appendZ85(b, c.Key)
			b = append(b, ',')
		}
		if c.Cookie != nil {
			b = fmt.Appendf(b, " cookie (%d bytes),", len(c.Cookie))
		}
		b = append(b, " nonce "...)
		b = appendHex(b, c.Nonce)
		b = fmt.Appendf(b, ", box %d bytes", c.BoxSize)
		if c.Encrypted {
			b = append(b, " (encrypted)"...)
		}
	case c.Kind == zmtp.KindError:
		b = append(b, ": reason "...)
		b = AppendQuoted(b, c.Reason)
	case len(c.Properties) > 0:
		for i, pr := range c.Properties {
			if i == 0 {
				b = append(b, ": "...)
			} else {
				b = append(b, ", "...)
			}
			b = AppendToken(b, pr.Name)
			b = append(b, '=')
			b = AppendQuoted(b, pr.Value)
			b = p.appendHexAfter(b, pr.Value)
		}
	case len(c.Data) > 0:
		data := p.commandData(c)
		b = append(b, ": "...)
		b = AppendQuoted(b, data)
		b = p.appendHexAfter(b, data)
	}
	b = append(b, " (size "...)
	b = strconv.AppendUint(b, c.Size, 10)
	if c.Truncated {
		b = append(b, ", cut"...)
	}
	return append(b, ')')
}

func (p *Text) appendMessage(b []byte, m *zmtp.Message) []byte {
	b = append(b, "message"...)
	if m.Encrypted {
		b = append(b, " (encrypted, "...)
		b = AppendToken(b, []byte(m.Mechanism))
		b = append(b, "): nonce "...)
		b = appendHex(b, m.Nonce)
		return fmt.Appendf(b, ", box %d bytes", m.BoxSize)
	}
	if m.Subscription != zmtp.NoSubscription {
		b = append(b, ": "...)
		b = append(b, m.Subscription.String()...)
		b = append(b, ' ')
		f := &m.Frames[0]
		return p.appendData(b, m.Topic, f.Size-1)
	}
	if len(m.Frames) > 1 || m.FramesOmitted > 0 {
		b = fmt.Appendf(b, " (%d frames, %d bytes)", len(m.Frames)+m.FramesOmitted, m.Bytes)
	}
	b = append(b, ':')
	for i := range m.Frames {
		f := &m.Frames[i]
		if i > 0 {
			b = append(b, " |"...)
		}
		b = append(b, ' ')
		b = AppendQuoted(b, f.Data)
		b = p.appendHexAfter(b, f.Data)
		if f.Truncated() {
			b = fmt.Appendf(b, " ... (%d bytes, %d shown)", f.Size, len(f.Data))
		}
		if f.More {
			b = append(b, " +MORE"...)
		}
	}
	if m.FramesOmitted > 0 {
		b = fmt.Appendf(b, " | (%d more frames)", m.FramesOmitted)
	}
	return b
}

// appendConnection prints a connection summary:
//
//	connection closed: 127.0.0.1:5 (PUSH) -> 127.0.0.1:7001 (PULL), ZMTP 3.1 NULL, 3 messages 3 bytes ->, 0 messages <-
func appendConnection(b []byte, src, dst netip.AddrPort, ipc *segment.IPC, c *zmtp.Connection) []byte {
	b = append(b, "connection "...)
	b = AppendEscaped(b, c.End.String())
	b = append(b, ": "...)
	b = appendEndpoint(b, src, ipc, &c.Sides[0])
	b = append(b, " -> "...)
	b = appendEndpoint(b, dst, ipc, &c.Sides[1])
	b = append(b, ", "...)
	b = AppendVersion(b, c)
	b = appendJoined(b, c)
	for i, arrow := range [2]string{" ->", " <-"} {
		s := &c.Sides[i]
		b = fmt.Appendf(b, ", %d message", s.Messages)
		if s.Messages != 1 {
			b = append(b, 's')
		}
		if s.Messages > 0 {
			b = fmt.Appendf(b, " %d bytes", s.MessageBytes)
		}
		b = append(b, arrow...)
	}
	return b
}

func appendEndpoint(b []byte, ap netip.AddrPort, ipc *segment.IPC, s *zmtp.Side) []byte {
	b = AppendEnd(b, ap, ipc)
	if s.SocketType == "" && len(s.Identity) == 0 {
		return b
	}
	b = append(b, " ("...)
	if s.SocketType != "" {
		b = AppendToken(b, []byte(s.SocketType))
	}
	if len(s.Identity) > 0 {
		if s.SocketType != "" {
			b = append(b, ", "...)
		}
		b = append(b, "identity "...)
		b = AppendQuoted(b, s.Identity)
	}
	return append(b, ')')
}

// AppendVersion says the connection's version and mechanism: "ZMTP 3.1
// NULL", "ZMTP 3.1/3.0 NULL" when the sides differ, "no greeting".
func AppendVersion(b []byte, c *zmtp.Connection) []byte {
	a, z := &c.Sides[0], &c.Sides[1]
	switch {
	case a.Greeted && z.Greeted && (a.Major != z.Major || a.Minor != z.Minor):
		b = fmt.Appendf(b, "ZMTP %d.%d/%d.%d ", a.Major, a.Minor, z.Major, z.Minor)
	case a.Greeted:
		b = fmt.Appendf(b, "ZMTP %d.%d ", a.Major, a.Minor)
	case z.Greeted:
		b = fmt.Appendf(b, "ZMTP %d.%d ", z.Major, z.Minor)
	case a.Joined || z.Joined:
		return appendInferredVersion(b, c)
	default:
		return append(b, "no greeting"...)
	}
	m := a.Mechanism
	if !a.Greeted {
		m = z.Mechanism
	}
	return AppendToken(b, []byte(m))
}

// appendHexAfter appends a space and data in hex after its quoted form,
// unless bodies are shown as text only (-A) or dumped (-X).
func (p *Text) appendHexAfter(b, data []byte) []byte {
	if p.body != BodyQuotedHex || len(data) == 0 {
		return b
	}
	b = append(b, ' ')
	return AppendHexSpaced(b, data)
}

// Drawing implements Printer: the diagram, escaped again so that any byte
// a label forgot to escape stays off the terminal.
func (p *Text) Drawing(b []byte) error {
	return p.w.end(appendPrintable(p.w.start(), string(b), true))
}

// Flush implements Printer.
func (p *Text) Flush() error { return p.w.flush() }
