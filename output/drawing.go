package output

// LadderAware is implemented by printers that can write a drawn ladder
// diagram (--ladder; learn.Ladder.AppendTo draws it).
type LadderAware interface {
	// Drawing writes b, a diagram drawn once its connection has ended:
	// lines ending in a newline, the last one empty.
	Drawing(b []byte) error
}

// Drawing implements LadderAware: the diagram follows the connection's
// summary line. The labels quote what they take from the wire; escaping
// the whole drawing again keeps any byte a label forgot off the terminal.
func (p *Text) Drawing(b []byte) error {
	_, err := p.w.Write(appendPrintable(nil, string(b), true))
	return err
}
