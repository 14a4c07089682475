package kernel

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// MonotonicBase returns the wall-clock time at which CLOCK_MONOTONIC, the
// clock of bpf_ktime_get_ns, read zero.
func MonotonicBase() (time.Time, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Time{}, fmt.Errorf("read CLOCK_MONOTONIC: %w", err)
	}
	return time.Now().Add(-time.Duration(ts.Nano())), nil
}
