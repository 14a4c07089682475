package pcapfile

// AddInterface writes an Interface Description Block for ifc now, in the
// middle of the file: the packets of ifc.Index written after it refer to
// it, also when an earlier block had the same index (an interface renamed,
// or an index used again).
func (p *Writer) AddInterface(ifc Interface) error {
	_, err := p.addInterface(ifc)
	return err
}

// Knows reports whether the packets of an interface index have an
// Interface Description Block in the file already.
func (p *Writer) Knows(index int) bool {
	_, ok := p.ids[index]
	return ok
}

// Forget drops what the file knows of an interface index, so that the next
// packet or AddInterface of that index gets a block of its own: an
// interface vanished, and its index may be used again by another.
func (p *Writer) Forget(index int) { delete(p.ids, index) }
