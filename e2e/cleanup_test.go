package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// progsOf lists the IDs of the BPF programs process pid holds file
// descriptors for (its "prog_id:" lines in /proc/PID/fdinfo): exactly
// zmtpdump's own, whatever other processes or tests load meanwhile.
func progsOf(t *testing.T, pid int) []ebpf.ProgramID {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("list %s: %v", dir, err)
	}
	var ids []ebpf.ProgramID
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "prog_id:"); ok {
				if id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
					ids = append(ids, ebpf.ProgramID(id))
				}
			}
		}
	}
	return ids
}

// waitGone waits for the kernel to free the programs ids (program IDs are
// never reused, so a freed one cannot come back).
func waitGone(t *testing.T, ids []ebpf.ProgramID, after string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var left []ebpf.ProgramID
		for _, id := range ids {
			p, err := ebpf.NewProgramFromID(id)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err == nil {
				p.Close()
			}
			left = append(left, id)
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, zmtpdump's programs %v are still loaded", after, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopAndCheck signals a running zmtpdump and checks that every program it
// held is gone once it has exited.
func stopAndCheck(t *testing.T, d *dump, sig syscall.Signal) {
	t.Helper()
	ids := progsOf(t, d.Cmd.Process.Pid)
	if len(ids) == 0 {
		t.Fatal("zmtpdump is capturing but holds no BPF program: the check would prove nothing")
	}
	if err := d.Cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Exited():
		err := d.Wait()
		if sig != syscall.SIGKILL && err != nil {
			t.Errorf("exit after %v: %v\n%s", sig, err, d.Stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("zmtpdump did not exit on %v", sig)
	}
	waitGone(t, ids, sig.String())
}

// TestNothingLeftAttached stops zmtpdump by SIGINT, SIGTERM and SIGKILL and
// checks that its programs are gone each time (TCX links die with their
// process, and with them the programs).
func TestNothingLeftAttached(t *testing.T) {
	requireLive(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			d := startDump(t, "-i", "lo", "--port", fmt.Sprint(freePort(t)))
			stopAndCheck(t, d, sig)
		})
	}
}
