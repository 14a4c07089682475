package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestRingOverflow shrinks the ring buffer to one page and sends a burst of
// large messages, whole (kernel-side framing would ship only their first
// bytes and nothing would overflow): the kernel must count the lost records, zmtpdump must
// report them at exit, and every line it prints must be true: whole
// messages, and a gap then either the direction stopping or, where the
// kernel marked the next boundary, a resync and whole messages again.
func TestRingOverflow(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-B", "4", "-s", "4", "--whole-payloads", "--stats-file", statsFile(t))
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", "20"},
		[]string{"-type", "push", "-connect", ep, "-count", "20", "-size", "50000", "-wait", "300ms"})
	// After the loss, a new connection must decode whole: the pipeline
	// recovers, only the damaged direction stays silent.
	ep2 := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep2, "-count", "2"},
		[]string{"-type", "push", "-connect", ep2, "-count", "2", "-interval", "50ms"})
	out, errOut := d.stop(t)

	if d.stats(t).RingDrops == 0 {
		t.Fatalf("a 4 KiB ring took a burst of 1 MB without loss: the test proves nothing\n%s", errOut)
	}
	allowed := []*regexp.Regexp{
		regexp.MustCompile(`: greeting: ZMTP 3\.1, mechanism NULL, as-server 0$`),
		regexp.MustCompile(`: READY: Socket-Type="(PUSH|PULL)" `),
		regexp.MustCompile(`: message: "xxxx" 78 78 78 78 \.\.\. \(50000 bytes, 4 shown\)$`),
		regexp.MustCompile(`: message: "[12]" 3[12]$`),
		// A gap, with the messages the kernel counted in it, and where
		// the kernel's framing marked the next boundary, the resync.
		regexp.MustCompile(`: gap: \d+ bytes lost( \(\d+ messages?\))?$`),
		regexp.MustCompile(`: resync: gap, decoding from offset \d+ \(0 bytes skipped, boundary marked by the kernel\)$`),
		regexp.MustCompile(`: process: zmqpeer\[\d+\] -> zmqpeer\[\d+\]$`),
		regexp.MustCompile(`: error: lost \d+ bytes at offset \d+ .*out of sync`),
		regexp.MustCompile(`: connection [a-z ]+: \S+ \(PUSH\) -> \S+ \(PULL\), ZMTP 3\.1 NULL, `),
	}
	gaps := 0
next:
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		for _, re := range allowed {
			if re.MatchString(l) {
				if strings.Contains(l, ": gap: ") {
					gaps++
				}
				continue next
			}
		}
		t.Errorf("unexpected line after loss: %q", l)
	}
	if gaps == 0 {
		t.Errorf("records were dropped but no gap was reported:\n%s", out)
	}
	if got := len(livetest.Lines(out, `message: "1" 31`)) + len(livetest.Lines(out, `message: "2" 32`)); got != 2 {
		t.Errorf("the connection after the loss must decode whole (messages 1 and 2), got %d:\n%s", got, out)
	}
}
