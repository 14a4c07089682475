package output

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// Text prints tcpdump-like lines:
//
//	12:13:35.585001 127.0.0.1:47563 > 127.0.0.1:7001: message: "1" 31
type Text struct {
	w       *bufio.Writer
	loc     *time.Location
	verbose bool
	buf     []byte
}

// NewText returns a text Printer writing to w.
func NewText(w io.Writer, opts Options) *Text {
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	return &Text{w: bufio.NewWriter(w), loc: loc, verbose: opts.Verbose}
}

func (p *Text) head(t time.Time, src, dst netip.AddrPort) []byte {
	b := t.In(p.loc).AppendFormat(p.buf[:0], "15:04:05.000000")
	b = append(b, ' ')
	b = src.AppendTo(b)
	b = append(b, " > "...)
	b = dst.AppendTo(b)
	return append(b, ": "...)
}

func (p *Text) line(b []byte) error {
	b = append(b, '\n')
	p.buf = b[:0]
	_, err := p.w.Write(b)
	return err
}

// TCP implements Printer.
func (p *Text) TCP(seg *capture.Segment) error {
	b := p.head(seg.Time, seg.Src, seg.Dst)
	b = append(b, "tcp "...)
	b = append(b, capture.FlagString(seg.Flags)...)
	b = append(b, ", seq "...)
	b = strconv.AppendUint(b, uint64(seg.Seq), 10)
	if seg.Has(capture.ACK) {
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
	return p.line(b)
}

// Gap implements Printer.
func (p *Text) Gap(t time.Time, src, dst netip.AddrPort, n uint64) error {
	b := p.head(t, src, dst)
	b = fmt.Appendf(b, "gap: %d bytes lost", n)
	return p.line(b)
}

// Event implements Printer.
func (p *Text) Event(t time.Time, src, dst netip.AddrPort, ev zmtp.Event) error {
	b := p.head(t, src, dst)
	switch e := ev.(type) {
	case *zmtp.Greeting:
		as := 0
		if e.AsServer {
			as = 1
		}
		b = append(b, "greeting: "...)
		if p.verbose {
			b = append(b, "signature "...)
			b = appendHexSpaced(b, e.Signature[:])
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "ZMTP %d.%d, mechanism ", e.Major, e.Minor)
		b = appendToken(b, []byte(e.Mechanism))
		b = fmt.Appendf(b, ", as-server %d", as)
	case *zmtp.Command:
		b = appendCommand(b, e)
	case *zmtp.Message:
		b = appendMessage(b, e)
	case *zmtp.Gap:
		b = fmt.Appendf(b, "gap: %d bytes lost", e.Bytes)
	case *zmtp.Error:
		b = append(b, "error: "...)
		b = appendEscaped(b, e.Reason())
	default:
		b = fmt.Appendf(b, "unknown event %T", ev)
	}
	return p.line(b)
}

func appendCommand(b []byte, c *zmtp.Command) []byte {
	b = appendToken(b, []byte(c.Name))
	switch {
	case c.Name == "ERROR":
		b = append(b, ": reason "...)
		b = appendQuoted(b, c.Reason)
	case len(c.Properties) > 0:
		for i, pr := range c.Properties {
			if i == 0 {
				b = append(b, ": "...)
			} else {
				b = append(b, ", "...)
			}
			b = appendToken(b, pr.Name)
			b = append(b, '=')
			b = appendQuoted(b, pr.Value)
			if len(pr.Value) > 0 {
				b = append(b, ' ')
				b = appendHexSpaced(b, pr.Value)
			}
		}
	case len(c.Data) > 0:
		b = append(b, ": "...)
		b = appendQuoted(b, c.Data)
		b = append(b, ' ')
		b = appendHexSpaced(b, c.Data)
	}
	b = append(b, " (size "...)
	b = strconv.AppendUint(b, c.Size, 10)
	if c.Truncated {
		b = append(b, ", cut"...)
	}
	return append(b, ')')
}

func appendMessage(b []byte, m *zmtp.Message) []byte {
	b = append(b, "message"...)
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
		b = appendQuoted(b, f.Data)
		if len(f.Data) > 0 {
			b = append(b, ' ')
			b = appendHexSpaced(b, f.Data)
		}
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

// Flush implements Printer.
func (p *Text) Flush() error { return p.w.Flush() }
