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
