package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestKernelFramingLargeMessages sends multipart messages with 1 MiB bodies
// between real libzmq peers, with heartbeats (PING/PONG commands) between
// them, and captures them with the default settings: the kernel follows
// the frames and ships headers and first bytes only. Every message must be
// decoded with its real sizes and first bytes, nothing reported lost, and
// the ring buffer must carry under 1% of the payload.
func TestKernelFramingLargeMessages(t *testing.T) {
	requireLive(t)
	const count, size = 40, 1 << 20
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "--json")
	if !strings.Contains(d.Stderr.String(), "kernel keeps 64 bytes of each frame body") {
		t.Fatalf("kernel framing not on by default:\n%s", d.Stderr.String())
	}
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(count), "-heartbeat-ivl", "20ms"},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(count), "-size", fmt.Sprint(size), "-multipart",
			"-interval", "10ms", "-heartbeat-ivl", "20ms"})
	out, errOut := d.stop(t)

	messages, pings := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Event  string `json:"event"`
			Name   string `json:"name"`
			Frames []struct {
				Size uint64 `json:"size"`
				Hex  string `json:"data_hex"`
			} `json:"frames"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		switch ev.Event {
		case "gap", "error":
			t.Errorf("%s event: %s", ev.Event, l)
		case "message":
			messages++
			if len(ev.Frames) != 2 || ev.Frames[0].Size != 5 || ev.Frames[0].Hex != hex.EncodeToString([]byte("hello")) ||
				ev.Frames[1].Size != size || ev.Frames[1].Hex != strings.Repeat("78", 64) {
				t.Errorf("message %d: %s", messages, l)
			}
		case "command":
			if ev.Name == "PING" || ev.Name == "PONG" {
				pings++
			}
		}
	}
	if messages != count {
		t.Errorf("%d messages decoded, want %d\n%s", messages, count, errOut)
	}
	if pings == 0 {
		t.Errorf("no PING or PONG decoded: heartbeats must cross the walk too")
	}
	st := d.stats(t)
	ring := st.RingBytes
	reassembled := st.BytesReassembled + st.BytesNotCaptured
	if st.DirectionsUnframed != 0 {
		t.Errorf("the kernel stopped following a connection:\n%s", errOut)
	}
	if st.BytesLost != 0 {
		t.Errorf("bytes reported lost:\n%s", errOut)
	}
	if reassembled < count*size {
		t.Fatalf("%d bytes reassembled, want at least %d", reassembled, count*size)
	}
	if pct := 100 * float64(ring) / float64(reassembled); pct >= 1 {
		t.Errorf("the ring buffer carried %d bytes for %d bytes of payload (%.2f%%), want under 1%%", ring, reassembled, pct)
	} else {
		t.Logf("ring buffer: %d bytes for %d bytes of payload (%.3f%%)", ring, reassembled, pct)
	}
}

// TestLargeMessagesFullSpeed sends 1 MiB messages as fast as libzmq goes:
// on lo that makes BIG TCP packets (up to 512 KiB, no IPv4 length) on
// Linux 6.3+, which the program must ship in several records, whole or
// framed, and must not lose.
func TestLargeMessagesFullSpeed(t *testing.T) {
	requireLive(t)
	const count, size = 200, 1 << 20
	for _, mode := range []struct {
		name  string
		args  []string
		check func(t *testing.T, errOut string, st livetest.Stats)
	}{
		{"framed", nil, func(t *testing.T, errOut string, st livetest.Stats) {
			if st.DirectionsUnframed != 0 {
				t.Errorf("the kernel stopped following the connection:\n%s", errOut)
			}
			payload := st.BytesReassembled + st.BytesNotCaptured
			if ring := st.RingBytes; 100*ring >= payload {
				t.Errorf("ring buffer carried %d bytes for %d of payload: want under 1%%", ring, payload)
			}
		}},
		{"whole", []string{"--whole-payloads"}, func(t *testing.T, errOut string, st livetest.Stats) {
			if got := st.BytesReassembled; got < count*size || st.BytesNotCaptured != 0 {
				t.Errorf("whole payloads: %d bytes reassembled, want every one of the %d sent:\n%s", got, count*size, errOut)
			}
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			port := freePort(t)
			d := startDump(t, append([]string{"-i", "lo", "--port", fmt.Sprint(port), "--json"}, mode.args...)...)
			ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
			runPeers(t,
				[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(count)},
				[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(count), "-size", fmt.Sprint(size)})
			out, errOut := d.stop(t)
			st := wantEveryMessage(t, out, errOut, count, size)
			mode.check(t, errOut, st)
		})
	}
}

// TestKernelFramingCurve sends large CURVE messages: the kernel keeps the
// handshake commands whole and of each MESSAGE frame its first bytes, which
// is enough to show it encrypted with its nonce and box size.
func TestKernelFramingCurve(t *testing.T) {
	requireLive(t)
	const count, size = 10, 300000
	keys, err := exec.Command(built.peer, "-curve-keygen").Output()
	if err != nil {
		t.Fatalf("zmqpeer -curve-keygen: %v", err)
	}
	pair := strings.Fields(string(keys))
	if len(pair) != 2 {
		t.Fatalf("zmqpeer -curve-keygen printed %q", keys)
	}
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "--json")
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(count), "-curve-server", "-curve-secret", pair[1]},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(count), "-size", fmt.Sprint(size), "-curve-serverkey", pair[0]})
	out, _ := d.stop(t)
	for _, name := range []string{"HELLO", "WELCOME", "INITIATE", "READY"} {
		if len(livetest.Lines(out, `"event":"command"`, `"name":"`+name+`"`)) == 0 {
			t.Errorf("no %s command decoded", name)
		}
	}
	var encrypted int
	for _, l := range livetest.Lines(out, `"event":"message"`) {
		var ev struct {
			Encrypted bool   `json:"encrypted"`
			Nonce     string `json:"nonce_hex"`
			BoxSize   uint64 `json:"box_size"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Encrypted && len(ev.Nonce) == 16 && ev.BoxSize > size {
			encrypted++
		}
	}
	if encrypted != count {
		t.Errorf("%d encrypted messages of more than %d bytes decoded, want %d:\n%s", encrypted, size, count, out)
	}
	if n := len(livetest.Lines(out, `"event":"gap"`)) + len(livetest.Lines(out, `"event":"error"`)); n != 0 {
		t.Errorf("%d gap or error events:\n%s", n, out)
	}
	if left := d.stats(t).BytesElided; left < count*size*9/10 {
		t.Errorf("only %d bytes left out of %d encrypted bytes", left, count*size)
	}
}

