package kernel

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ErrPermission marks errors caused by missing privileges.
var ErrPermission = errors.New("permission denied: run as root, or with CAP_BPF and CAP_NET_ADMIN (and CAP_NET_RAW for --backend socket)")

// Explain shortens the usual failures of a probe or a load: the kernel
// lacks the feature (ebpf.ErrNotSupported), or the process lacks the
// privileges (then it wraps ErrPermission and names the capabilities a
// capture needs that are missing).
func Explain(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("not supported by this kernel: %w", err)
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		if m := MissingCaptureCaps(); m != "" {
			return fmt.Errorf("%w; missing %s", ErrPermission, m)
		}
		return fmt.Errorf("%w (%v)", ErrPermission, err)
	}
	return err
}
