package main

import (
	"errors"
	"syscall"
)

// isBrokenPipe reports a write to a closed pipe (zmtpdump | head).
func isBrokenPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }
