package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// TestDaemonSet decodes daemonset.yaml strictly into the Kubernetes API's
// DaemonSet (an unknown or misspelt field fails) and checks what matters:
// the node's network and PID namespaces, the capabilities and nothing
// more, count-only capture with metrics, and a pod on every node (the
// metrics port, probe and annotations: TestScrape).
func TestDaemonSet(t *testing.T) {
	var ds appsv1.DaemonSet
	decodeStrict(t, "daemonset.yaml", &ds)
	if ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" || ds.Name == "" {
		t.Errorf("apiVersion %q, kind %q, name %q", ds.APIVersion, ds.Kind, ds.Name)
	}
	sel, labels := ds.Spec.Selector, ds.Spec.Template.Labels
	if sel == nil || len(sel.MatchLabels) == 0 {
		t.Fatal("no selector")
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			t.Errorf("the selector %s=%s does not match the pod template's labels %v", k, v, labels)
		}
	}
	pod := ds.Spec.Template.Spec
	if !pod.HostNetwork || !pod.HostPID {
		t.Errorf("hostNetwork %v, hostPID %v: want both", pod.HostNetwork, pod.HostPID)
	}
	if !slices.ContainsFunc(pod.Tolerations, func(t corev1.Toleration) bool {
		return t.Operator == corev1.TolerationOpExists && t.Key == "" && t.Effect == ""
	}) {
		t.Error("no toleration of every taint: some nodes would run no zmtpdump")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image == "" {
		t.Error("no image")
	}
	if len(c.Command) != 0 {
		t.Errorf("command %q overrides the image's entrypoint", c.Command)
	}
	if !slices.Contains(c.Args, "-q") || slices.Contains(c.Args, "--json") {
		t.Errorf("args %q: want -q and no --json (count-only: the least CPU per message)", c.Args)
	}
	if argValue(c.Args, "--metrics") == "" {
		t.Errorf("args %q: want --metrics ADDR", c.Args)
	}
	if i := slices.Index(c.Args, "-i"); i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != "any" {
		t.Errorf("args %q: want -i any", c.Args)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() {
		t.Error("no CPU or memory limit")
	}
	checkMemory(t, c)

	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("no securityContext capabilities")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged: the capabilities are spelled out instead")
	}
	if !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("drop %v, want [ALL]", sc.Capabilities.Drop)
	}
	got := slices.Clone(sc.Capabilities.Add)
	slices.Sort(got)
	want := []corev1.Capability{"BPF", "NET_ADMIN", "NET_RAW", "PERFMON", "SYS_ADMIN", "SYS_PTRACE"}
	if !slices.Equal(got, want) {
		t.Errorf("capabilities %v, want %v", got, want)
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("not run as root: bpf(2) and setns(2) need it")
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeUnconfined {
		t.Error("the default seccomp profile refuses bpf(2)")
	}

	mounts := make(map[string]bool)
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			t.Errorf("volume %s is writable", m.Name)
		}
		mounts[m.MountPath] = true
	}
	for _, p := range []string{"/sys/kernel/btf", "/sys/fs/cgroup", "/var/run/netns"} {
		if !mounts[p] {
			t.Errorf("%s is not mounted", p)
		}
	}
	for _, v := range pod.Volumes {
		if v.HostPath == nil {
			t.Errorf("volume %s is not a hostPath", v.Name)
		}
	}
}

// kernelMemory is what the kernel charges the container's memory cgroup
// besides the ring buffer: the flow states (16,384 × about 216 B: 3.5 MB), the
// other maps and the programs, rounded up (measured: 86.5 MB in all with
// the 64 MiB ring; TestDockerDaemonSet logs it).
const kernelMemory = 24 << 20

