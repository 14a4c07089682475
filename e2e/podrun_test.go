package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// podRun is how `docker run` runs the DaemonSet's container: the flags
// that give it the pod's namespaces, securityContext (but the added
// capabilities), volumes, environment and resources, the image and its
// arguments, the capabilities the pod adds and its grace period.
type podRun struct {
	flags []string
	image string
	args  []string
	caps  []string // securityContext.capabilities.add, as written
	grace int64    // terminationGracePeriodSeconds
	probe *corev1.Probe
	req   int64 // resources.requests.memory, bytes
}

// readDaemonSet decodes deploy/daemonset.yaml.
func readDaemonSet(t *testing.T) *appsv1.DaemonSet {
	t.Helper()
	raw, err := os.ReadFile("../deploy/daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ds appsv1.DaemonSet
	if err := yaml.UnmarshalStrict(raw, &ds); err != nil {
		t.Fatalf("deploy/daemonset.yaml: %v", err)
	}
	return &ds
}

// podRunOf derives the docker run flags from the DaemonSet's pod spec, one
// for each setting it has: an unknown setting of the securityContext
// fails rather than being left out, so a change to the DaemonSet changes
// what the test runs or makes it fail.
func podRunOf(ds *appsv1.DaemonSet) (podRun, error) {
	pod := ds.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		return podRun{}, fmt.Errorf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	r := podRun{image: c.Image, args: slices.Clone(c.Args), probe: c.ReadinessProbe, grace: 30}
	if pod.TerminationGracePeriodSeconds != nil {
		r.grace = *pod.TerminationGracePeriodSeconds
	}
	// Never the default bridge: only the host's network.
	if !pod.HostNetwork {
		return podRun{}, fmt.Errorf("hostNetwork is false: the test runs containers on the host's network only")
	}
	r.flags = append(r.flags, "--network", "host")
	if pod.HostPID {
		r.flags = append(r.flags, "--pid", "host")
	}
	if pod.HostIPC {
		r.flags = append(r.flags, "--ipc", "host")
	}
	if pod.SecurityContext != nil && pod.SecurityContext.String() != (&corev1.PodSecurityContext{}).String() {
		return podRun{}, fmt.Errorf("a pod-level securityContext (%v): not derived", pod.SecurityContext)
	}
	sc := c.SecurityContext
	if sc == nil {
		return podRun{}, fmt.Errorf("no securityContext")
	}
	if sc.Privileged != nil && *sc.Privileged {
		r.flags = append(r.flags, "--privileged")
	}
	if sc.RunAsUser != nil {
		u := strconv.FormatInt(*sc.RunAsUser, 10)
		if sc.RunAsGroup != nil {
			u += ":" + strconv.FormatInt(*sc.RunAsGroup, 10)
		}
		r.flags = append(r.flags, "--user", u)
	}
	if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
		r.flags = append(r.flags, "--read-only")
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		r.flags = append(r.flags, "--security-opt", "no-new-privileges")
	}
	if p := sc.SeccompProfile; p != nil {
		switch p.Type {
		case corev1.SeccompProfileTypeUnconfined:
			r.flags = append(r.flags, "--security-opt", "seccomp=unconfined")
		case corev1.SeccompProfileTypeRuntimeDefault:
		default:
			return podRun{}, fmt.Errorf("seccompProfile %s: not derived", p.Type)
		}
	}
	if p := sc.AppArmorProfile; p != nil {
		switch p.Type {
		case corev1.AppArmorProfileTypeUnconfined:
			r.flags = append(r.flags, "--security-opt", "apparmor=unconfined")
		case corev1.AppArmorProfileTypeRuntimeDefault:
		default:
			return podRun{}, fmt.Errorf("appArmorProfile %s: not derived", p.Type)
		}
	}
	if sc.SELinuxOptions != nil || sc.WindowsOptions != nil || sc.ProcMount != nil || sc.RunAsNonRoot != nil && *sc.RunAsNonRoot {
		return podRun{}, fmt.Errorf("securityContext %v: a setting the test does not derive", sc)
	}
	if sc.Capabilities != nil {
		for _, d := range sc.Capabilities.Drop {
			r.flags = append(r.flags, "--cap-drop", string(d))
		}
		for _, a := range sc.Capabilities.Add {
			r.caps = append(r.caps, string(a))
		}
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok || v.HostPath == nil {
			return podRun{}, fmt.Errorf("volume %s: only hostPath volumes are derived", m.Name)
		}
		opts := "rw"
		if m.ReadOnly {
			opts = "ro"
		}
		if m.MountPropagation != nil {
			switch *m.MountPropagation {
			case corev1.MountPropagationHostToContainer:
				opts += ",rslave"
			case corev1.MountPropagationBidirectional:
				opts += ",rshared"
			}
		}
		r.flags = append(r.flags, "--volume", v.HostPath.Path+":"+m.MountPath+":"+opts)
	}
	for _, e := range c.Env {
		if f := e.ValueFrom; f != nil && f.FieldRef != nil && f.FieldRef.FieldPath == "status.hostIP" {
			// The node's IP: here the test's loopback, on which the
			// test's --metrics listens (testArgs).
			r.flags = append(r.flags, "--env", e.Name+"=127.0.0.1")
			continue
		}
		if e.ValueFrom != nil {
			return podRun{}, fmt.Errorf("env %s from %v: not derived", e.Name, e.ValueFrom)
		}
		r.flags = append(r.flags, "--env", e.Name+"="+e.Value)
	}
	if m := c.Resources.Limits.Memory(); !m.IsZero() {
		r.flags = append(r.flags, "--memory", strconv.FormatInt(m.Value(), 10))
	}
	if m := c.Resources.Requests.Memory(); !m.IsZero() {
		r.req = m.Value()
		r.flags = append(r.flags, "--memory-reservation", strconv.FormatInt(m.Value(), 10))
	}
	if cpu := c.Resources.Limits.Cpu(); !cpu.IsZero() {
		r.flags = append(r.flags, "--cpus", strconv.FormatFloat(cpu.AsApproximateFloat64(), 'f', -1, 64))
	}
	return r, nil
}

