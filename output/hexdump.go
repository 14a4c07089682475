package output

import (
	"fmt"

	"github.com/zmtpdump/zmtpdump/zmtp"
)

// appendHexDump appends p as tcpdump -X does, 16 bytes a line, each line
// indented with a tab and ended with a newline:
//
//	\t0x0000:  4865 6c6c 6f                             Hello
func appendHexDump(b, p []byte) []byte {
	const perLine = 16
	for off := 0; off < len(p); off += perLine {
		line := p[off:min(off+perLine, len(p))]
		b = fmt.Appendf(b, "\t0x%04x: ", off)
		n := 0
		for i := 0; i < len(line); i += 2 {
			b = append(b, ' ', hexDigits[line[i]>>4], hexDigits[line[i]&0xf])
			n += 3
			if i+1 < len(line) {
				b = append(b, hexDigits[line[i+1]>>4], hexDigits[line[i+1]&0xf])
				n += 2
			}
		}
		for ; n < 40+2; n++ {
			b = append(b, ' ')
		}
		for _, c := range line {
			if c < 0x20 || c >= 0x7f {
				c = '.'
			}
			b = append(b, c)
		}
		b = append(b, '\n')
	}
	return b
}

// appendDumps appends, for -X, the dumps of the bytes an event kept: each
// frame of a message (under a "frame N/M" line when there are several),
// the data of a command (a PLAIN password hidden unless secrets are shown),
// an identity.
func (p *Text) appendDumps(b []byte, ev zmtp.Event) []byte {
	switch e := ev.(type) {
	case *zmtp.Message:
		n := len(e.Frames) + e.FramesOmitted
		for i := range e.Frames {
			f := &e.Frames[i]
			if n > 1 {
				b = fmt.Appendf(b, "\tframe %d/%d (%d bytes", i+1, n, f.Size)
				if f.Truncated() {
					b = fmt.Appendf(b, ", %d shown", len(f.Data))
				}
				b = append(b, "):\n"...)
			}
			b = appendHexDump(b, f.Data)
		}
	case *zmtp.Command:
		b = appendHexDump(b, p.commandData(e))
	case *zmtp.Identity:
		b = appendHexDump(b, e.Data)
	}
	return b
}
