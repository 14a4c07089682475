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

	corev1 "k8s.io/api/core/v1"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// TestDockerDaemonSet builds the image with `make image` against a dockerd
// of its own and runs it as the DaemonSet runs it (every setting derived
// from deploy/daemonset.yaml), twice: on lo with --json in place of -q,
// where every message must be in docker logs as a JSON event with the
// processes of both ends, and with the DaemonSet's own arguments (-i any
// -q; the test's port, and --metrics on 127.0.0.1), whose table at exit
// must count them. Each time zmtpdump must keep only the capabilities it
// needs after attaching, answer its readiness probe and count the
// messages in /metrics, fit its memory request
// when idle, exit cleanly on docker stop and leave nothing attached.
func TestDockerDaemonSet(t *testing.T) {
	requireLive(t)
	r, err := podRunOf(readDaemonSet(t))
	if err != nil {
		t.Fatal(err)
	}
	requireBounding(t, r.caps) // before building anything
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
	for _, json := range []bool{true, false} {
		name := map[bool]string{true: "json", false: "shipped"}[json]
		t.Run(name, func(t *testing.T) {
			runPod(t, d, r, "zmtpdump-e2e-"+name, capFlags, bounding, json)
		})
	}
}

// runPod runs the DaemonSet's container (r, with capFlags) as name on lo,
// with --json in place of -q when json, makes a libzmq PUSH send messages
// to a PULL and checks what zmtpdump saw: see TestDockerDaemonSet.
func runPod(t *testing.T, d *dockerd, r podRun, name string, capFlags []string, bounding uint64, json bool) {
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	run := slices.Concat([]string{"run", "--detach", "--name", name}, r.flags, capFlags,
		[]string{r.image}, testArgs(r.args, port, addr, json))
	t.Logf("docker %s", strings.Join(run, " "))
	d.must(t, run...)

	pid, err := strconv.Atoi(strings.TrimSpace(d.must(t, "inspect", "--format", "{{.State.Pid}}", name)))
	if err != nil || pid <= 0 {
		t.Fatalf("container pid: %v", err)
	}
	// Probed from the start, as the kubelet does: ready means capturing.
	waitReady(t, "http://"+addr, r.probe)
	if len(progsOf(t, pid)) == 0 {
		t.Error("the readiness probe answered before zmtpdump loaded its programs")
	}
	waitLogs(t, d, name, livetest.Listening, 20*time.Second)
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

	const n, size = 5, 100
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", strconv.Itoa(n)},
		[]string{"-type", "push", "-connect", ep, "-count", strconv.Itoa(n), "-size", strconv.Itoa(size), "-interval", "20ms"})
	time.Sleep(300 * time.Millisecond) // let the last records cross the ring
	checkMetrics(t, "http://"+addr, port, n)

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
// that the test's own bounding set lacks cannot be granted by any
// runtime: the test cannot run as the DaemonSet runs, so it is skipped (a
// failure under ZMTPDUMP_REQUIRE_E2E=1), never run with less
// (requireBounding).
func (d *dockerd) capFlags(t *testing.T, caps []string, image string) ([]string, uint64) {
	t.Helper()
	requireBounding(t, caps)
	var flags, byRuntime []string
	var bounding uint64
	for _, c := range caps {
		n, ok := capNumber[strings.TrimPrefix(c, "CAP_")]
		if !ok {
			t.Fatalf("capability %s: not in the test's table", c)
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

// requireBounding ends the test (skip.Unavailable) unless every capability
// of caps is in the test's own bounding set, and returns that set (and as
// /proc/self/status shows it).
func requireBounding(t *testing.T, caps []string) (uint64, string) {
	t.Helper()
	own := procStatus(t, os.Getpid())["CapBnd"]
	have, err := strconv.ParseUint(own, 16, 64)
	if err != nil {
		t.Fatalf("CapBnd %q: %v", own, err)
	}
	for _, c := range caps {
		name := strings.TrimPrefix(c, "CAP_")
		n, ok := capNumber[name]
		if ok && have&(1<<n) == 0 {
			skip.Unavailable(t, "CAP_%s is not in this test's own bounding set (%s): no container can have the DaemonSet's capabilities", strings.TrimPrefix(c, "CAP_"), own)
		}
	}
	return have, own
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
