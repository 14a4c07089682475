package output

import "io"

// Sizes of a lineBuf: it writes once it holds lineBufFlush bytes, and its
// first array has room for a line beyond that.
const (
	lineBufFlush = 64 << 10
	lineBufCap   = lineBufFlush + 4<<10
)

// lineBuf is a printer's output buffer. Lines are appended straight to it
// (start, then end), not built apart and copied in as into a bufio.Writer:
// on a burst of small messages that copy was a tenth of a line's cost. It
// writes whole lines only, once it holds lineBufFlush bytes or when
// flushed: a reader of a pipe never sees half a line before a flush. As a
// bufio.Writer, it keeps its first write error and returns it from then
// on, and a short write is io.ErrShortWrite. A lineBuf is not safe for
// concurrent use.
type lineBuf struct {
	w   io.Writer
	buf []byte // the lines not yet written
	err error
}

func newLineBuf(w io.Writer) *lineBuf { return &lineBuf{w: w, buf: make([]byte, 0, lineBufCap)} }

// start returns the buffer to append a line (or lines) to, then to hand to
// end. Until end, the buffer holds what it held: a line that is never
// ended is not written.
func (l *lineBuf) start() []byte { return l.buf }

// end takes b, the buffer start returned with lines appended, and writes
// it out if it holds lineBufFlush bytes or more.
func (l *lineBuf) end(b []byte) error {
	l.buf = b
	if len(b) < lineBufFlush {
		return l.err
	}
	return l.flush()
}

// flush writes out what the buffer holds.
func (l *lineBuf) flush() error {
	if l.err != nil {
		return l.err
	}
	if len(l.buf) == 0 {
		return nil
	}
	n, err := l.w.Write(l.buf)
	if err == nil && n < len(l.buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		l.err = err
	}
	l.buf = l.buf[:0]
	return err
}
