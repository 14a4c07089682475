package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// Capability numbers (linux/capability.h).
const (
	capDacReadSearch = 2
	capNetAdmin      = 12
	capNetRaw        = 13
	capSysPtrace     = 19
	capSysAdmin      = 21
	capPerfmon       = 38
	capBPF           = 39
)

// procStatus returns the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := map[string]string{}
	for _, l := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			f[k] = strings.TrimSpace(v)
		}
	}
	return f
}

func capMask(caps ...int) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return m
}

// checkDropped checks, in /proc/PID/status of every thread, that the
// effective, permitted and bounding sets are want, the inheritable and
// ambient sets empty, and no_new_privs set.
func checkDropped(t *testing.T, pid int, want uint64) {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		st := procStatus(t, tid)
		for k, w := range map[string]uint64{"CapEff": want, "CapPrm": want, "CapBnd": want, "CapInh": 0, "CapAmb": 0} {
			got, err := strconv.ParseUint(st[k], 16, 64)
			if err != nil || got != w {
				t.Errorf("thread %d: %s %s, want %016x", tid, k, st[k], w)
			}
		}
		if st["NoNewPrivs"] != "1" {
			t.Errorf("thread %d: NoNewPrivs %q, want 1", tid, st["NoNewPrivs"])
		}
	}
}

// TestDropPrivileges starts live captures and checks that, once
// capturing, zmtpdump holds only the capabilities it still needs (CAP_BPF;
// with -i any those that attach to new interfaces; with --pid those that
// read other processes' /proc) on every thread, with no_new_privs, and
// that it still captures and decodes.
func TestDropPrivileges(t *testing.T) {
	requireLive(t)
	t.Run("lo", func(t *testing.T) {
		port := freePort(t)
		d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "--stats-file", statsFile(t))
		checkDropped(t, d.Cmd.Process.Pid, capMask(capBPF))
		pushPull(t, port, 3)
		out, stderr := d.stop(t)
		if n := len(livetest.Lines(out, "message: ")); n != 3 {
			t.Errorf("%d messages after dropping privileges, want 3:\n%s\n%s", n, out, stderr)
		}
		if d.stats(t).PacketsCaptured == 0 {
			t.Errorf("no exit statistics: %s", stderr)
		}
	})
	t.Run("any", func(t *testing.T) {
		port := freePort(t)
		d := startDump(t, "-i", "any", "--backend", "socket", "--port", fmt.Sprint(port))
		checkDropped(t, d.Cmd.Process.Pid, capMask(capBPF, capNetAdmin, capNetRaw, capPerfmon))
		pushPull(t, port, 2)
		out, _ := d.stop(t)
		if n := len(livetest.Lines(out, "message: ")); n != 2 {
			t.Errorf("-i any: %d messages, want 2:\n%s", n, out)
		}
	})
	t.Run("pid", func(t *testing.T) {
		// The receiver listens before zmtpdump starts: its socket is found
		// in /proc after the capabilities are dropped.
		ns, _ := vethNamespace(t, "zq", "10.237.0")
		port := freePort(t)
		ep := fmt.Sprintf("tcp://10.237.0.2:%d", port)
		recv := exec.Command("ip", "netns", "exec", ns, built.peer, "-type", "pull", "-bind", ep, "-count", "2")
		if err := recv.Start(); err != nil {
			t.Fatal(err)
		}
		defer recv.Process.Kill()
		time.Sleep(300 * time.Millisecond)
		d := startDump(t, "--pid", fmt.Sprint(recv.Process.Pid), "-i", "any", "--port", fmt.Sprint(port))
		// -i any in another namespace: entering it again for interfaces
		// that come up needs CAP_SYS_ADMIN.
		checkDropped(t, d.Cmd.Process.Pid, capMask(capBPF, capSysPtrace, capDacReadSearch, capNetAdmin, capNetRaw, capPerfmon, capSysAdmin))
		if out, err := exec.Command(built.peer, "-type", "push", "-connect", ep, "-count", "2").CombinedOutput(); err != nil {
			t.Fatalf("sender: %v\n%s", err, out)
		}
		recv.Wait()
		out, _ := d.stop(t)
		if n := len(livetest.Lines(out, "message: ")); n != 2 {
			t.Errorf("--pid: %d messages, want 2:\n%s", n, out)
		}
		if p := livetest.Lines(out, ": process: zmqpeer[", fmt.Sprintf("-> zmqpeer[%d]", recv.Process.Pid)); len(p) != 1 {
			t.Errorf("--pid: the receiver's older socket is not attributed (from /proc): %q", p)
		}
	})
}
