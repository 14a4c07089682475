package unixcap

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// tracefsDirs are where tracefs is usually mounted.
var tracefsDirs = [...]string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// tracepointIDs returns the perf event ids of the syscalls tracepoints
// named (as "sys_enter_write"). It reads them from a mounted tracefs or,
// when none is mounted (containers, minimal systems), from a private mount
// it removes at once: the ids stay valid while the kernel runs, and
// nothing of it is left behind.
func tracepointIDs(names []string) (map[string]uint64, error) {
	dir := ""
	for _, d := range tracefsDirs {
		if _, err := os.Stat(filepath.Join(d, "events/syscalls")); err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "zmtpdump-tracefs-")
		if err != nil {
			return nil, fmt.Errorf("tracefs: %w", err)
		}
		defer os.Remove(tmp)
		if err := unix.Mount("nodev", tmp, "tracefs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return nil, fmt.Errorf("tracefs is not mounted and mounting it failed: %w", err)
		}
		defer unix.Unmount(tmp, unix.MNT_DETACH)
		dir = tmp
	}
	ids := make(map[string]uint64, len(names))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, "events/syscalls", n, "id"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("tracepoint syscalls/%s: none (CONFIG_FTRACE_SYSCALLS not set?): %w", n, ebpf.ErrNotSupported)
			}
			return nil, fmt.Errorf("tracepoint syscalls/%s: %w", n, err)
		}
		id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("tracepoint syscalls/%s: id %q: %w", n, b, err)
		}
		ids[n] = id
	}
	return ids, nil
}

// tpAttachment is one program attached to one tracepoint: a perf event
// file descriptor and, where the kernel has them (5.15), a bpf_link; both
// go with the process, so nothing outlives it, SIGKILL included.
type tpAttachment struct {
	pe   int
	link *link.RawLink // nil when attached by ioctl
}

func (a *tpAttachment) close() error {
	var err error
	if a.link != nil {
		err = a.link.Close()
	}
	if a.pe >= 0 {
		err = errors.Join(err, unix.Close(a.pe))
		a.pe = -1
	}
	return err
}

// attachTracepoint opens the tracepoint id as a perf event of every task
// and attaches prog to it.
func attachTracepoint(id uint64, prog *ebpf.Program) (*tpAttachment, error) {
	attr := unix.PerfEventAttr{
		Type:        unix.PERF_TYPE_TRACEPOINT,
		Config:      id,
		Size:        uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample_type: unix.PERF_SAMPLE_RAW,
		Sample:      1,
		Wakeup:      1,
	}
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("perf_event_open: %w", err)
	}
	a := &tpAttachment{pe: fd}
	l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
	if err == nil {
		a.link = l
		return a, nil
	}
	// Before 5.15: the ioctls.
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
		a.close()
		return nil, fmt.Errorf("attach: %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
		a.close()
		return nil, fmt.Errorf("enable: %w", err)
	}
	return a, nil
}
