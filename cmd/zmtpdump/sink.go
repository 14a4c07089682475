package main

import (
	"net/netip"
	"sync"
	"time"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// sink is where sessions and the reader print, and what they count. It is
// safe for concurrent use: under a sharded assembler, sessions of different
// connections run on different goroutines. The lock is taken per printed
// line, never per packet unless -v prints every packet.
type sink struct {
	mu       sync.Mutex
	out      output.Printer
	packets  uint64
	events   uint64
	writeErr error
}

func (s *sink) note(err error) {
	if err != nil && s.writeErr == nil {
		s.writeErr = err
	}
}

// event prints a ZMTP event; counted says whether it counts as decoded.
func (s *sink) event(t time.Time, src, dst netip.AddrPort, ev zmtp.Event, counted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if counted {
		s.events++
	}
	s.note(s.out.Event(t, src, dst, ev))
}

func (s *sink) gap(t time.Time, src, dst netip.AddrPort, n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.note(s.out.Gap(t, src, dst, n))
}

// packet counts a captured segment and prints it when verbose.
func (s *sink) packet(seg *capture.Segment, verbose bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packets++
	if verbose {
		s.note(s.out.TCP(seg))
	}
}

func (s *sink) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.note(s.out.Flush())
	return s.writeErr
}

// totals returns the counts and the first write error.
func (s *sink) totals() (packets, events uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.packets, s.events, s.writeErr
}
