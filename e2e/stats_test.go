package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// TestStatsLine captures a PUSH/PULL exchange with --json and
// --stats-file: stdout ends with the {"event":"stats"} line, the file
// holds the same object, its counts are those of the text on stderr, and
// every message sent is counted.
func TestStatsLine(t *testing.T) {
	requireLive(t)
	const count, size = 20, 100
	port := freePort(t)
	file := filepath.Join(t.TempDir(), "stats.json")
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "--json", "--stats-file", file)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(count)},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(count), "-size", fmt.Sprint(size)})
	out, errOut := d.stop(t)
	wantEveryMessage(t, out, errOut, count, size)
	all := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := all[len(all)-1]
	var line map[string]any
	if err := json.Unmarshal([]byte(last), &line); err != nil || line["event"] != "stats" {
		t.Fatalf("the last line is not the stats line (%v): %s", err, last)
	}
	written, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(written), []byte(last)) {
		t.Errorf("--stats-file holds\n%s\nthe stats line is\n%s", written, last)
	}
	num := func(key string) uint64 {
		v, ok := line[key].(float64)
		if !ok {
			t.Fatalf("%s: %v in %s", key, line[key], last)
		}
		return uint64(v)
	}
	for key, re := range map[string]string{
		"packets_captured":  `(\d+) packets captured`,
		"packets_matched":   `(\d+) packets matched in the kernel`,
		"ring_drops":        `(\d+) packets dropped by kernel`,
		"events":            `(\d+) ZMTP events decoded`,
		"connections":       `(\d+) connections,`,
		"bytes_reassembled": `(\d+) bytes reassembled`,
		"bytes_lost":        `\((\d+) bytes lost\)`,
		"ring_bytes":        `(\d+) bytes through the ring buffer`,
	} {
		if got, want := num(key), textStat(t, errOut, re); got != want {
			t.Errorf("%s = %d, the text says %d:\n%s", key, got, want, errOut)
		}
	}
	if got := num("messages"); got != count {
		t.Errorf("messages = %d, want %d", got, count)
	}
	if line["kernel_framing"] != true {
		t.Errorf("kernel_framing %v on lo with the defaults", line["kernel_framing"])
	}
}

// TestStatsFileQuiet: with -q (text, nothing printed while capturing)
// --stats-file still holds the statistics, and stdout has no JSON.
func TestStatsFileQuiet(t *testing.T) {
	requireLive(t)
	const count = 5
	port := freePort(t)
	file := filepath.Join(t.TempDir(), "stats.json")
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-q", "--stats-file", file)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", fmt.Sprint(count)},
		[]string{"-type", "push", "-connect", ep, "-count", fmt.Sprint(count), "-size", "10"})
	out, errOut := d.stop(t)
	if strings.Contains(out, `"event"`) {
		t.Errorf("-q printed JSON:\n%s", out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Event    string `json:"event"`
		Packets  uint64 `json:"packets_captured"`
		Messages uint64 `json:"messages"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Event != "stats" {
		t.Fatalf("--stats-file (%v): %s", err, b)
	}
	if st.Messages != count || st.Packets != textStat(t, errOut, `(\d+) packets captured`) {
		t.Errorf("--stats-file %s, stderr:\n%s", b, errOut)
	}
}

// textStat returns the number re captures in the exit statistics people
// read on stderr: the tests above check that they say what the stats line
// says (every other test reads the line).
func textStat(t *testing.T, stderr, re string) uint64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no %q in the exit statistics:\n%s", re, stderr)
	}
	v, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestStatsFileLikeWrite: --stats-file is created when -w's file is, before
// zmtpdump drops its capabilities, so that a directory root may write into
// only by CAP_DAC_OVERRIDE (owned by nobody, 0755) takes both; and a path
// that cannot be created is refused at the start, not after the capture.
func TestStatsFileLikeWrite(t *testing.T) {
	requireLive(t)
	dir := filepath.Join(t.TempDir(), "nobodys")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	pcap, file := filepath.Join(dir, "w.pcapng"), filepath.Join(dir, "stats.json")
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-w", pcap, "--stats-file", file)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", "3"},
		[]string{"-type", "push", "-connect", ep, "-count", "3"})
	d.stop(t)
	if st := d.stats(t); st.PacketsCaptured == 0 {
		t.Errorf("--stats-file in %s: %+v", dir, st)
	}

	start := time.Now()
	out, err := exec.Command(built.zmtpdump, "-i", "lo", "--port", fmt.Sprint(port), "-G", "5s",
		"--stats-file", filepath.Join(dir, "missing", "stats.json")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--stats-file") || strings.Contains(string(out), "listening on") {
		t.Errorf("a --stats-file that cannot be created: %v\n%s", err, out)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("refused after %v: at the end of the capture, not at its start", took)
	}
}

// TestStatsStderrFull: the statistics for people are a courtesy, as
// tcpdump's: with stderr on /dev/full zmtpdump still exits 0, and --json
// still ends stdout with the stats line.
func TestStatsStderrFull(t *testing.T) {
	requireLive(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		skip.Unavailable(t, "no /dev/full: %v", err)
	}
	defer full.Close()
	cmd := exec.Command(built.zmtpdump, "-i", "lo", "--port", fmt.Sprint(freePort(t)), "-G", "1s", "--json")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, full
	if err := cmd.Run(); err != nil {
		t.Fatalf("with stderr full: %v\n%s", err, stdout.String())
	}
	if _, err := livetest.ReadStats(&stdout); err != nil {
		t.Errorf("no stats line with stderr full: %v", err)
	}
}
