package learn

import (
	"fmt"
	"strings"

	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// timeCol is the width of the time column and the space after it.
const timeCol = 11

// AppendTo appends the diagram, every line ending in a newline, the last
// one empty.
func (l *Ladder) AppendTo(b []byte) []byte {
	rows := l.drawnRows()
	cname, sname := l.names()
	left := endpointLabel(cname, &l.summary.Sides[0].SocketType)
	right := endpointLabel(sname, &l.summary.Sides[1].SocketType)
	w := max(len(left)+len(right), 30)
	for _, r := range rows {
		w = max(w, len(r.label)+9)
	}
	b = append(b, "ladder: "...)
	b = append(b, cname...)
	b = append(b, " -> "...)
	b = append(b, sname...)
	b = append(b, ", "...)
	b = output.AppendVersion(b, &l.summary)
	if l.end != nil {
		b = append(b, ", "...)
		b = output.AppendEscaped(b, l.summary.End.String())
	}
	if l.latency != "" {
		b = append(b, ", latency "...)
		b = append(b, l.latency...)
	}
	b = append(b, '\n')
	b = fmt.Appendf(b, "%-*s%s%*s\n", timeCol, " time (s)", left, w+2-len(left), right)
	for _, r := range rows {
		b = l.appendRow(b, &r, w)
	}
	return append(b, '\n')
}

func endpointLabel(addr string, sockType *string) string {
	if *sockType == "" {
		return addr
	}
	return addr + " (" + string(output.AppendToken(nil, []byte(*sockType))) + ")"
}

// drawnRows labels the rows to draw: greeting pieces named by the fields
// they carry, runs of messages counted, the cap and the end.
func (l *Ladder) drawnRows() []ladderRow {
	var pieces [2]int
	for _, r := range l.rows {
		if r.kind == rowPiece && l.pieceLen(&r) > 0 {
			pieces[r.side]++
		}
	}
	var out []ladderRow
	var seen [2]int
	for _, r := range l.rows {
		switch r.kind {
		case rowPiece:
			n := l.pieceLen(&r)
			if n == 0 {
				continue
			}
			seen[r.side]++
			r.label = l.pieceLabel(&r, n, seen[r.side], pieces[r.side])
		case rowGreeting:
			if pieces[r.side] > 0 {
				continue
			}
			r.label = greetingLabel(&l.greet[r.side].g)
		case rowMessages:
			if r.count > 1 {
				kind := "messages"
				if r.encrypted {
					kind = "encrypted MESSAGEs"
				}
				r.label = fmt.Sprintf("%d %s (%s)", r.count, kind, output.Plural(r.bytes, "byte"))
			}
		}
		if len(r.label) > maxLabel {
			r.label = r.label[:maxLabel-3] + "..."
		}
		out = append(out, r)
	}
	if l.more > 0 {
		out = append(out, ladderRow{kind: rowEnd, label: fmt.Sprintf("... %s not drawn", output.Plural(l.more, "more event"))})
	}
	if l.end != nil {
		end := *l.end
		switch l.summary.End {
		case segment.Finished:
			end.label = "FIN both ways: closed"
			if l.ipc != nil { // a Unix stream socket has no FIN
				end.label = "both ends closed their sockets"
			}
			end.side = -1
		default:
			end.label = "end: " + end.label
		}
		out = append(out, end)
	}
	return out
}

// pieceLen is how many bytes of piece r belong to its side's greeting (all
// of them while the greeting is not known).
func (l *Ladder) pieceLen(r *ladderRow) int {
	g := &l.greet[r.side]
	if !g.known {
		return r.n
	}
	n := int(g.g.Len)
	if g.g.Major == 1 && g.g.Downgraded {
		n = 10 // the signature, which doubles as the identity frame's header
	}
	return max(0, min(r.off+r.n, n)-r.off)
}

// greetingField is a run of greeting bytes and what it holds.
type greetingField struct {
	from, to int
	name     string
}

func (l *Ladder) pieceLabel(r *ladderRow, n, i, of int) string {
	g := &l.greet[r.side]
	if !g.known {
		return fmt.Sprintf("greeting bytes %d-%d (%s)", r.off, r.off+n-1, output.Plural(uint64(n), "byte"))
	}
	if of == 1 {
		return greetingLabel(&g.g)
	}
	var names []string
	for _, f := range greetingFields(&g.g) {
		if f.from < r.off+n && f.to > r.off {
			names = append(names, f.name)
		}
	}
	return fmt.Sprintf("greeting %d/%d: %s (%s)", i, of, strings.Join(names, ", "), output.Plural(uint64(n), "byte"))
}

func greetingFields(g *zmtp.Greeting) []greetingField {
	sig := greetingField{0, 10, "signature"}
	switch {
	case g.Major >= 3:
		as := 0
		if g.AsServer {
			as = 1
		}
		return []greetingField{sig,
			{10, 11, fmt.Sprintf("major %d", g.Major)},
			{11, 12, fmt.Sprintf("minor %d", g.Minor)},
			{12, 32, string(output.AppendToken(nil, []byte(g.Mechanism)))},
			{32, 33, fmt.Sprintf("as-server %d", as)},
			{33, 64, "filler"}}
	case g.Major == 2:
		rev := fmt.Sprintf("revision %d", g.Revision)
		if g.Downgraded {
			rev = fmt.Sprintf("major %d, downgrading to 2.0", g.Revision)
		}
		return []greetingField{sig, {10, 11, rev},
			{11, 12, "socket type " + string(output.AppendToken(nil, []byte(g.SocketType)))}}
	}
	return []greetingField{{0, 10, "signature, a 1.0 identity frame header"}}
}

func greetingLabel(g *zmtp.Greeting) string {
	switch {
	case g.Major >= 3:
		return fmt.Sprintf("greeting ZMTP %d.%d %s", g.Major, g.Minor, output.AppendToken(nil, []byte(g.Mechanism)))
	case g.Major == 2 && g.Downgraded:
		return fmt.Sprintf("greeting ZMTP 2.0 %s (downgraded from %d)", output.AppendToken(nil, []byte(g.SocketType)), g.Revision)
	case g.Major == 2:
		return fmt.Sprintf("greeting ZMTP 2.0 %s", output.AppendToken(nil, []byte(g.SocketType)))
	case g.Downgraded:
		return "signature only: downgraded to ZMTP 1.0"
	}
	return "ZMTP 1.0: no greeting"
}

// appendRow draws one row between lifelines w columns apart.
func (l *Ladder) appendRow(b []byte, r *ladderRow, w int) []byte {
	if r.kind == rowEnd && r.t.IsZero() {
		b = fmt.Appendf(b, "%*s", timeCol, "")
	} else {
		b = fmt.Appendf(b, "%9.3f  ", r.t.Sub(l.start).Seconds())
	}
	b = append(b, '|')
	label := r.label
	switch {
	case r.kind == rowEnd && r.side < 0: // both ways
		b = append(b, "<-- "...)
		b = append(b, label...)
		b = append(b, ' ')
		b = appendRepeat(b, '-', w-len(label)-6)
		b = append(b, '>')
	case r.kind == rowEnd:
		pad := w - len(label) - 2
		b = appendRepeat(b, '=', pad/2)
		b = append(b, ' ')
		b = append(b, label...)
		b = append(b, ' ')
		b = appendRepeat(b, '=', pad-pad/2)
	case r.side == 0:
		b = append(b, "--- "...)
		b = append(b, label...)
		b = append(b, ' ')
		b = appendRepeat(b, '-', w-len(label)-6)
		b = append(b, '>')
	default:
		b = append(b, "<-- "...)
		b = append(b, label...)
		b = append(b, ' ')
		b = appendRepeat(b, '-', w-len(label)-5)
	}
	return append(b, "|\n"...)
}

func appendRepeat(b []byte, c byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, c)
	}
	return b
}

// names returns the ends' names: SetIPC's, or the addresses.
func (l *Ladder) names() (client, server string) {
	return output.EndName(l.client, l.ipc), output.EndName(l.server, l.ipc)
}

// SetIPC names the ends of an ipc:// connection by process and path (see
// output.AppendEnd) instead of their synthetic addresses.
func (l *Ladder) SetIPC(ipc *segment.IPC) { l.ipc = ipc }
