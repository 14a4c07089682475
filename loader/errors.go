package loader

import (
	"errors"
	"fmt"
	"os"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/internal/kernel"
)

// ringbufUnavailable turns the ring buffer probe's answer into the error
// a user reads, or nil when ring buffers work.
func ringbufUnavailable(probe error) error {
	switch {
	case probe == nil:
		return nil
	case errors.Is(probe, ebpf.ErrNotSupported):
		return fmt.Errorf("this kernel has no BPF ring buffer (needs Linux 5.8 or later): %w", probe)
	}
	return permissionError("probe for BPF ring buffers", probe)
}

// ErrPermission marks errors caused by missing privileges.
var ErrPermission = kernel.ErrPermission

// permissionError turns EPERM and EACCES into ErrPermission with context,
// naming the capabilities this process lacks.
func permissionError(what string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) || errors.Is(err, os.ErrPermission) {
		if m := kernel.MissingCaptureCaps(); m != "" {
			return fmt.Errorf("%s: %w; missing %s", what, ErrPermission, m)
		}
		return fmt.Errorf("%s: %w (%v)", what, ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