// TestKernelFramingWrite: with -s, -w writes the pieces kernel-side framing
// keeps (headers and first bytes, original lengths covering the rest): a
// small file that zmtpdump -r decodes to the same messages, with their real
// sizes, and that tcpdump reads.
func TestKernelFramingWrite(t *testing.T) {
	requireLive(t)
	const count, size = 20, 1 << 20
	port := freePort(t)
	file := filepath.Join(t.TempDir(), "framed.pcapng")
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-s", "64", "-w", file, "-q")
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(count)},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(count), "-size", fmt.Sprint(size)})
	d.stop(t)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > count*size/100 {
		t.Errorf("%s holds %d bytes for %d of messages: want under 1%%", file, fi.Size(), count*size)
	}
	out, err := exec.Command(built.zmtpdump, "-r", file, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("zmtpdump -r: %v\n%s", err, out)
	}
	if got := len(livetest.Lines(string(out), `"event":"message"`, fmt.Sprintf(`"size":%d`, size))); got != count {
		t.Errorf("read back: %d messages of %d bytes, want %d\n%s", got, size, count, out)
	}
	if n := len(livetest.Lines(string(out), `"event":"gap"`)) + len(livetest.Lines(string(out), `"event":"error"`)); n != 0 {
		t.Errorf("read back: %d gap or error events", n)
	}
	if pkts := tcpdumpRead(t, file); len(pkts) == 0 {
		t.Error("tcpdump read no packet")
	}
}
