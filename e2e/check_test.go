package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCheckCommand: zmtpdump check reports what this kernel allows and the
// backend a capture would use, and exits non-zero when capture is
// impossible.
func TestCheckCommand(t *testing.T) {
	requireLive(t)
	out, err := exec.Command(built.zmtpdump, "check").CombinedOutput()
	if err != nil {
		t.Fatalf("zmtpdump check as root: %v\n%s", err, out)
	}
	for _, want := range []string{"  yes  BPF ring buffer", "  yes  TCX (Linux 6.6+)", "  yes  kernel-side ZMTP framing", "  yes  CAP_BPF", "capture would use: TCX", "ipc: tp_btf sock_send_length (BTF)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	setpriv := lookSetpriv(t)
	out, err = exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		built.zmtpdump, "check").CombinedOutput()
	if err == nil {
		t.Fatalf("zmtpdump check without privileges exited 0:\n%s", out)
	}
	if !strings.Contains(string(out), "capture impossible: permission denied") || !strings.Contains(string(out), "missing CAP_BPF, CAP_NET_ADMIN") {
		t.Errorf("unprivileged check:\n%s", out)
	}
}

// TestMissingCapabilities drops one capability at a time from a root
// process (and CAP_SYS_ADMIN, which would stand in for it): the capture
// must refuse with one line naming what is missing.
func TestMissingCapabilities(t *testing.T) {
	requireLive(t)
	setpriv := lookSetpriv(t)
	for _, c := range []struct{ drop, name string }{
		{"-bpf,-sys_admin", "CAP_BPF"},
		{"-net_admin,-sys_admin", "CAP_NET_ADMIN"},
	} {
		out, err := exec.Command(setpriv, "--bounding-set", c.drop, "--inh-caps", c.drop,
			built.zmtpdump, "-i", "lo", "--port", "7001").CombinedOutput()
		if err == nil {
			t.Fatalf("capture without %s succeeded:\n%s", c.name, out)
		}
		s := strings.TrimSpace(string(out))
		if !strings.HasPrefix(s, "zmtpdump: permission denied") || !strings.HasSuffix(s, "missing "+c.name) || strings.Contains(s, "\n") {
			t.Errorf("without %s: want one line ending \"missing %s\", got %q", c.name, c.name, s)
		}
	}
}

func lookSetpriv(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal("setpriv (util-linux) is needed to drop privileges")
	}
	return p
}
