package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// TestMetricsPodLabels: with --metrics-pod-labels, the series of a service
// whose server runs as a pod's container would (a UTS namespace of its own
// with the pod's hostname, the kubelet's /etc/hostname, the service
// account's namespace file under /var/run/secrets, /var/run a link to
// /run) carry its pod and namespace; a client of the host's namespaces
// gives none to its own service.
func TestMetricsPodLabels(t *testing.T) {
	requireLive(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		skip.Unavailable(t, "no unshare (util-linux): %v", err)
	}
	if fi, err := os.Lstat("/var/run"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		skip.Unavailable(t, "/var/run is not a link to /run here")
	}
	const n = 25
	port, mport := freePort(t), freePort(t)
	d := startDump(t, "-i", "lo", "--port", strconv.Itoa(port), "-q",
		"--metrics", fmt.Sprintf("127.0.0.1:%d", mport), "--metrics-pod-labels")
	host := filepath.Join(t.TempDir(), "hostname")
	if err := os.WriteFile(host, []byte("web-7d4b9c-x2x9q\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pod := fmt.Sprintf("hostname web-7d4b9c-x2x9q && mount --bind %s /etc/hostname && mount -t tmpfs none /run && "+
		"mkdir -p /run/secrets/kubernetes.io/serviceaccount && echo shop > /run/secrets/kubernetes.io/serviceaccount/namespace && "+
		"exec %s -type pull -bind tcp://127.0.0.1:%d -count %d", host, built.peer, port, n)
	if out, err := exec.Command("unshare", "-u", "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
		skip.Unavailable(t, "unshare -u -m refused: %v %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recv := exec.CommandContext(ctx, "unshare", "-u", "-m", "--propagation", "private", "sh", "-c", pod)
	var rout bytes.Buffer
	recv.Stdout, recv.Stderr = &rout, &rout
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let it bind
	if out, err := exec.CommandContext(ctx, built.peer, "-type", "push", "-connect", fmt.Sprintf("tcp://127.0.0.1:%d", port), "-count", strconv.Itoa(n)).CombinedOutput(); err != nil {
		t.Fatalf("sender: %v\n%s", err, out)
	}
	if err := recv.Wait(); err != nil {
		t.Fatalf("receiver in its own namespaces: %v\n%s", err, rout.String())
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mport))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`zmtp_messages_total{client_socket_type="PUSH",direction="to_server",mechanism="NULL",namespace="shop",pod="web-7d4b9c-x2x9q",server="127.0.0.1:%d",server_socket_type="PULL"} %d`, port, n)
	if !strings.Contains(string(body), want+"\n") {
		t.Errorf("no %s in\n%s", want, body)
	}
	d.stop(t)
}
