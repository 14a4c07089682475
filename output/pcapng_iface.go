package output

// AddInterface writes an Interface Description Block for ifc now, in the
// middle of the file: the packets of ifc.Index written after it refer to
// it, also when an earlier block had the same index (an interface renamed,
// or an index used again).
func (p *Pcapng) AddInterface(ifc Interface) error {
	_, err := p.addInterface(ifc)
	return err
}

// Knows reports whether the packets of an interface index have an
// Interface Description Block in the file already.
func (p *Pcapng) Knows(index int) bool {
	_, ok := p.ids[index]
	return ok
}
