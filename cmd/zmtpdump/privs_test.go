package main

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"kernel.org/pub/linux/libs/security/libcap/cap"
)

// TestKeepCaps: what a capture keeps after attaching, per command line.
func TestKeepCaps(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []cap.Value
	}{
		{[]string{"-i", "lo"}, []cap.Value{cap.BPF}},
		{[]string{"-i", "eth0", "-i", "lo", "--comm", "x"}, []cap.Value{cap.BPF}},
		{[]string{"-i", "lo", "--netns", "/var/run/netns/a"}, []cap.Value{cap.BPF}},
		{[]string{"-i", "lo", "--pid", "1"}, []cap.Value{cap.BPF, cap.SYS_PTRACE, cap.DAC_READ_SEARCH}},
		{[]string{"-i", "any"}, []cap.Value{cap.BPF, cap.NET_ADMIN, cap.NET_RAW, cap.PERFMON}},
		{[]string{"-i", "any", "--netns", "/var/run/netns/a"}, []cap.Value{cap.BPF, cap.NET_ADMIN, cap.NET_RAW, cap.PERFMON, cap.SYS_ADMIN}},
		{[]string{"-i", "any", "--pid", "1"}, []cap.Value{cap.BPF, cap.SYS_PTRACE, cap.DAC_READ_SEARCH, cap.NET_ADMIN, cap.NET_RAW, cap.PERFMON, cap.SYS_ADMIN}},
	} {
		cfg, err := parse(tt.args...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		got := keepCaps(&cfg)
		slices.Sort(got)
		slices.Sort(tt.want)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v: (-want +got)\n%s", tt.args, diff)
		}
	}
}

// TestPermittedKeep: a process granted CAP_SYS_ADMIN in place of CAP_BPF
// (or CAP_NET_ADMIN, CAP_PERFMON for -i any) keeps it, since it does their
// work; one that holds them drops it.
func TestPermittedKeep(t *testing.T) {
	held := func(vs ...cap.Value) func(cap.Value) bool {
		return func(v cap.Value) bool { return slices.Contains(vs, v) }
	}
	follow := []cap.Value{cap.BPF, cap.NET_ADMIN, cap.NET_RAW, cap.PERFMON}
	for _, tt := range []struct {
		name string
		keep []cap.Value
		held func(cap.Value) bool
		want []cap.Value
	}{
		{"root", []cap.Value{cap.BPF}, held(cap.BPF, cap.SYS_ADMIN, cap.NET_ADMIN), []cap.Value{cap.BPF}},
		{"sys_admin for bpf", []cap.Value{cap.BPF}, held(cap.SYS_ADMIN, cap.NET_ADMIN), []cap.Value{cap.SYS_ADMIN}},
		{"sys_admin for perfmon", follow, held(cap.BPF, cap.NET_ADMIN, cap.NET_RAW, cap.SYS_ADMIN), []cap.Value{cap.BPF, cap.NET_ADMIN, cap.NET_RAW, cap.SYS_ADMIN}},
		{"neither", []cap.Value{cap.BPF}, held(cap.NET_ADMIN), nil},
		{"ptrace missing", []cap.Value{cap.BPF, cap.SYS_PTRACE}, held(cap.BPF, cap.SYS_ADMIN), []cap.Value{cap.BPF}},
	} {
		got := permittedKeep(tt.keep, tt.held)
		slices.Sort(got)
		slices.Sort(tt.want)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tt.name, diff)
		}
	}
}
