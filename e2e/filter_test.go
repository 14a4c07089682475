package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestKernelFilter runs two ZeroMQ pairs on different ports under filter
// expressions that select one pair, both or neither, with each backend: the
// kernel program runs the compiled expression before copying anything.
func TestKernelFilter(t *testing.T) {
	requireLive(t)
	for _, backend := range []string{"tcx", "socket"} {
		t.Run(backend, func(t *testing.T) {
			pa, pb := freePort(t), freePort(t)
			lo, hi := min(pa, pb), max(pa, pb)
			for _, tt := range []struct {
				expr       string
				wantA      bool
				wantB      bool
				wantMarked bool // the expression, not the port table, filters
			}{
				{fmt.Sprintf("tcp dst port %d or tcp src port %d", pa, pa), true, false, true},
				{fmt.Sprintf("host 127.0.0.1 and portrange %d-%d", lo, hi), true, true, true},
				{fmt.Sprintf("(port %d or port %d) and not host 127.0.0.1", pa, pb), false, false, true},
				{fmt.Sprintf("port %d or port %d", pa, pb), true, true, false},
			} {
				d := startDump(t, "-i", "lo", "--backend", backend, tt.expr)
				pushPull(t, pa, 2)
				pushPull(t, pb, 2)
				out, errOut := d.stop(t)
				if got := strings.Contains(errOut, fmt.Sprintf("%q", tt.expr)); got != tt.wantMarked {
					t.Errorf("%q: listening line %q", tt.expr, strings.SplitN(errOut, "\n", 2)[0])
				}
				for _, c := range []struct {
					port int
					want bool
				}{{pa, tt.wantA}, {pb, tt.wantB}} {
					msgs := livetest.Lines(out, fmt.Sprintf("> 127.0.0.1:%d: message: ", c.port))
					if c.want && len(msgs) != 2 {
						t.Errorf("%q: want the 2 messages to port %d, got %q\n%s", tt.expr, c.port, msgs, out)
					}
					if !c.want && strings.Contains(out, fmt.Sprintf("127.0.0.1:%d", c.port)) {
						t.Errorf("%q: port %d must not appear:\n%s", tt.expr, c.port, out)
					}
				}
				if !tt.wantA && !tt.wantB && !strings.Contains(errOut, "0 packets captured") {
					t.Errorf("%q: nothing may cross to userspace:\n%s", tt.expr, errOut)
				}
			}
		})
	}
}
