package output

import (
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// JSON prints one JSON object per line (JSON Lines). Every object has "ts"
// (RFC 3339 with nanoseconds, UTC), "src", "dst" and "event"; see the README
// for the keys of each event.
type JSON struct {
	w       *lineBuf
	secrets bool
	hideBuf []byte  // command data with a password hidden (commandData)
	owners  *Owners // of the event being printed (Line.Owners)
	notes   []Note  // of the event being printed (Line.Notes)
	stderr  io.Writer
	// The events of one segment share its time, and a connection's share
	// its endpoints: the start of the last line, up to its event name
	// (`{"ts":"...","src":"...","dst":"...","event":"`), is kept with
	// what it was made of (formatting the time was the JSON printer's
	// largest cost). Times are compared with ==, not Equal: the same
	// instant in another form only makes the start again, as it was.
	lastT            time.Time
	lastSrc, lastDst netip.AddrPort
	lastHead         []byte
	// ipc is the ipc connection of the line being printed (nil: TCP),
	// lastIPC the one lastHead was made with.
	ipc, lastIPC *segment.IPC
	// And the processes of the last connection: their "process" member
	// (Process values are never changed once made).
	lastOwnSrc, lastOwnDst *Process
	lastOwnB               []byte
	// offsets writes the "offset" member of every event; stamp and
	// addrs a line start's time and endpoints.
	offsets offsetDigits
	stamp   secondStamp
	addrs   addrCache
}

// NewJSON returns a JSON Lines Printer writing to w.
func NewJSON(w io.Writer) *JSON { return NewJSONOptions(w, Options{}) }

// NewJSONOptions returns a JSON Lines Printer writing to w; of opts only
// ShowSecrets and Stderr apply.
func NewJSONOptions(w io.Writer, opts Options) *JSON {
	return &JSON{w: newLineBuf(w), secrets: opts.ShowSecrets, stderr: opts.Stderr,
		stamp: secondStamp{layout: "2006-01-02T15:04:05.", digits: 9, loc: time.UTC}}
}

func (p *JSON) head(t time.Time, src, dst netip.AddrPort, event string) []byte {
	if p.lastHead == nil || src != p.lastSrc || dst != p.lastDst || t != p.lastT || p.ipc != p.lastIPC {
		p.lastT, p.lastSrc, p.lastDst, p.lastIPC = t, src, dst, p.ipc
		h := append(p.lastHead[:0], `{"ts":"`...)
		h = append(p.stamp.append(h, t), 'Z') // RFC 3339 in UTC, nanoseconds
		if p.ipc == nil {
			h = append(h, `","src":"`...)
			h = append(h, p.addrs.get(src)...)
			h = append(h, `","dst":"`...)
			h = append(h, p.addrs.get(dst)...)
			h = append(h, `","event":"`...)
		} else { // the ends by their processes and path, escaped
			h = append(h, `","src":`...)
			h = appendJSONString(h, EndName(src, p.ipc))
			h = append(h, `,"dst":`...)
			h = appendJSONString(h, EndName(dst, p.ipc))
			h = append(h, `,"event":"`...)
		}
		p.lastHead = h
	}
	b := append(p.w.start(), p.lastHead...)
	b = append(b, event...)
	b = append(b, '"')
	return appendJSONIPC(b, p.ipc)
}

func (p *JSON) line(b []byte) error {
	return p.w.end(append(b, '}', '\n'))
}

// Packet implements Printer.
func (p *JSON) Packet(seg *segment.Segment) error {
	p.ipc = seg.IPC
	defer func() { p.ipc = nil }()
	b := p.head(seg.Time, seg.Src, seg.Dst, "tcp")
	b = append(b, `,"flags":[`...)
	for i, f := range segment.FlagNames(seg.Flags) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f)
	}
	b = append(b, `],"seq":`...)
	b = strconv.AppendUint(b, uint64(seg.Seq), 10)
	b = append(b, `,"ack":`...)
	b = strconv.AppendUint(b, uint64(seg.Ack), 10)
	b = append(b, `,"packet_size":`...)
	b = strconv.AppendInt(b, int64(seg.PacketLen), 10)
	b = append(b, `,"payload_size":`...)
	b = strconv.AppendInt(b, int64(seg.PayloadLen), 10)
	b = append(b, `,"captured_size":`...)
	b = strconv.AppendInt(b, int64(len(seg.Payload)), 10)
	if seg.Piece {
		b = append(b, `,"piece":true`...)
	}
	return p.line(b)
}

