package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// TestDaemonSet decodes daemonset.yaml strictly into the Kubernetes API's
// DaemonSet (an unknown or misspelt field fails) and checks what matters:
// the node's network and PID namespaces, the capabilities and nothing
// more, JSON Lines on stdout, and a pod on every node.
func TestDaemonSet(t *testing.T) {
	raw, err := os.ReadFile("daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(raw, &ds); err != nil {
		t.Fatalf("daemonset.yaml is not a valid DaemonSet: %v", err)
	}
	// Strict decoding still matches keys case-insensitively (encoding/json):
	// every key of the file must come back, spelt the same, from the
	// decoded object.
	var orig, back any
	if err := yaml.Unmarshal(raw, &orig); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(&ds)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range lostKeys(orig, back, "") {
		t.Errorf("daemonset.yaml: %s is not a DaemonSet field (misspelt?)", k)
	}
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
	if !slices.Contains(c.Args, "--json") {
		t.Errorf("args %q: want --json (JSON Lines for the log pipeline)", c.Args)
	}
	if i := slices.Index(c.Args, "-i"); i < 0 || i+1 >= len(c.Args) || c.Args[i+1] != "any" {
		t.Errorf("args %q: want -i any", c.Args)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() {
		t.Error("no CPU or memory limit")
	}

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
	want := []corev1.Capability{"BPF", "NET_ADMIN", "NET_RAW", "PERFMON", "SYS_ADMIN", "SYS_PTRACE", "SYS_RESOURCE"}
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
