package bpf

import (
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// kernelRead reports whether fn reads kernel memory, which
// confidentiality lockdown refuses.
func kernelRead(fn asm.BuiltinFunc) bool {
	switch fn {
	case asm.FnProbeRead, asm.FnProbeReadStr, asm.FnProbeReadKernel, asm.FnProbeReadKernelStr:
		return true
	}
	return false
}

// helperCalls counts the calls of each helper in spec's programs.
func helperCalls(t *testing.T, spec *ebpf.CollectionSpec) map[asm.BuiltinFunc]int {
	t.Helper()
	calls := map[asm.BuiltinFunc]int{}
	for _, p := range spec.Programs {
		for _, ins := range p.Instructions {
			if ins.IsBuiltinCall() {
				calls[asm.BuiltinFunc(ins.Constant)]++
			}
		}
	}
	return calls
}

// TestIpcBtfNoKernelReads: ipc_btf.c reads kernel memory by BTF loads only
// (it must load under confidentiality lockdown) and attaches to no syscall
// tracepoint; ipc.c, which does both, shows the checks see them.
func TestIpcBtfNoKernelReads(t *testing.T) {
	btfSpec, err := LoadIpcBtf()
	if err != nil {
		t.Fatal(err)
	}
	sysSpec, err := LoadIpc()
	if err != nil {
		t.Fatal(err)
	}
	got := helperCalls(t, btfSpec)
	for fn, n := range got {
		if kernelRead(fn) {
			t.Errorf("ipc_btf.c calls %v %d times", fn, n)
		}
	}
	if got[asm.FnProbeReadUser] == 0 || got[asm.FnTaskPtRegs] == 0 || got[asm.FnSkcToUnixSock] == 0 {
		t.Errorf("ipc_btf.c's helper calls %v: want probe_read_user, task_pt_regs and skc_to_unix_sock", got)
	}
	for name, p := range btfSpec.Programs {
		if p.SectionName != "tp_btf/sock_send_length" {
			t.Errorf("ipc_btf.c program %s in section %s, want only tp_btf/sock_send_length", name, p.SectionName)
		}
	}
	sys := 0
	for fn, n := range helperCalls(t, sysSpec) {
		if kernelRead(fn) {
			sys += n
		}
	}
	if sys == 0 {
		t.Error("no kernel read found in ipc.c: the check finds nothing")
	}
	for _, p := range sysSpec.Programs {
		if !strings.HasPrefix(p.SectionName, "tracepoint/syscalls/") {
			t.Errorf("ipc.c section %s", p.SectionName)
		}
	}
}
