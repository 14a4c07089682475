package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestSeveralInterfaces captures on lo and on a veth at once (different
// devices, one ring buffer): conversations on both are decoded, each once.
func TestSeveralInterfaces(t *testing.T) {
	requireLive(t)
	ns, host := vethNamespace(t, "zm", "10.237.0")
	port := freePort(t)
	d := startDump(t, "-i", "lo", "-i", host, "--port", fmt.Sprint(port))
	if !strings.Contains(d.Stderr.String(), "listening on lo, "+host+" (") {
		t.Errorf("listening line: %s", d.Stderr.String())
	}
	pushPull(t, port, 2)
	pushPullTo(t, ns, "10.237.0.2", port, 2)
	out, _ := d.stop(t)
	if m := livetest.Lines(out, fmt.Sprintf("> 127.0.0.1:%d: message: ", port)); len(m) != 2 {
		t.Errorf("want 2 messages on lo, got %q", m)
	}
	if m := livetest.Lines(out, fmt.Sprintf("> 10.237.0.2:%d: message: ", port)); len(m) != 2 {
		t.Errorf("want 2 messages on %s, got %q\n%s", host, m, out)
	}
}

// TestNetnsFlag captures with --netns inside a namespace from the root
// one: the namespace's interfaces, not ours.
func TestNetnsFlag(t *testing.T) {
	requireLive(t)
	ns, _ := vethNamespace(t, "zn", "10.238.0")
	port := freePort(t)
	d := startDump(t, "--netns", "/var/run/netns/"+ns, "-i", "any", "--port", fmt.Sprint(port))
	if !strings.Contains(d.Stderr.String(), "in network namespace /var/run/netns/"+ns) {
		t.Errorf("listening line: %s", d.Stderr.String())
	}
	pushPullTo(t, ns, "10.238.0.2", port, 3)
	pushPull(t, port, 2) // in the root namespace: must not be seen
	out, _ := d.stop(t)
	if m := livetest.Lines(out, fmt.Sprintf("> 10.238.0.2:%d: message: ", port)); len(m) != 3 {
		t.Errorf("want the namespace's 3 messages, got %q\n%s", m, out)
	}
	if strings.Contains(out, "127.0.0.1:") {
		t.Errorf("the root namespace's lo leaked into a --netns capture:\n%s", out)
	}
	if p := livetest.Lines(out, ": process: zmqpeer[", "-> zmqpeer["); len(p) != 1 {
		t.Errorf("want both ends attributed once, got %q", p)
	}
	out2, err := exec.Command(built.zmtpdump, "--netns", "/nonexistent", "-i", "any").CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(out2)), "\n") != 0 {
		t.Errorf("a bad --netns must fail with one line: %v %q", err, out2)
	}
}