// testArgs are the DaemonSet's arguments with --port port and --metrics
// on metrics, or no --metrics when metrics is "" (a binary without the
// flag), and, when json, -i lo and --json in place of -q (the test then
// reads every message from the logs); otherwise the interfaces stay.
func testArgs(args []string, port int, metrics string, json bool) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "-i", "--interface":
			if json && i+1 < len(args) {
				out = append(out, a, "lo")
				i++
			} else {
				out = append(out, a)
			}
		case "--port":
			out = append(out, a, strconv.Itoa(port))
			i++
		case "--metrics":
			if metrics != "" {
				out = append(out, a, metrics)
			}
			i++
		case "-q", "--summary":
			if json {
				a = "--json"
			}
			out = append(out, a)
		default:
			out = append(out, a)
		}
	}
	if json && !slices.Contains(out, "--json") {
		out = append(out, "--json")
	}
	return out
}

// TestDockerRunFlags checks the derivation on the DaemonSet as shipped:
// what the issue names (--network host --pid host --read-only --cap-drop
// ALL, seccomp and AppArmor unconfined, /sys/kernel/btf and /sys/fs/cgroup
// read-only) is all there. It needs no Docker.
func TestDockerRunFlags(t *testing.T) {
	r, err := podRunOf(readDaemonSet(t))
	if err != nil {
		t.Fatal(err)
	}
	flags := strings.Join(r.flags, " ")
	for _, want := range []string{
		"--network host", "--pid host", "--read-only", "--cap-drop ALL", "--user 0",
		"--security-opt no-new-privileges", "--security-opt seccomp=unconfined", "--security-opt apparmor=unconfined",
		"--volume /sys/kernel/btf:/sys/kernel/btf:ro", "--volume /sys/fs/cgroup:/sys/fs/cgroup:ro",
		"--memory ", "--cpus 1",
	} {
		if !strings.Contains(flags, want) {
			t.Errorf("derived flags lack %q:\n%s", want, flags)
		}
	}
	if len(r.caps) == 0 || r.image == "" {
		t.Errorf("no capabilities (%v) or image (%q)", r.caps, r.image)
	}
	got := strings.Join(testArgs(r.args, 7001, "127.0.0.1:9", true), " ")
	if !strings.Contains(got, "-i lo") || !strings.Contains(got, "--port 7001") || !strings.Contains(got, "--json") ||
		!strings.Contains(got, "--metrics 127.0.0.1:9") || strings.Contains(got, "-q") || strings.Contains(got, "any") {
		t.Errorf("test arguments %q from %q", got, r.args)
	}
	if got := strings.Join(testArgs(r.args, 7001, "", false), " "); !strings.Contains(got, "-q") || !strings.Contains(got, "-i any") || strings.Contains(got, "--metrics") {
		t.Errorf("test arguments %q without --metrics, as shipped, from %q", got, r.args)
	}
}
