package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestPidFlag captures with --pid of a server that was listening before
// zmtpdump started, inside its own network namespace: zmtpdump enters that
// namespace, and attributes both ends (the client from the kernel tracker,
// the older server socket from /proc).
func TestPidFlag(t *testing.T) {
	requireLive(t)
	ns, _ := vethNamespace(t, "zp", "10.236.0")

	port := freePort(t)
	ep := fmt.Sprintf("tcp://10.236.0.2:%d", port)
	recv := exec.Command("ip", "netns", "exec", ns, built.peer, "-type", "pull", "-bind", ep, "-count", "2")
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // listening before zmtpdump starts
	d := startDump(t, "--pid", fmt.Sprint(recv.Process.Pid), "-i", "any", "--json", "--port", fmt.Sprint(port))
	if !strings.Contains(d.Stderr.String(), fmt.Sprintf("in network namespace /proc/%d/ns/net", recv.Process.Pid)) {
		t.Errorf("listening line: %s", d.Stderr.String())
	}
	send := exec.Command(built.peer, "-type", "push", "-connect", ep, "-count", "2")
	if out, err := send.CombinedOutput(); err != nil {
		t.Fatalf("sender: %v\n%s", err, out)
	}
	if err := recv.Wait(); err != nil {
		t.Fatalf("receiver: %v", err)
	}
	out, _ := d.stop(t)
	msgs := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Event   string `json:"event"`
			Process struct {
				Src, Dst struct {
					PID  int    `json:"pid"`
					Comm string `json:"comm"`
				}
			} `json:"process"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if e.Event != "message" {
			continue
		}
		msgs++
		if e.Process.Src.PID != send.Process.Pid || e.Process.Dst.PID != recv.Process.Pid ||
			e.Process.Src.Comm != "zmqpeer" || e.Process.Dst.Comm != "zmqpeer" {
			t.Errorf("message owners %+v, want src %d and dst %d, both zmqpeer", e.Process, send.Process.Pid, recv.Process.Pid)
		}
	}
	if msgs != 2 {
		t.Errorf("want 2 messages, got %d:\n%s", msgs, out)
	}
}

// TestCommFlag selects connections by command name, and shows the owners
// line in text.
func TestCommFlag(t *testing.T) {
	requireLive(t)
	for _, tt := range []struct {
		comm string
		want int
	}{{"zmqpeer", 2}, {"nosuchprogram", 0}} {
		port := freePort(t)
		d := startDump(t, "-i", "lo", "--comm", tt.comm, "--port", fmt.Sprint(port))
		pushPull(t, port, 2)
		out, _ := d.stop(t)
		if got := len(livetest.Lines(out, "message: ")); got != tt.want {
			t.Errorf("--comm %s: %d messages, want %d:\n%s", tt.comm, got, tt.want, out)
		}
		if tt.want > 0 {
			if p := livetest.Lines(out, ": process: zmqpeer[", "-> zmqpeer["); len(p) != 1 {
				t.Errorf("--comm %s: want one process line, got %q", tt.comm, p)
			}
		} else if strings.TrimSpace(out) != "" {
			t.Errorf("--comm %s: want no output, got:\n%s", tt.comm, out)
		}
	}
	out, err := exec.Command(built.zmtpdump, "-r", "../testdata/push_pull_null.pcap", "--comm", "x").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--netns, --pid and --comm need a live capture") {
		t.Errorf("--comm with -r: %v %s", err, out)
	}
}