// checkMemory checks the DaemonSet's memory arithmetic (README, "Memory"):
// GOMEMLIMIT, the ring (-B, KiB) and the rest of the kernel's share fit the
// limit, and the request covers the kernel's share, which an idle
// zmtpdump already holds.
func checkMemory(t *testing.T, c corev1.Container) {
	t.Helper()
	ring := int64(65536) << 10
	if b := argValue(c.Args, "-B"); b != "" {
		kib, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			t.Fatalf("-B %q: %v", b, err)
		}
		ring = kib << 10
	}
	var goLimit int64
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			q, err := resource.ParseQuantity(strings.TrimSuffix(e.Value, "B"))
			if err != nil {
				t.Fatalf("GOMEMLIMIT %q: %v", e.Value, err)
			}
			goLimit = q.Value()
		}
	}
	if goLimit == 0 {
		t.Fatal("no GOMEMLIMIT: the garbage collector would not work harder before the limit")
	}
	limit, req := c.Resources.Limits.Memory().Value(), c.Resources.Requests.Memory().Value()
	if kernel := ring + kernelMemory; goLimit+kernel > limit {
		t.Errorf("GOMEMLIMIT %d + the kernel's %d (ring %d) = %d: over the memory limit %d", goLimit, kernel, ring, goLimit+kernel, limit)
	} else if req < kernel {
		t.Errorf("memory request %d: below the kernel's share %d, which an idle zmtpdump holds", req, kernel)
	}
}

// decodeStrict decodes the YAML file name into v strictly (an unknown field
// fails) and checks that every key of the file comes back, spelt the same,
// when v is encoded again: strict decoding still matches keys
// case-insensitively (encoding/json), so a misspelt case would pass it.
func decodeStrict(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(raw, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var orig, back any
	if err := yaml.Unmarshal(raw, &orig); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range lostKeys(orig, back, "") {
		t.Errorf("%s: %s is not a field of %T (misspelt?)", name, k, v)
	}
}

// argValue returns the value that follows flag in args ("--flag V" or
// "--flag=V"), or "".
func argValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// lostKeys lists the map keys of orig, as paths, that back lacks.
func lostKeys(orig, back any, path string) []string {
	var lost []string
	switch o := orig.(type) {
	case map[string]any:
		b, _ := back.(map[string]any)
		for k, v := range o {
			bv, ok := b[k]
			if !ok {
				lost = append(lost, path+"."+k)
				continue
			}
			lost = append(lost, lostKeys(v, bv, path+"."+k)...)
		}
	case []any:
		b, _ := back.([]any)
		for i, v := range o {
			if i < len(b) {
				lost = append(lost, lostKeys(v, b[i], fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return lost
}

// TestDockerfile checks the image's build: two stages, a static build
// (CGO_ENABLED=0) of the Makefile's target, a minimal final image whose
// entrypoint is the binary.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var from, env, run []string
	var entry string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		word, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(word) {
		case "FROM":
			from = append(from, rest)
		case "ENV":
			env = append(env, rest)
		case "RUN":
			run = append(run, rest)
		case "ENTRYPOINT":
			entry = rest
		}
	}
	if len(from) != 2 {
		t.Fatalf("want two stages, got FROM %q", from)
	}
	if !strings.Contains(from[0], "golang:1.26") || !strings.HasSuffix(from[0], " AS build") {
		t.Errorf("build stage %q: want golang:1.26 AS build", from[0])
	}
	if f := from[1]; f != "scratch" && !strings.HasPrefix(f, "gcr.io/distroless/static") {
		t.Errorf("final stage %q: want scratch or distroless/static", f)
	}
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("ENV %q: want CGO_ENABLED=0", env)
	}
	if !slices.ContainsFunc(run, func(s string) bool { return strings.Contains(s, "make zmtpdump") }) {
		t.Errorf("RUN %q: want make zmtpdump", run)
	}
	if entry != `["/zmtpdump"]` {
		t.Errorf("ENTRYPOINT %s", entry)
	}
}

// TestFlowStateFigures: the flow states' size that the manifest, its
// README and kernelMemory's comment quote is bpf/flowstate.h's measured one.
func TestFlowStateFigures(t *testing.T) {
	h, err := os.ReadFile("../bpf/flowstate.h")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(\d+) bytes an entry`).FindSubmatch(h)
	if m == nil {
		t.Fatal("bpf/flowstate.h: no \"N bytes an entry\"")
	}
	want := fmt.Sprintf("16,384 × about %s B", m[1])
	for _, f := range []string{"daemonset.yaml", "README.md", "deploy_test.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "16,384") {
			continue
		}
		for _, q := range regexp.MustCompile(`16,384 (?:directions )?× about \d+ B`).FindAllString(string(b), -1) {
			if strings.Replace(q, "directions ", "", 1) != want {
				t.Errorf("%s: %q, want %q (bpf/flowstate.h)", f, q, want)
			}
		}
	}
}
