package output

import (
	"fmt"
	"strconv"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Process is the local process that owns one end of a connection.
type Process struct {
	PID  int
	Comm string
	// ContainerID is the container's id when the process runs in one.
	ContainerID string
}

// Owners are the processes owning a connection's two ends, as seen from an
// event's source and destination; an unknown end is nil.
type Owners struct {
	Src, Dst *Process
}

// Owners implements Printer:
//
//	12:00:00.000000 127.0.0.1:53420 > 127.0.0.1:7001: process: zmqpeer[4242] -> zmqpeer[4240] container 4f6c1e2a9b8d
func (p *Text) Owners(l *Line) error {
	p.ipc = l.IPC
	defer func() { p.ipc = nil }()
	b := p.head(fromColor(segment.ClientToServer), l.Time, l.Src, l.Dst)
	b = append(b, "process: "...)
	b = appendProcess(b, l.Owners.Src)
	b = append(b, " -> "...)
	b = appendProcess(b, l.Owners.Dst)
	return p.line(b)
}

func appendProcess(b []byte, pr *Process) []byte {
	if pr == nil {
		return append(b, "(not local)"...)
	}
	b = AppendEscaped(b, pr.Comm)
	b = fmt.Appendf(b, "[%d]", pr.PID)
	if pr.ContainerID != "" {
		id := pr.ContainerID
		if len(id) > 12 {
			id = id[:12]
		}
		b = append(b, " container "...)
		b = AppendEscaped(b, id)
	}
	return b
}

// Owners implements Printer: JSON needs no line of its own, it puts
// "process" on every event of the connection (Line.Owners), so that each
// line stands alone in a log pipeline.
func (p *JSON) Owners(*Line) error { return nil }

// appendOwners appends `,"process":{"src":{...},"dst":{...}}` when an end
// is known.
func (p *JSON) appendOwners(b []byte) []byte {
	o := p.owners
	if o == nil || o.Src == nil && o.Dst == nil {
		return b
	}
	if o.Src != p.lastOwnSrc || o.Dst != p.lastOwnDst || p.lastOwnB == nil {
		p.lastOwnSrc, p.lastOwnDst = o.Src, o.Dst
		p.lastOwnB = appendOwnersJSON(p.lastOwnB[:0], o)
	}
	return append(b, p.lastOwnB...)
}

// appendOwnersJSON appends o's "process" member.
func appendOwnersJSON(b []byte, o *Owners) []byte {
	b = append(b, `,"process":{`...)
	sep := ""
	for _, e := range []struct {
		key string
		pr  *Process
	}{{"src", o.Src}, {"dst", o.Dst}} {
		if e.pr == nil {
			continue
		}
		b = append(b, sep...)
		sep = ","
		b = append(b, `"`+e.key+`":{"pid":`...)
		b = strconv.AppendInt(b, int64(e.pr.PID), 10)
		b = append(b, `,"comm":`...)
		b = appendJSONString(b, e.pr.Comm)
		if e.pr.ContainerID != "" {
			b = append(b, `,"container_id":`...)
			b = appendJSONString(b, e.pr.ContainerID)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}
