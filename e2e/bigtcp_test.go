package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// bigTCPSize is the GSO and GRO size TestBigTCPIPv6 gives lo.
const bigTCPSize = 185000

// bigTCPNamespace makes a network namespace whose lo sends and receives
// IPv6 BIG TCP packets (up to bigTCPSize bytes), so that the host's lo is
// left alone. Since Linux 5.19 gso_max_size and gro_max_size above 64 KiB
// apply to IPv6 (gso_ipv4_max_size came with 6.3 for IPv4).
func bigTCPNamespace(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatal("iproute2's ip is needed for this test")
	}
	ns := "znbt" + fmt.Sprint(time.Now().UnixNano()%100000)
	ip(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip(t, "-n", ns, "link", "set", "lo", "up")
	size := strconv.Itoa(bigTCPSize)
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "dev", "lo", "gso_max_size", size, "gro_max_size", size).CombinedOutput(); err != nil {
		skip.Unavailable(t, "lo refuses BIG TCP sizes (needs Linux 5.19+ and iproute2 with gro_max_size): %v: %s", err, out)
	}
	return ns
}

// startTcpdump records the IPv6 packets on lo in namespace ns (their
// first 200 bytes) into a file; the returned function stops it and returns
// the file.
func startTcpdump(t *testing.T, ns string) func() string {
	t.Helper()
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Fatal("tcpdump is needed for this test (make deps installs it)")
	}
	file := filepath.Join(t.TempDir(), "lo.pcap")
	cmd := exec.Command("ip", "netns", "exec", ns, "tcpdump", "-i", "lo", "-nn", "-s", "200", "-U", "-w", file, "ip6")
	var out livetest.Buffer // written by exec's copying goroutine
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "listening on") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return func() string {
		time.Sleep(200 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		t.Logf("tcpdump: %s", strings.TrimSpace(out.String()))
		return file
	}
}

// countPackets counts the packets of a pcap file that match expr.
func countPackets(t *testing.T, file, expr string) int {
	t.Helper()
	out, err := exec.Command("tcpdump", "-r", file, "-nn", expr).Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s %q: %v", file, expr, err)
	}
	return strings.Count(string(out), "\n")
}

// TestBigTCPIPv6 captures a libzmq conversation with 1 MiB messages over
// [::1] on a lo with BIG TCP on: the sender's packets exceed 64 KiB, their
// IPv6 payload length is 0, and (measured on 6.18, where a tap on lo still
// sees it) a hop-by-hop header with a jumbo option sits before TCP. Every
// message must be decoded, nothing lost, no packet left unparsed, with
// kernel framing (the default) and with whole payloads, through TCX and the
// socket filter.
func TestBigTCPIPv6(t *testing.T) {
	requireLive(t)
	const count, size = 40, 1 << 20
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"framed", nil},
		{"whole", []string{"--whole-payloads"}},
		{"socket", []string{"--backend", "socket"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ns := bigTCPNamespace(t)
			const port = 7100
			stopTcpdump := startTcpdump(t, ns)
			d := startDump(t, append([]string{"--netns", nsPath(ns), "-i", "lo", "--port", fmt.Sprint(port), "--json"}, mode.args...)...)
			ep := fmt.Sprintf("tcp://[::1]:%d", port)
			pull := startPeer(t, ns, "", "-type", "pull", "-bind", ep, "-count", fmt.Sprint(count))
			time.Sleep(200 * time.Millisecond) // let it bind
			push := startPeer(t, ns, "", "-type", "push", "-connect", ep, "-count", fmt.Sprint(count),
				"-size", fmt.Sprint(size), "-multipart")
			for _, c := range []*exec.Cmd{push, pull} {
				if err := c.Wait(); err != nil {
					t.Fatalf("%v: %v\n%s", c.Args, err, peerOutput(c))
				}
			}
			out, errOut := d.stop(t)
			file := stopTcpdump()

			big, hbh := countPackets(t, file, "ip6 and greater 65600"), countPackets(t, file, "ip6 and ip6[6] == 0")
			t.Logf("tcpdump on lo: %d IPv6 packets over 64 KiB, %d with a hop-by-hop header", big, hbh)
			if big == 0 {
				t.Fatalf("no IPv6 packet over 64 KiB on lo: BIG TCP did not happen, the test proves nothing")
			}
			st := wantEveryMessage(t, out, errOut, count, size, `"dst":"[::1]:`)
			if st.PacketsNotParsed != 0 || st.PacketsCut != 0 || st.PacketsUnreadable != 0 {
				t.Errorf("packets not parsed, cut or unreadable in the kernel:\n%s", errOut)
			}
		})
	}
}
