package e2e

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// captureProgs lists the IDs of loaded programs that are zmtpdump's (the
// kernel keeps the first 15 characters of a program's name).
func captureProgs(t *testing.T) []ebpf.ProgramID {
	t.Helper()
	var ids []ebpf.ProgramID
	id := ebpf.ProgramID(0)
	for {
		next, err := ebpf.ProgramGetNextID(id)
		if errors.Is(err, os.ErrNotExist) {
			return ids
		}
		if err != nil {
			t.Fatalf("list BPF programs: %v", err)
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // gone meanwhile
		}
		info, err := p.Info()
		p.Close()
		if err == nil && strings.HasPrefix(info.Name, "capture_") {
			ids = append(ids, id)
		}
	}
}

// waitNoProgs waits for the kernel to free zmtpdump's programs.
func waitNoProgs(t *testing.T, how string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ids := captureProgs(t)
		if len(ids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, zmtpdump's programs are still loaded: %v", how, ids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNothingLeftAttached stops zmtpdump by SIGINT, SIGTERM and SIGKILL and
// checks that its programs are gone each time (TCX links die with their
// process, and with them the programs).
func TestNothingLeftAttached(t *testing.T) {
	requireLive(t)
	waitNoProgs(t, "an earlier test")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			d := startDump(t, "-i", "lo", "--port", fmt.Sprint(freePort(t)))
			if n := len(captureProgs(t)); n == 0 {
				t.Fatal("zmtpdump is capturing but no capture program is loaded: the check would prove nothing")
			}
			if err := d.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-d.done:
				if sig != syscall.SIGKILL && err != nil {
					t.Errorf("exit after %v: %v\n%s", sig, err, d.stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("zmtpdump did not exit on %v", sig)
			}
			waitNoProgs(t, sig.String())
		})
	}
}
