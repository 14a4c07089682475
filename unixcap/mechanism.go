package unixcap

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/internal/kernel"
)

// errNoBTF is haveBTF's error when the kernel lacks what MechanismBTF
// needs (rather than refusing it).
var errNoBTF = errors.New("no BTF tracepoint sock_send_length (Linux 6.3+)")

// haveBTF reports whether this kernel and architecture have what
// MechanismBTF needs: the BTF tracepoint sock_send_length and x86-64 (the
// program reads x86-64 system call registers).
func haveBTF() error {
	if runtime.GOARCH != "amd64" {
		return fmt.Errorf("ipc capture: %s: x86-64 only: %w", MechanismBTF, errNoBTF)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("ipc capture: %s: kernel BTF: %v: %w", MechanismBTF, err, errNoBTF)
	}
	if _, err := spec.AnyTypeByName("btf_trace_sock_send_length"); err != nil {
		return fmt.Errorf("ipc capture: %s: %w", MechanismBTF, errNoBTF)
	}
	return nil
}

// kobjs are a mechanism's kernel objects: the maps userspace uses, the
// programs and how they are attached.
type kobjs struct {
	paths, events, counters *ebpf.Map
	// inofilter has a bit per path inode number (bpf/ipc_common.h).
	inofilter *ebpf.Map
	// generation, when the mechanism has one, is bumped after each change
	// of paths (it voids the kernel's cached verdicts).
	generation *ebpf.Map
	// progs are the programs by name (for Stats and tests).
	progs  map[string]*ebpf.Program
	attach func() error
	// closers free the objects and attachments, last first.
	closers []func() error
}

func (k *kobjs) close() error {
	var err error
	for i := len(k.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, k.closers[i]())
	}
	k.closers = nil
	return err
}

// sizeMaps sets the per-CPU scratch and the ring to their sizes, and
// when the kernel wakes the ring's reader.
func sizeMaps(spec *ebpf.CollectionSpec, cfg Config) error {
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("ipc capture: %w", err)
	}
	spec.Maps["scratch"].MaxEntries = uint32(ncpu)
	spec.Maps["events"].MaxEntries = uint32(cfg.RingSize)
	// As the packet capture's: a sixteenth of the ring, at most 2 MiB.
	if err := spec.Variables["ipc_wakeup_bytes"].Set(uint64(min(cfg.RingSize/16, 2<<20))); err != nil {
		return fmt.Errorf("ipc capture: ipc_wakeup_bytes: %w", err)
	}
	return nil
}

// loadBTF loads bpf/ipc_btf.c; attach attaches its one program.
func loadBTF(cfg Config) (*kobjs, error) {
	spec, err := bpf.LoadIpcBtf()
	if err != nil {
		return nil, fmt.Errorf("ipc capture: %s: %w", MechanismBTF, err)
	}
	if err := sizeMaps(spec, cfg); err != nil {
		return nil, err
	}
	var o bpf.IpcBtfObjects
	if err := spec.LoadAndAssign(&o, nil); err != nil {
		return nil, fmt.Errorf("ipc capture: %s: load: %w", MechanismBTF, kernel.Explain(err))
	}
	k := &kobjs{
		paths: o.Paths, events: o.Events, counters: o.Counters, inofilter: o.Inofilter,
		progs:   map[string]*ebpf.Program{"ipc_send": o.IpcSend},
		closers: []func() error{o.Close},
	}
	k.attach = func() error {
		l, err := link.AttachTracing(link.TracingOptions{Program: o.IpcSend})
		if err != nil {
			return fmt.Errorf("ipc capture: %s: attach: %w", MechanismBTF, kernel.Explain(err))
		}
		k.closers = append(k.closers, l.Close)
		return nil
	}
	return k, nil
}

// syscallPrograms maps each syscall tracepoint to its program in bpf/ipc.c
// (one program serves the four exits of sends).
func syscallPrograms(o *bpf.IpcObjects) map[string]*ebpf.Program {
	return map[string]*ebpf.Program{
		"sys_enter_write":   o.IpcEnterWrite,
		"sys_exit_write":    o.IpcExitSend,
		"sys_enter_writev":  o.IpcEnterWritev,
		"sys_exit_writev":   o.IpcExitSend,
		"sys_enter_sendto":  o.IpcEnterSendto,
		"sys_exit_sendto":   o.IpcExitSend,
		"sys_enter_sendmsg": o.IpcEnterSendmsg,
		"sys_exit_sendmsg":  o.IpcExitSend,
		"sys_enter_connect": o.IpcEnterConnect,
		"sys_exit_connect":  o.IpcExitConnect,
		"sys_exit_accept":   o.IpcExitAccept,
		"sys_exit_accept4":  o.IpcExitAccept4,
		"sys_enter_close":   o.IpcEnterClose,
	}
}

// loadSyscalls loads bpf/ipc.c; attach attaches it to the syscall
// tracepoints.
func loadSyscalls(cfg Config) (*kobjs, error) {
	spec, err := bpf.LoadIpc()
	if err != nil {
		return nil, fmt.Errorf("ipc capture: %w", err)
	}
	if err := sizeMaps(spec, cfg); err != nil {
		return nil, err
	}
	var o bpf.IpcObjects
	if err := spec.LoadAndAssign(&o, nil); err != nil {
		if m := kernel.Lockdown(); m == "confidentiality" {
			return nil, fmt.Errorf("ipc capture: kernel lockdown (%s) forbids the BPF reads of kernel memory it needs to resolve descriptors to sockets: %w", m, ErrUnavailable)
		}
		return nil, fmt.Errorf("ipc capture: load: %w", kernel.Explain(err))
	}
	tps := syscallPrograms(&o)
	k := &kobjs{
		paths: o.Paths, events: o.Events, counters: o.Counters, inofilter: o.Inofilter, generation: o.Generation,
		progs: map[string]*ebpf.Program{
			"ipc_enter_write": o.IpcEnterWrite, "ipc_enter_writev": o.IpcEnterWritev,
			"ipc_enter_sendto": o.IpcEnterSendto, "ipc_enter_sendmsg": o.IpcEnterSendmsg,
			"ipc_exit_send": o.IpcExitSend, "ipc_enter_connect": o.IpcEnterConnect,
			"ipc_exit_connect": o.IpcExitConnect, "ipc_exit_accept": o.IpcExitAccept,
			"ipc_exit_accept4": o.IpcExitAccept4, "ipc_enter_close": o.IpcEnterClose,
		},
		closers: []func() error{o.Close},
	}
	k.attach = func() error {
		names := make([]string, 0, len(tps))
		for n := range tps {
			names = append(names, n)
		}
		ids, err := tracepointIDs(names)
		if err != nil {
			return fmt.Errorf("ipc capture: %w", kernel.Explain(err))
		}
		// Exits first: an entry's state is never left without its exit.
		for _, pass := range []string{"sys_exit_", "sys_enter_"} {
			for n, p := range tps {
				if !strings.HasPrefix(n, pass) {
					continue
				}
				a, err := attachTracepoint(ids[n], p)
				if err != nil {
					return fmt.Errorf("ipc capture: tracepoint syscalls/%s: %w", n, kernel.Explain(err))
				}
				k.closers = append(k.closers, a.close)
			}
		}
		return nil
	}
	return k, nil
}
