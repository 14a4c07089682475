package output

import "github.com/zmtpdump/zmtpdump/segment"

// ANSI SGR colours used by the text printer.
const (
	colorReset   = "\x1b[0m"
	colorRed     = "\x1b[31m"
	colorGreen   = "\x1b[32m"
	colorYellow  = "\x1b[33m"
	colorBlue    = "\x1b[34m"
	colorMagenta = "\x1b[35m"
	colorCyan    = "\x1b[36m"
	colorDim     = "\x1b[2m"
	colorBold    = "\x1b[1m"
)

// paint appends code when colours are on.
func (p *Text) paint(b []byte, code string) []byte {
	if !p.color {
		return b
	}
	return append(b, code...)
}

// unpaint ends a colour started with paint.
func (p *Text) unpaint(b []byte) []byte { return p.paint(b, colorReset) }

// fromColor is the colour of the endpoints of an event sent by f.
func fromColor(f segment.Dir) string {
	if f == segment.ClientToServer {
		return colorCyan
	}
	return colorMagenta
}
