package session

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// keepCaps lists the capabilities a live capture still needs once it is
// attached (see dropPrivileges):
//   - CAP_BPF, always: the kernel's counters, the frame boundaries written
//     back into kernel-side framing and the process tracker's map are read
//     and written with bpf(2), which before Linux 6.5 refuses every
//     command, map reads too, without it where unprivileged BPF is off
//     (Debian's default);
//   - with --pid, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: the owners of
//     sockets older than the capture are found in /proc/PID/fd, which
//     another process may list only with them; with --metrics-pod-labels
//     the same two, for another process's /proc/PID/ns/uts and the files
//     under its /proc/PID/root (session/pods.go);
//   - with -i any, which attaches to interfaces as they come up:
//     CAP_NET_ADMIN (TCX), CAP_NET_RAW (packet sockets), CAP_PERFMON (the
//     programs are verified as at the start) and, capturing in another
//     network namespace, CAP_SYS_ADMIN to enter it.
//
// Reading the ring buffer needs nothing: its memory is mapped already.
//
// Where a process was granted CAP_SYS_ADMIN in place of CAP_BPF,
// CAP_NET_ADMIN or CAP_PERFMON (the kernel, and the start-up check, take
// it for any of them), it is what does their work: kept is what
// permittedKeep makes of keepCaps for the capabilities held.
func keepCaps(cfg *Config) []cap.Value {
	keep := []cap.Value{cap.BPF}
	if cfg.PID > 0 || cfg.Metrics != "" && cfg.MetricsPodLabels {
		keep = append(keep, cap.SYS_PTRACE, cap.DAC_READ_SEARCH)
	}
	if len(cfg.IPC) > 0 && !slices.Contains(keep, cap.DAC_READ_SEARCH) {
		// --ipc's globs are resolved again every second: stat(2) of
		// paths in directories only their owner may search.
		keep = append(keep, cap.DAC_READ_SEARCH)
	}
	if slices.Contains(cfg.Loader.Interfaces, "any") {
		keep = append(keep, cap.NET_ADMIN, cap.NET_RAW, cap.PERFMON)
		if cfg.Loader.Netns != "" { // --netns, or --pid's namespace
			keep = append(keep, cap.SYS_ADMIN)
		}
	}
	return keep
}

// permittedKeep returns those of keep that permitted reports held, plus
// CAP_SYS_ADMIN when one of keep that it stands in for (CAP_BPF,
// CAP_NET_ADMIN, CAP_PERFMON) is not held and it is: dropping it then
// would leave bpf(2) or the attaching refused for the rest of the run.
func permittedKeep(keep []cap.Value, permitted func(cap.Value) bool) []cap.Value {
	var out []cap.Value
	admin := false
	for _, v := range keep {
		switch {
		case permitted(v):
			out = append(out, v)
		case v == cap.BPF || v == cap.NET_ADMIN || v == cap.PERFMON:
			admin = true
		}
	}
	if admin && permitted(cap.SYS_ADMIN) && !slices.Contains(out, cap.SYS_ADMIN) {
		out = append(out, cap.SYS_ADMIN)
	}
	return out
}

// dropPrivileges gives up, once the capture is attached and its files are
// open, every capability the rest of the run does not need (keepCaps),
// from the effective, permitted and inheritable sets of every thread, and
// from the bounding set when CAP_SETPCAP allows, and sets no_new_privs: the
// wire parsing that follows never runs with full root powers, and nothing
// zmtpdump could be made to execute would regain them. tcpdump's -Z is the
// precedent. The process keeps its user (root): files root owns stay
// writable to it.
//
// Every thread: capabilities and no_new_privs belong to threads, and the
// Go runtime runs goroutines on several; libcap's cap package changes them
// all at once (through psx: the runtime's AllThreadsSyscall without cgo).
func dropPrivileges(cfg *Config) error {
	have := cap.GetProc()
	keep := permittedKeep(keepCaps(cfg), func(v cap.Value) bool {
		on, err := have.GetFlag(cap.Permitted, v)
		return err == nil && on
	})
	want := cap.NewSet()
	for _, v := range keep {
		if err := want.SetFlag(cap.Permitted, true, v); err != nil {
			return fmt.Errorf("drop privileges: %w", err)
		}
		if err := want.SetFlag(cap.Effective, true, v); err != nil {
			return fmt.Errorf("drop privileges: %w", err)
		}
	}
	if _, err := cap.Prctlw(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("drop privileges: set no_new_privs: %w", err)
	}
	// The bounding set first: dropping from it needs CAP_SETPCAP, which
	// goes next. Without it (a container granted a short list) the
	// bounding set is left as it is: no_new_privs already keeps an
	// executed program from gaining capabilities.
	if on, _ := have.GetFlag(cap.Effective, cap.SETPCAP); on {
		var drop []cap.Value
		for v := range cap.MaxBits() {
			if !slices.Contains(keep, v) {
				if b, err := cap.GetBound(v); err == nil && b {
					drop = append(drop, v)
				}
			}
		}
		if err := cap.DropBound(drop...); err != nil {
			return fmt.Errorf("drop privileges: bounding set: %w", err)
		}
	}
	if err := cap.ResetAmbient(); err != nil {
		return fmt.Errorf("drop privileges: ambient set: %w", err)
	}
	if err := want.SetProc(); err != nil {
		return fmt.Errorf("drop privileges: keep only %v: %w", want, err)
	}
	return nil
}