// Event implements Printer: the owners and notes of l are members of the
// event's object.
func (p *JSON) Event(l *Line, ev zmtp.Event) error {
	p.owners, p.notes, p.ipc = l.Owners, l.Notes, l.IPC
	err := p.event(l.Time, l.Src, l.Dst, l.Health, ev)
	p.owners, p.notes, p.ipc = nil, nil, nil
	return err
}

func (p *JSON) event(t time.Time, src, dst netip.AddrPort, h *diagnose.Health, ev zmtp.Event) error {
	var b []byte
	switch e := ev.(type) {
	case *zmtp.Greeting:
		b = p.head(t, src, dst, "greeting")
		b = append(b, `,"version":"`...)
		b = strconv.AppendUint(b, uint64(e.Major), 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(e.Minor), 10)
		b = append(b, '"')
		b = appendJSONText(append(b, ','), "mechanism", []byte(e.Mechanism))
		b = append(b, `,"as_server":`...)
		b = strconv.AppendBool(b, e.AsServer)
		if e.Major >= 2 || e.Downgraded {
			b = append(b, `,"signature_hex":"`...)
			b = appendHex(b, e.Signature[:])
			b = append(b, '"')
		}
		if e.Major == 2 {
			b = append(b, `,"revision":`...)
			b = strconv.AppendUint(b, uint64(e.Revision), 10)
			b = appendJSONText(append(b, ','), "socket_type", []byte(e.SocketType))
		}
		if e.Downgraded {
			b = append(b, `,"downgraded":true`...)
		}
	case *zmtp.Identity:
		b = p.head(t, src, dst, "identity")
		b = append(b, `,"size":`...)
		b = strconv.AppendUint(b, e.Size, 10)
		b = append(b, `,"identity_hex":"`...)
		b = appendHex(b, e.Data)
		b = append(b, `","truncated":`...)
		b = strconv.AppendBool(b, e.Truncated())
	case *zmtp.Connection:
		b = p.head(t, src, dst, "connection")
		b = appendJSONConnection(b, e)
		b = appendJSONHealth(b, h)
		b = p.appendNotes(b)
		return p.line(b)
	case *diagnose.Problem:
		b = p.head(t, src, dst, "problem")
		b = appendJSONProblem(b, e)
		b = p.appendOwners(b)
		b = p.appendNotes(b)
		return p.line(b)
	case *zmtp.Command:
		b = p.head(t, src, dst, "command")
		b = appendJSONText(append(b, ','), "name", []byte(e.Name))
		b = append(b, `,"size":`...)
		b = strconv.AppendUint(b, e.Size, 10)
		if e.Properties != nil || e.Kind == zmtp.KindReady || e.Kind == zmtp.KindInitiate {
			b = append(b, `,"properties":[`...)
			for i, pr := range e.Properties {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONText(append(b, '{'), "name", pr.Name)
				b = append(b, `,"value_hex":"`...)
				b = appendHex(b, pr.Value)
				b = append(b, `"}`...)
			}
			b = append(b, ']')
		}
		if e.Kind == zmtp.KindError {
			b = appendJSONText(append(b, ','), "reason", e.Reason)
		}
		hidden := false
		if e.Properties == nil && e.Kind != zmtp.KindError {
			var data []byte
			data, hidden = p.commandData(e)
			b = append(b, `,"data_hex":"`...)
			b = appendHex(b, data)
			b = append(b, '"')
		}
		b = append(b, `,"truncated":`...)
		b = strconv.AppendBool(b, e.Truncated)
		if hidden {
			b = append(b, `,"redacted":"password"`...)
		}
		b = p.appendCommandFields(b, e)
	case *zmtp.Message:
		b = p.head(t, src, dst, "message")
		// The constant runs of a frame each go in one append: this is
		// the line a burst of small messages prints.
		b = append(b, `,"frames":[`...)
		for i := range e.Frames {
			f := &e.Frames[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"size":`...)
			b = appendUint(b, f.Size)
			b = append(b, `,"data_hex":"`...)
			b = appendHex(b, f.Data)
			b = append(b, jsonFrameEnd(f.Truncated(), f.More)...)
		}
		if e.FramesOmitted == 0 {
			b = append(b, `],"frames_omitted":0,"bytes":`...)
		} else {
			b = append(b, `],"frames_omitted":`...)
			b = strconv.AppendInt(b, int64(e.FramesOmitted), 10)
			b = append(b, `,"bytes":`...)
		}
		b = appendUint(b, e.Bytes)
		if e.Subscription != zmtp.NoSubscription {
			b = append(b, `,"subscription":{"action":"`...)
			b = append(b, e.Subscription.String()...)
			b = append(b, `","topic_hex":"`...)
			b = appendHex(b, e.Topic)
			b = append(b, `"}`...)
		}
		if e.Encrypted {
			b = append(b, `,"encrypted":true`...)
			b = appendJSONText(append(b, ','), "mechanism", []byte(e.Mechanism))
			b = append(b, `,"nonce_hex":"`...)
			b = appendHex(b, e.Nonce)
			b = append(b, `","box_size":`...)
			b = strconv.AppendUint(b, e.BoxSize, 10)
		}
	case *zmtp.Gap:
		b = p.head(t, src, dst, "gap")
		b = appendJSONGap(b, e)
	case *zmtp.Resync:
		b = p.head(t, src, dst, "resync")
		b = appendJSONResync(b, e)
	case *zmtp.Error:
		b = p.head(t, src, dst, "error")
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, e.Reason())
	default:
		return nil
	}
	b = p.appendOwners(b)
	b = p.appendNotes(b)
	b = append(b, `,"offset":`...)
	b = p.offsets.append(b, ev.EventHeader().Offset)
	return p.line(b)
}

