package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// dockerd is a Docker daemon the test started for itself: its own data
// and exec roots and socket under a temporary directory, no iptables
// rules, no default bridge (containers get the host's network or none),
// and the ocicaps runtime (e2e/ocicaps) registered.
type dockerd struct {
	dir     string    // everything it writes: data, exec root, socket, log
	host    string    // DOCKER_HOST: unix://dir/docker.sock
	docker  string    // the docker client
	cmd     *exec.Cmd // the daemon
	exited  chan struct{}
	logPath string
}

// startDockerd starts a dockerd of the test's own and waits until it
// answers. It skips (fails with ZMTPDUMP_REQUIRE_E2E=1) only when dockerd
// is not installed or cannot start here; the daemon, its containerd and
// every container are stopped and its files removed when the test ends,
// pass or fail.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		skip.Unavailable(t, "no dockerd (Debian's docker.io; make deps installs it): %v", err)
	}
	client, err := exec.LookPath("docker")
	if err != nil {
		skip.Unavailable(t, "no docker client (Debian's docker.io): %v", err)
	}
	removeStale(t)
	// Short: containerd's socket goes under the exec root, and a unix
	// socket path has 108 bytes at most.
	dir, err := os.MkdirTemp("/tmp", dirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{dir: dir, host: "unix://" + filepath.Join(dir, "docker.sock"), docker: client,
		exited: make(chan struct{}), logPath: filepath.Join(dir, "dockerd.log")}
	ocicaps := filepath.Join(dir, "ocicaps")
	if out, err := exec.Command("go", "build", "-o", ocicaps, "./ocicaps").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("build ocicaps: %v\n%s", err, out)
	}
	logf, err := os.Create(d.logPath)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	defer logf.Close()
	d.cmd = exec.Command(bin,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--host", d.host,
		"--iptables=false", "--ip-masq=false", "--bridge=none", "--userland-proxy=false",
		"--add-runtime", "ocicaps="+ocicaps)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	// Its own process group: a dockerd that ignores SIGTERM is killed with
	// whatever it started in that group. SIGTERM when the test binary dies
	// without its cleanups (a -timeout panic): dockerd then stops its
	// containers and containerd itself.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := d.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		skip.Unavailable(t, "start dockerd: %v", err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.stop(t) })

	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.run(context.Background(), "version", "--format", "{{.Server.Version}}"); err == nil {
			break
		}
		select {
		case <-d.exited:
			skip.Unavailable(t, "dockerd exited while starting (%v):\n%s", d.cmd.ProcessState, d.logTail())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			skip.Unavailable(t, "dockerd did not answer within 60 s:\n%s", d.logTail())
		}
	}
	v, _ := d.run(context.Background(), "version", "--format", "client {{.Client.Version}}, server {{.Server.Version}}")
	info, _ := d.run(context.Background(), "info", "--format", "{{.Driver}}, cgroup v{{.CgroupVersion}}")
	t.Logf("dockerd started: %s; %s", strings.TrimSpace(v), strings.TrimSpace(info))
	return d
}

// dirPrefix names the directories of the test's dockerds in /tmp.
const dirPrefix = "zmtpdump-dockerd"

// removeStale removes what a test binary killed before its cleanups (a
// -timeout panic) left behind: the directories of dockerds no longer
// running (Pdeathsig stops the daemon itself), older than a minute so that
// one starting now is not touched, and their mounts.
func removeStale(t *testing.T) {
	old, _ := filepath.Glob(filepath.Join("/tmp", dirPrefix+"*"))
	for _, dir := range old {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < time.Minute || len(processesUnder(dir)) > 0 {
			continue
		}
		if err := unmountUnder(dir); err != nil {
			t.Logf("stale %s: %v", dir, err)
			continue
		}
		if err := os.RemoveAll(dir); err == nil {
			t.Logf("removed %s, left by a test killed before its cleanups", dir)
		}
	}
}

// command returns a docker client command against this daemon.
func (d *dockerd) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, d.docker, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host)
	return cmd
}

// run runs the docker client with args and returns its standard output;
// an error quotes its standard error.
func (d *dockerd) run(ctx context.Context, args ...string) (string, error) {
	cmd := d.command(ctx, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// must runs the docker client and fails the test on an error.
func (d *dockerd) must(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := d.run(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// logTail is the end of dockerd's log.
func (d *dockerd) logTail() string {
	b, _ := os.ReadFile(d.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop removes every container, stops the daemon (SIGTERM, then SIGKILL
// to its process group after 20 s), unmounts what it left mounted under
// its directory and removes the directory.
func (d *dockerd) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ids, err := d.run(ctx, "ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
		if _, err := d.run(ctx, append([]string{"rm", "-f"}, strings.Fields(ids)...)...); err != nil {
			t.Errorf("remove the containers: %v", err)
		}
	}
	select {
	case <-d.exited:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(20 * time.Second):
			t.Errorf("dockerd did not stop on SIGTERM: killed\n%s", d.logTail())
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.exited
		}
	}
	// dockerd stops the containerd it started; wait for it to go.
	deadline := time.Now().Add(10 * time.Second)
	for len(processesUnder(d.dir)) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if left := processesUnder(d.dir); len(left) > 0 {
		t.Errorf("still running after dockerd stopped: %v", left)
	}
	if err := unmountUnder(d.dir); err != nil {
		t.Errorf("unmount under %s: %v", d.dir, err)
	}
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("remove %s: %v", d.dir, err)
	}
}

// processesUnder lists the processes whose command line names a path
// under dir ("PID command"): the daemon's containerd and shims.
func processesUnder(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var left []string
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue // gone, or a zombie
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, dir+"/") {
			left = append(left, e.Name()+" "+cmd)
		}
	}
	return left
}

// unmountUnder detaches every mount below dir (dockerd leaves its exec
// root's netns/default bound), the deepest first.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
