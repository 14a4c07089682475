package session

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"kernel.org/pub/linux/libs/security/libcap/cap"

	"github.com/zmtpdump/zmtpdump/loader"
)

// TestKeepCaps: what a capture keeps after attaching, per command line
// (as the command resolves it).
func TestKeepCaps(t *testing.T) {
	// live is the Config of a live capture on ifaces, as the command
	// makes it: --pid N captures in /proc/N/ns/net.
	live := func(pid int, netns string, ifaces ...string) *Config {
		return &Config{PID: pid, Loader: loader.Config{Interfaces: ifaces, Netns: netns}}
	}
	for _, tt := range []struct {
		args string
		cfg  *Config
		want []cap.Value
	}{
		{"-i lo", live(0, "", "lo"), []cap.Value{cap.BPF}},
		{"-i eth0 -i lo --comm x", &Config{Comm: "x", Loader: loader.Config{Interfaces: []string{"eth0", "lo"}}}, []cap.Value{cap.BPF}},
		{"-i lo --netns /var/run/netns/a", live(0, "/var/run/netns/a", "lo"), []cap.Value{cap.BPF}},
		{"-i lo --pid 1", live(1, "/proc/1/ns/net", "lo"), []cap.Value{cap.BPF, cap.SYS_PTRACE, cap.DAC_READ_SEARCH}},
		{"-i lo --metrics :9464", &Config{Metrics: ":9464", Loader: loader.Config{Interfaces: []string{"lo"}}}, []cap.Value{cap.BPF}},
		{"-i lo --metrics :9464 --metrics-pod-labels", &Config{Metrics: ":9464", MetricsPodLabels: true, Loader: loader.Config{Interfaces: []string{"lo"}}}, []cap.Value{cap.BPF, cap.SYS_PTRACE, cap.DAC_READ_SEARCH}},
		{"-i any", live(0, "", "any"), []cap.Value{cap.BPF, cap.NET_ADMIN, cap.NET_RAW, cap.PERFMON}},
		{"-i any --netns /var/run/netns/a", live(0, "/var/run/netns/a", "any"), []cap.Value{cap.BPF, cap.NET_ADMIN, cap.NET_RAW, cap.PERFMON, cap.SYS_ADMIN}},
		{"-i any --pid 1", live(1, "/proc/1/ns/net", "any"), []cap.Value{cap.BPF, cap.SYS_PTRACE, cap.DAC_READ_SEARCH, cap.NET_ADMIN, cap.NET_RAW, cap.PERFMON, cap.SYS_ADMIN}},
	} {
		got := keepCaps(tt.cfg)
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