// jsonFrameEnd ends a frame's object by its truncated and more members.
func jsonFrameEnd(truncated, more bool) string {
	switch {
	case !truncated && !more:
		return `","truncated":false,"more":false}`
	case !truncated:
		return `","truncated":false,"more":true}`
	case !more:
		return `","truncated":true,"more":false}`
	}
	return `","truncated":true,"more":true}`
}

// appendCommandFields appends the fields of the commands zmtp parses.
func (p *JSON) appendCommandFields(b []byte, c *zmtp.Command) []byte {
	switch {
	case c.Kind == zmtp.KindPing:
		b = append(b, `,"ttl":`...)
		b = strconv.AppendFloat(b, float64(c.TTL)/10, 'f', -1, 64)
		b = append(b, `,"context_hex":"`...)
		b = appendHex(b, c.Context)
		b = append(b, '"')
	case c.Kind == zmtp.KindPong:
		b = append(b, `,"context_hex":"`...)
		b = appendHex(b, c.Context)
		b = append(b, '"')
	case c.Kind == zmtp.KindSubscribe || c.Kind == zmtp.KindCancel:
		b = append(b, `,"topic_hex":"`...)
		b = appendHex(b, c.Topic)
		b = append(b, '"')
	case c.Kind == zmtp.KindHello && c.Mechanism == "PLAIN":
		b = append(b, `,"mechanism":"PLAIN"`...)
		b = appendJSONText(append(b, ','), "username", c.Username)
		b = append(b, `,"password_length":`...)
		b = strconv.AppendInt(b, int64(len(c.Password)), 10)
		if p.secrets {
			b = appendJSONText(append(b, ','), "password", c.Password)
		}
	case c.Mechanism == "CURVE" && c.Nonce != nil:
		b = append(b, `,"mechanism":"CURVE"`...)
		if c.Key != nil {
			b = append(b, `,"curve_version":"`...)
			b = strconv.AppendUint(b, uint64(c.CurveVersion[0]), 10)
			b = append(b, '.')
			b = strconv.AppendUint(b, uint64(c.CurveVersion[1]), 10)
			b = append(b, `","client_key_z85":"`...)
			b = appendZ85(b, c.Key)
			b = append(b, '"')
		}
		if c.Cookie != nil {
			b = append(b, `,"cookie_hex":"`...)
			b = appendHex(b, c.Cookie)
			b = append(b, '"')
		}
		b = append(b, `,"nonce_hex":"`...)
		b = appendHex(b, c.Nonce)
		b = append(b, `","box_size":`...)
		b = strconv.AppendUint(b, c.BoxSize, 10)
		b = append(b, `,"encrypted":`...)
		b = strconv.AppendBool(b, c.Encrypted)
	}
	return b
}

