package main

import (
	"fmt"

	"github.com/zmtpdump/zmtpdump/filter"
	"github.com/zmtpdump/zmtpdump/pcapfile"
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
