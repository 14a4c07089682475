package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
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

// hasMetricsFlag reports whether the zmtpdump built has --metrics.
func hasMetricsFlag(t *testing.T) bool {
	out, err := exec.Command(built.zmtpdump, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("zmtpdump --help: %v\n%s", err, out)
	}
	return strings.Contains(string(out), "--metrics ")
}

// TestDockerDaemonSet builds the image with `make image` against a dockerd
// of its own and runs it as the DaemonSet runs it (every setting derived
// from deploy/daemonset.yaml), twice: on lo with --json in place of -q,
// where every message must be in docker logs as a JSON event with the
// processes of both ends, and with the DaemonSet's own arguments (-i any
// -q; the test's port, and --metrics on 127.0.0.1), whose table at exit
// must count them. Each time zmtpdump must keep only the capabilities it
// needs after attaching, answer its readiness probe and count the
// messages in /metrics (once it has --metrics), fit its memory request
// when idle, exit cleanly on docker stop and leave nothing attached.
func TestDockerDaemonSet(t *testing.T) {
	requireLive(t)
	r, err := podRunOf(readDaemonSet(t))
	if err != nil {
		t.Fatal(err)
	}
	d := startDockerd(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	mk := exec.CommandContext(ctx, "make", "image", "IMAGE="+r.image, "DOCKER="+d.docker)
	mk.Dir = ".."
	mk.Env = append(os.Environ(), "DOCKER_HOST="+d.host)
	began := time.Now()
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Logf("make image: %v", time.Since(began).Round(100*time.Millisecond))
	shape := strings.TrimSpace(d.must(t, "image", "inspect", "--format", "{{json .Config.Entrypoint}} {{len .RootFS.Layers}} {{.Size}}", r.image))
	if f := strings.Fields(shape); len(f) != 3 || f[0] != `["/zmtpdump"]` || f[1] != "1" {
		t.Errorf("image %s: entrypoint, layers, size %q: want [\"/zmtpdump\"] and one layer (the binary on scratch)", r.image, shape)
	}
	t.Logf("image %s: %s", r.image, shape)

	capFlags, bounding := d.capFlags(t, r.caps, r.image)
	metrics := hasMetricsFlag(t)
	if !metrics {
		t.Log("this zmtpdump has no --metrics: run without it, readiness probe not checked")
	}
	for _, json := range []bool{true, false} {
		name := map[bool]string{true: "json", false: "shipped"}[json]
		t.Run(name, func(t *testing.T) {
			runPod(t, d, r, "zmtpdump-e2e-"+name, capFlags, bounding, metrics, json)
		})
	}
}

// runPod runs the DaemonSet's container (r, with capFlags) as name on lo,
// with --json in place of -q when json, makes a libzmq PUSH send messages
// to a PULL and checks what zmtpdump saw: see TestDockerDaemonSet.
func runPod(t *testing.T, d *dockerd, r podRun, name string, capFlags []string, bounding uint64, metrics, json bool) {
	port := freePort(t)
	addr := ""
	if metrics {
		addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	run := slices.Concat([]string{"run", "--detach", "--name", name}, r.flags, capFlags,
		[]string{r.image}, testArgs(r.args, port, addr, json))
	t.Logf("docker %s", strings.Join(run, " "))
	d.must(t, run...)

	waitLogs(t, d, name, livetest.Listening, 20*time.Second)
	pid, err := strconv.Atoi(strings.TrimSpace(d.must(t, "inspect", "--format", "{{.State.Pid}}", name)))
	if err != nil || pid <= 0 {
		t.Fatalf("container pid: %v", err)
	}
	ids := progsOf(t, pid)
	if len(ids) == 0 {
		t.Fatal("the container's zmtpdump is capturing but holds no BPF program")
	}
	// Once attached, only CAP_BPF, and with -i any what attaches to
	// interfaces that come up later; the bounding set stays what the pod
	// grants (no CAP_SETPCAP to lower it).
	kept := capMask(capBPF)
	if args := strings.Join(run, " "); strings.Contains(args, " -i any") {
		kept = capMask(capBPF, capNetAdmin, capNetRaw, capPerfmon)
	}
	checkContainerCaps(t, pid, kept, bounding)
	if u, k, ok := cgroupMemory(pid); ok {
		t.Logf("container memory after start: %.1f MB, of which kernel %.1f MB (request %.1f MB)", float64(u)/1e6, float64(k)/1e6, float64(r.req)/1e6)
		if r.req > 0 && u > r.req {
			t.Errorf("an idle zmtpdump uses %d bytes, more than the DaemonSet's memory request %d", u, r.req)
		}
	}
	if addr != "" {
		waitReady(t, "http://"+addr, r.probe)
	}

	const n, size = 5, 100
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", strconv.Itoa(n)},
		[]string{"-type", "push", "-connect", ep, "-count", strconv.Itoa(n), "-size", strconv.Itoa(size), "-interval", "20ms"})
	time.Sleep(300 * time.Millisecond) // let the last records cross the ring
	if addr != "" {
		checkMetrics(t, "http://"+addr, port, n)
	}

	d.must(t, "stop", "--time", strconv.FormatInt(r.grace, 10), name)
	state := strings.TrimSpace(d.must(t, "inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", name))
	if state != "0 false" {
		t.Errorf("after docker stop: exit code and OOM-killed %q, want 0 false", state)
	}
	var stdout, stderr strings.Builder
	logs := d.command(context.Background(), "logs", name)
	logs.Stdout, logs.Stderr = &stdout, &stderr
	if err := logs.Run(); err != nil {
		t.Fatalf("docker logs: %v", err)
	}
	if json {
		wantEveryMessage(t, stdout.String(), stderr.String(), n, size, `"comm":"zmqpeer"`)
	} else {
		checkTable(t, stdout.String(), port, n, n*size)
	}
	waitGone(t, ids, "docker stop")
}

// checkTable checks -q's table for the PUSH -> PULL conversation to port:
// msgs messages and bytes bytes to the server, none back.
func checkTable(t *testing.T, out string, port, msgs, bytes int) {
	t.Helper()
	rows := livetest.Lines(out, fmt.Sprintf(" 127.0.0.1:%d ", port), "PUSH -> PULL")
	if len(rows) != 1 {
		t.Fatalf("want one PUSH -> PULL row for port %d in the -q table, got %d:\n%s", port, len(rows), out)
	}
	f := strings.Fields(rows[0])
	i := slices.Index(f, "NULL")
	want := []string{strconv.Itoa(msgs), strconv.Itoa(bytes), "0", "0"}
	if i < 0 || len(f) < i+5 || !slices.Equal(f[i+1:i+5], want) {
		t.Errorf("-q row %q: want messages and bytes each way %v", rows[0], want)
	}
}

// capFlags returns the docker run flags that add caps (the pod's
// capabilities.add) and the bounding set they give the container. A
// capability that this dockerd refuses by name (Debian 12's 20.10 knows
// neither BPF nor PERFMON) is added by the ocicaps runtime instead; one
// that the test's own bounding set lacks (a sandbox without
// CAP_SYS_RESOURCE) cannot be granted by any runtime: it is left out, and
// the test says so.
func (d *dockerd) capFlags(t *testing.T, caps []string, image string) ([]string, uint64) {
	t.Helper()
	own := procStatus(t, os.Getpid())["CapBnd"]
	have, err := strconv.ParseUint(own, 16, 64)
	if err != nil {
		t.Fatalf("CapBnd %q: %v", own, err)
	}
	var flags, byRuntime []string
	var bounding uint64
	for _, c := range caps {
		n, ok := capNumber[strings.TrimPrefix(c, "CAP_")]
		if !ok {
			t.Fatalf("capability %s: not in the test's table", c)
		}
		if have&(1<<n) == 0 {
			t.Logf("CAP_%s: not in this test's own bounding set (%s), so no container can have it: left out", c, own)
			continue
		}
		bounding |= 1 << n
		out, err := d.run(context.Background(), "create", "--cap-add", c, image)
		if err != nil && strings.Contains(err.Error(), "unknown capability") {
			byRuntime = append(byRuntime, c)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		d.must(t, "rm", strings.TrimSpace(out))
		flags = append(flags, "--cap-add", c)
	}
	if len(byRuntime) > 0 {
		t.Logf("this dockerd refuses %v by name: added by the ocicaps runtime", byRuntime)
		flags = append(flags, "--runtime", "ocicaps", "--env", "OCICAPS_ADD="+strings.Join(byRuntime, ","))
	}
	return flags, bounding
}

// capNumber numbers the capabilities a DaemonSet may add
// (linux/capability.h).
var capNumber = map[string]int{
	"CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "KILL": 5, "SETGID": 6, "SETUID": 7,
	"SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13, "IPC_LOCK": 14, "SYS_CHROOT": 18,
	"SYS_PTRACE": 19, "SYS_ADMIN": 21, "SYS_RESOURCE": 24, "SYSLOG": 34, "PERFMON": 38, "BPF": 39,
	"CHECKPOINT_RESTORE": 40,
}

// checkContainerCaps checks every thread of pid: effective and permitted
// sets kept, the bounding set bounding, nothing inheritable or ambient,
// no_new_privs.
func checkContainerCaps(t *testing.T, pid int, kept, bounding uint64) {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		st := procStatus(t, tid)
		for k, w := range map[string]uint64{"CapEff": kept, "CapPrm": kept, "CapBnd": bounding, "CapInh": 0, "CapAmb": 0} {
			if got, err := strconv.ParseUint(st[k], 16, 64); err != nil || got != w {
				t.Errorf("thread %d: %s %s, want %016x", tid, k, st[k], w)
			}
		}
		if st["NoNewPrivs"] != "1" {
			t.Errorf("thread %d: NoNewPrivs %q, want 1", tid, st["NoNewPrivs"])
		}
	}
}

// waitLogs waits until the container's logs hold want; a container that
// exits first, or the time running out, fails the test with its logs.
func waitLogs(t *testing.T, d *dockerd, name, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, _ := d.command(context.Background(), "logs", name).CombinedOutput()
		if strings.Contains(string(out), want) {
			return
		}
		st, _ := d.run(context.Background(), "inspect", "--format", "{{.State.Status}}", name)
		if s := strings.TrimSpace(st); s == "exited" || s == "dead" || time.Now().After(deadline) {
			t.Fatalf("container %s (%s): no %q in its logs:\n%s", name, s, want, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitReady polls the readiness probe of the DaemonSet (its path) at base
// until it answers 200, as the kubelet would, for 20 s at most.
func waitReady(t *testing.T, base string, probe *corev1.Probe) {
	t.Helper()
	if probe == nil || probe.HTTPGet == nil {
		t.Fatal("the DaemonSet has no httpGet readiness probe")
	}
	url := base + probe.HTTPGet.Path
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness probe %s: %v (status %v)", url, err, resp)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkMetrics checks that /metrics counts the n messages a PUSH client
// sent to the PULL server on port.
func checkMetrics(t *testing.T, base string, port, n int) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	labels := []string{fmt.Sprintf(`server="127.0.0.1:%d"`, port), `direction="to_server"`,
		`client_socket_type="PUSH"`, `server_socket_type="PULL"`, `mechanism="NULL"`}
	for _, l := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(l, "zmtp_messages_total{") || !strings.HasSuffix(l, " "+strconv.Itoa(n)) {
			continue
		}
		if !slices.ContainsFunc(labels, func(w string) bool { return !strings.Contains(l, w) }) {
			t.Logf("/metrics: %s", l)
			return
		}
	}
	t.Errorf("no zmtp_messages_total{%s} %d in /metrics:\n%s", strings.Join(labels, ","), n, body)
}

// cgroupMemory reads the memory the cgroup of pid charges: in all, and
// the kernel's part (BPF maps are charged there on Linux 5.11+; cgroup v1
// reports it as kmem, v2 as "kernel" in memory.stat).
func cgroupMemory(pid int) (usage, kernel int64, ok bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return 0, 0, false
	}
	num := func(path string) int64 {
		b, _ := os.ReadFile(path)
		v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return v
	}
	lines := strings.Split(string(raw), "\n")
	for _, l := range lines { // cgroup v1: the memory controller's hierarchy
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "memory") {
			dir := "/sys/fs/cgroup/memory" + f[2]
			return num(dir + "/memory.usage_in_bytes"), num(dir + "/memory.kmem.usage_in_bytes"), true
		}
	}
	for _, l := range lines { // cgroup v2
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			dir := "/sys/fs/cgroup" + p
			stat, _ := os.ReadFile(dir + "/memory.stat")
			for _, s := range strings.Split(string(stat), "\n") {
				if v, ok := strings.CutPrefix(s, "kernel "); ok {
					kernel, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			return num(dir + "/memory.current"), kernel, true
		}
	}
	return 0, 0, false
}