// appendJSONConnection appends the keys of a connection summary: src is the
// side that sent ClientToServer.
func appendJSONConnection(b []byte, c *zmtp.Connection) []byte {
	b = append(b, `,"end":`...)
	b = appendJSONString(b, c.End.String())
	a, z := &c.Sides[0], &c.Sides[1]
	b = append(b, `,"version":"`...)
	ka, kz := knownVersion(a), knownVersion(z)
	switch {
	case ka && kz && (z.Major < a.Major || z.Major == a.Major && z.Minor < a.Minor):
		b = appendVersionNumber(b, z)
	case ka:
		b = appendVersionNumber(b, a)
	case kz:
		b = appendVersionNumber(b, z)
	}
	b = append(b, '"')
	m := a.Mechanism
	if m == "" {
		m = z.Mechanism
	}
	b = appendJSONText(append(b, ','), "mechanism", []byte(m))
	for i, key := range [2]string{"src", "dst"} {
		s := &c.Sides[i]
		b = append(b, `,"`...)
		b = append(b, key...)
		b = append(b, `_version":"`...)
		if knownVersion(s) {
			b = appendVersionNumber(b, s)
		}
		b = append(b, '"')
		b = appendJSONText(append(b, ','), key+"_socket_type", []byte(s.SocketType))
		b = append(b, `,"`...)
		b = append(b, key...)
		b = append(b, `_identity_hex":"`...)
		b = appendHex(b, s.Identity)
		b = append(b, '"')
	}
	b = appendJSONJoined(b, c)
	for i, key := range [2]string{"src_to_dst", "dst_to_src"} {
		s := &c.Sides[i]
		b = append(b, `,"`...)
		b = append(b, key...)
		b = append(b, `":{"messages":`...)
		b = strconv.AppendUint(b, s.Messages, 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendUint(b, s.MessageBytes, 10)
		b = append(b, `,"commands":`...)
		b = strconv.AppendUint(b, s.Commands, 10)
		b = append(b, `,"stream_bytes":`...)
		b = strconv.AppendUint(b, s.StreamBytes, 10)
		b = append(b, `,"resyncs":`...)
		b = strconv.AppendUint(b, s.Resyncs, 10)
		if s.Err != nil {
			b = append(b, `,"error":`...)
			b = appendJSONString(b, s.Err.Error())
		}
		b = append(b, '}')
	}
	return b
}

// Drawing implements Printer: JSON draws nothing (--ladder is text only).
func (*JSON) Drawing([]byte) error { return nil }

// Flush implements Printer.
func (p *JSON) Flush() error { return p.w.flush() }
