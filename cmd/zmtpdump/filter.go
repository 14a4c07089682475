package main

import (
	"fmt"

	"github.com/zmtpdump/zmtpdump/filter"
)

// kernelFilter compiles expr for the kernel, per link type of the
// interfaces captured on.
func kernelFilter(expr string) func(lt filter.LinkType) (*filter.Program, error) {
	return func(lt filter.LinkType) (*filter.Program, error) { return filter.Compile(expr, lt) }
}

// fileFilter matches the frames of a capture file against expr, compiling
// it once per link type met.
type fileFilter struct {
	expr  string
	progs map[int]*filter.Program
}

func newFileFilter(expr string) *fileFilter {
	return &fileFilter{expr: expr, progs: make(map[int]*filter.Program)}
}

// Link types of capture files (https://www.tcpdump.org/linktypes.html).
var fileLinkTypes = map[int]filter.LinkType{
	1: filter.Ethernet, 101: filter.RawIP, 12: filter.RawIP, 14: filter.RawIP,
	228: filter.RawIP, 229: filter.RawIP, 113: filter.LinuxSLL, 276: filter.LinuxSLL2,
}

func (f *fileFilter) match(lt int, frame []byte) (bool, error) {
	prog := f.progs[lt]
	if prog == nil {
		flt, ok := fileLinkTypes[lt]
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
