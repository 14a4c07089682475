package output

import (
	"bufio"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// JSON prints one JSON object per line (JSON Lines). Every object has "ts"
// (RFC 3339 with nanoseconds, UTC), "src", "dst" and "event"; see the README
// for the keys of each event.
type JSON struct {
	w   *bufio.Writer
	buf []byte
}

// NewJSON returns a JSON Lines Printer writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{w: bufio.NewWriter(w)} }

const rfc3339Nano = "2006-01-02T15:04:05.000000000Z07:00"

func (p *JSON) head(t time.Time, src, dst netip.AddrPort, event string) []byte {
	b := append(p.buf[:0], `{"ts":"`...)
	b = t.UTC().AppendFormat(b, rfc3339Nano)
	b = append(b, `","src":"`...)
	b = src.AppendTo(b)
	b = append(b, `","dst":"`...)
	b = dst.AppendTo(b)
	b = append(b, `","event":"`...)
	b = append(b, event...)
	return append(b, '"')
}

func (p *JSON) line(b []byte) error {
	b = append(b, '}', '\n')
	p.buf = b[:0]
	_, err := p.w.Write(b)
	return err
}

// TCP implements Printer.
func (p *JSON) TCP(seg *capture.Segment) error {
	b := p.head(seg.Time, seg.Src, seg.Dst, "tcp")
	b = append(b, `,"flags":[`...)
	for i, f := range capture.FlagNames(seg.Flags) {
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
	return p.line(b)
}

// Gap implements Printer.
func (p *JSON) Gap(t time.Time, src, dst netip.AddrPort, n uint64) error {
	b := p.head(t, src, dst, "gap")
	b = append(b, `,"bytes":`...)
	b = strconv.AppendUint(b, n, 10)
	return p.line(b)
}

// Event implements Printer.
func (p *JSON) Event(t time.Time, src, dst netip.AddrPort, ev zmtp.Event) error {
	var b []byte
	switch e := ev.(type) {
	case *zmtp.Greeting:
		b = p.head(t, src, dst, "greeting")
		b = append(b, `,"version":"`...)
		b = strconv.AppendUint(b, uint64(e.Major), 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(e.Minor), 10)
		b = append(b, `","mechanism":`...)
		b = appendJSONString(b, e.Mechanism)
		b = append(b, `,"as_server":`...)
		b = strconv.AppendBool(b, e.AsServer)
		b = append(b, `,"signature_hex":"`...)
		b = appendHex(b, e.Signature[:])
		b = append(b, '"')
	case *zmtp.Command:
		b = p.head(t, src, dst, "command")
		b = append(b, `,"name":`...)
		b = appendJSONString(b, e.Name)
		b = append(b, `,"size":`...)
		b = strconv.AppendUint(b, e.Size, 10)
		if e.Properties != nil || e.Name == "READY" || e.Name == "INITIATE" {
			b = append(b, `,"properties":[`...)
			for i, pr := range e.Properties {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"name":`...)
				b = appendJSONString(b, string(pr.Name))
				b = append(b, `,"value_hex":"`...)
				b = appendHex(b, pr.Value)
				b = append(b, `"}`...)
			}
			b = append(b, ']')
		}
		if e.Name == "ERROR" {
			b = append(b, `,"reason":`...)
			b = appendJSONString(b, string(e.Reason))
		}
		if e.Properties == nil && e.Name != "ERROR" {
			b = append(b, `,"data_hex":"`...)
			b = appendHex(b, e.Data)
			b = append(b, '"')
		}
		b = append(b, `,"truncated":`...)
		b = strconv.AppendBool(b, e.Truncated)
	case *zmtp.Message:
		b = p.head(t, src, dst, "message")
		b = append(b, `,"frames":[`...)
		for i := range e.Frames {
			f := &e.Frames[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"size":`...)
			b = strconv.AppendUint(b, f.Size, 10)
			b = append(b, `,"data_hex":"`...)
			b = appendHex(b, f.Data)
			b = append(b, `","truncated":`...)
			b = strconv.AppendBool(b, f.Truncated())
			b = append(b, `,"more":`...)
			b = strconv.AppendBool(b, f.More)
			b = append(b, '}')
		}
		b = append(b, `],"frames_omitted":`...)
		b = strconv.AppendInt(b, int64(e.FramesOmitted), 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendUint(b, e.Bytes, 10)
	case *zmtp.Gap:
		b = p.head(t, src, dst, "gap")
		b = append(b, `,"bytes":`...)
		b = strconv.AppendUint(b, e.Bytes, 10)
	case *zmtp.Error:
		b = p.head(t, src, dst, "error")
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, e.Reason())
	default:
		return nil
	}
	b = append(b, `,"offset":`...)
	b = strconv.AppendUint(b, ev.EventHeader().Offset, 10)
	return p.line(b)
}

// Flush implements Printer.
func (p *JSON) Flush() error { return p.w.Flush() }
