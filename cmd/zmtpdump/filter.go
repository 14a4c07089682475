package main

import (
	"fmt"

	"github.com/cilium/ebpf/asm"

	"github.com/zmtpdump/zmtpdump/filter"
	"github.com/zmtpdump/zmtpdump/pcapfile"
)

// filterSymbol is the kernel program's placeholder for the filter.
const filterSymbol = "zd_filter"

// kernelFilter compiles expr for the kernel, per link-layer header length.
func kernelFilter(expr string) func(l2len int) (asm.Instructions, error) {
	return func(l2len int) (asm.Instructions, error) {
		lt := filter.Ethernet
		if l2len == 0 {
			lt = filter.RawIP
		}
		prog, err := filter.Compile(expr, lt)
		if err != nil {
			return nil, err
		}
		return prog.EBPF(filterSymbol)
	}
}

// fileFilter matches the frames of a capture file against expr, compiling
// it once per link type met.
type fileFilter struct {
	expr  string
	progs map[pcapfile.LinkType]*filter.Program
}

func newFileFilter(expr string) *fileFilter {
	return &fileFilter{expr: expr, progs: make(map[pcapfile.LinkType]*filter.Program)}
}

func (f *fileFilter) match(lt pcapfile.LinkType, frame []byte) (bool, error) {
	prog := f.progs[lt]
	if prog == nil {
		flt, ok := lt.Filter()
		if !ok {
			return false, fmt.Errorf("filter expressions are not supported on link type %d", lt)
		}
		var err error
		if prog, err = filter.Compile(f.expr, flt); err != nil {
			return false, err
		}
		f.progs[lt] = prog
	}
	return prog.Match(frame), nil
}
