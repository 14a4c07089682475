package loader

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// TestRefusals checks the messages for kernels and processes that cannot
// capture. (A kernel without ring buffers cannot be booted here: Debian 12
// has none older than 6.1; the probe's answer is what cilium/ebpf returns
// there, ErrNotSupported.)
func TestRefusals(t *testing.T) {
	if err := ringbufUnavailable(nil); err != nil {
		t.Errorf("ring buffers available: %v", err)
	}
	err := ringbufUnavailable(fmt.Errorf("detect support for RingBuf: %w", ebpf.ErrNotSupported))
	if err == nil || !strings.Contains(err.Error(), "this kernel has no BPF ring buffer (needs Linux 5.8 or later)") {
		t.Errorf("old kernel: %v", err)
	}
	err = ringbufUnavailable(fmt.Errorf("detect support for RingBuf: %w", unix.EPERM))
	if !errors.Is(err, ErrPermission) {
		t.Errorf("no privileges: %v, want ErrPermission", err)
	}
	if err := permissionError("attach", errors.New("boom")); errors.Is(err, ErrPermission) {
		t.Errorf("a non-permission error became one: %v", err)
	}
}

// TestTooLarge: an ENOMEM at SO_ATTACH_BPF says what limit it hit and what
// to do, and still wraps the kernel's error.
func TestTooLarge(t *testing.T) {
	err := tooLarge(`"eth0"`, unix.ENOMEM, 20480)
	for _, want := range []string{`"eth0"`, "net.core.optmem_max, 20480 bytes here", "shorten the expression", "sysctl -w net.core.optmem_max"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if !errors.Is(err, unix.ENOMEM) {
		t.Errorf("%v does not wrap ENOMEM", err)
	}
	if err := tooLarge(`"lo"`, unix.ENOMEM, 0); strings.Contains(err.Error(), "bytes here") {
		t.Errorf("unknown limit: %v", err)
	}
}
