package session

import (
	"errors"
	"syscall"
)

// isBrokenPipe reports a write to a closed pipe (zmtpdump | head).
func isBrokenPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }

// stdoutClosed handles a write error of the printer that says its reader
// went away (zmtpdump | head -1): nothing more is printed, as tcpdump does.
// Unless the sink was told to finish (-r with -w FILE: the file still gets
// every packet of the input), the error is kept, so that the source stops
// as at -c: the -w file is closed whole, the statistics go to stderr and
// zmtpdump exits 0. It reports whether err was that. The caller holds s.mu.
func (s *sink) stdoutClosed(err error) bool {
	if !isBrokenPipe(err) {
		return false
	}
	s.quiet = true
	if !s.finishOnClose && s.writeErr == nil {
		s.writeErr = err
		s.failed.Store(true)
	}
	return true
}
