package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestIPCQuietMetrics: --ipc with -q (which turns count mode on for TCP)
// and --metrics, beside a TCP capture on lo: the ipc connection's messages
// are counted exactly under server="ipc://PATH", and the -q table names
// its ends by process and path.
func TestIPCQuietMetrics(t *testing.T) {
	requireLive(t)
	mport, err := livetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	tport, err := livetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "q.ipc")
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(tport), "--ipc", path, "-q",
		"--metrics", fmt.Sprintf("127.0.0.1:%d", mport))
	const n = 250
	pull, push := ipcPair(t,
		[]string{"-type", "pull", "-bind", "ipc://" + path, "-count", fmt.Sprint(n)},
		[]string{"-type", "push", "-connect", "ipc://" + path, "-count", fmt.Sprint(n), "-mix", "100"})
	// The last records may still be on their way: scrape until the count
	// is there (or 10 s passed).
	want := fmt.Sprintf(`zmtp_messages_total{client_socket_type="PUSH",direction="to_server",mechanism="NULL",server="ipc://%s",server_socket_type="PULL"} %d`, path, n)
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mport))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), want+"\n") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(string(body), want+"\n") {
		t.Errorf("no %s in\n%s", want, body)
	}
	if strings.Contains(string(body), "fd7a:") {
		t.Errorf("a series names a synthetic address:\n%s", body)
	}
	out, errOut := d.stop(t)
	table := out + errOut
	for _, w := range []string{push.name(), pull.name(), path} {
		if !strings.Contains(table, w) {
			t.Errorf("the -q table does not name %q:\n%s", w, table)
		}
	}
	if strings.Contains(table, "fd7a:") {
		t.Errorf("the -q table shows a synthetic address:\n%s", table)
	}
}
