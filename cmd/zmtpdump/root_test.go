package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandLineErrors checks that bad command lines and bad files give one
// clear error and print nothing on stdout.
func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pcap")
	if err := os.WriteFile(garbage, []byte("this is not a capture file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile("../../testdata/push_pull_null.pcap")
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.pcap")
	if err := os.WriteFile(truncated, good[:len(good)-7], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		wantErr   string
		wantUsage bool
		wantOut   bool // some events come out before the error
	}{
		{"no source", nil, "no interface: say where to capture with -i IFACE", true, false},
		{"both sources", []string{"-i", "lo", "-r", garbage}, "-r and -i exclude each other", true, false},
		{"bad port", []string{"-r", garbage, "--port", "70000"}, `--port: bad port "70000"`, true, false},
		{"unsupported expression", []string{"-r", garbage, "ether", "broadcast"}, `unsupported filter expression`, true, false},
		{"dangling or", []string{"-r", garbage, "port 1 or"}, `filter "port 1 or": syntax error at end of expression`, true, false},
		{"bad port range", []string{"-r", garbage, "--port", "7010-7000"}, `--port: bad port range "7010-7000"`, true, false},
		{"no flows", []string{"-r", garbage, "--max-flows", "0"}, "--max-flows and --idle-timeout must be positive", true, false},
		{"negative reorder buffer", []string{"-r", garbage, "--max-buffered-per-flow", "-1"}, "must be positive", true, false},
		{"bad buffer size", []string{"-i", "lo", "-B", "1000"}, "--buffer-size 1000: must be a power of two", true, false},
		{"negative snap", []string{"-r", garbage, "-s", "-1"}, "--snap -1", true, false},
		{"stats file reading a file", []string{"-r", garbage, "--stats-file", filepath.Join(dir, "stats.json")}, "--stats-file writes the statistics of a live capture", true, false},
		{"stats file on stdout", []string{"-i", "lo", "--stats-file", "-"}, "--stats-file -: name a file", true, false},
		{"stats file is the pcapng", []string{"-i", "lo", "-w", filepath.Join(dir, "x.pcapng"), "--stats-file", filepath.Join(dir, "x.pcapng")}, "--stats-file and -w name the same file", true, false},
		{"metrics reading a file", []string{"-r", garbage, "--metrics", ":9464"}, "--metrics serves a live capture's metrics", true, false},
		{"metrics without a port", []string{"-i", "lo", "--metrics", "127.0.0.1"}, "--metrics 127.0.0.1: want host:port", true, false},
		{"metrics bad port", []string{"-i", "lo", "--metrics", ":http"}, `--metrics :http: port "http"`, true, false},
		{"metrics host name", []string{"-i", "lo", "--metrics", "example.com:9464"}, `host "example.com": want an IP address`, true, false},
		{"metrics max series", []string{"-i", "lo", "--metrics", ":9464", "--metrics-max-series", "0"}, "--metrics-max-series 0: want 1 or more", true, false},
		{"metrics expire", []string{"-i", "lo", "--metrics", ":9464", "--metrics-expire", "0s"}, "--metrics-expire 0s: want more than 0", true, false},
		{"metrics options alone", []string{"-i", "lo", "--metrics-pod-labels"}, "give --metrics ADDR", true, false},
		{"missing file", []string{"-r", filepath.Join(dir, "nope.pcap")}, "open capture file: open " + filepath.Join(dir, "nope.pcap") + ": no such file or directory", false, false},
		{"not a capture", []string{"-r", garbage}, "corrupt capture file", false, false},
		{"truncated capture", []string{"-r", truncated}, "truncated", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := newRootCommand(&stdout, &stderr)
			cmd.SetArgs(tt.args)
			err := cmd.Execute()
			if err == nil {
				t.Fatalf("no error; stdout:\n%s", stdout.String())
			}
			if !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tt.wantErr)
			}
			var u usageError
			if got := errors.As(err, &u); got != tt.wantUsage {
				t.Errorf("usage error: %v, want %v", got, tt.wantUsage)
			}
			if got := stdout.Len() > 0; got != tt.wantOut {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}

// TestReadFilters checks that --port and the expression select connections
// when reading a file, as they do in the kernel.
func TestReadFilters(t *testing.T) {
	const capture = "../../testdata/push_pull_null.pcap"
	all := runArgs(t, "-r", capture)
	if !strings.Contains(all, `message: "3" 33`) {
		t.Fatalf("unfiltered read lacks the messages:\n%s", all)
	}
	for _, args := range [][]string{
		{"--port", "17001"},
		{"port 17001"},
		{"port 9 or port 17001"},
		{"tcp", "port", "17001"},
	} {
		if got := runArgs(t, append([]string{"-r", capture}, args...)...); got != all {
			t.Errorf("%q selects differently:\n%s", args, got)
		}
	}
	if got := runArgs(t, "-r", capture, "--port", "17002"); got != "" {
		t.Errorf("port 17002 matches nothing in this capture, got:\n%s", got)
	}
}

// TestReadExpressions runs full pcap-filter expressions over a capture: the
// same language the kernel runs live.
func TestReadExpressions(t *testing.T) {
	const capture = "../../testdata/push_pull_null.pcap"
	all := runArgs(t, "-r", capture)
	for _, tt := range []struct {
		expr      string
		want      string // "all", "none", or "server": only the PULL side's direction
		wantLines []string
	}{
		{"host 127.0.0.1 and tcp port 17001", "all", nil},
		{"portrange 17000-17005", "all", nil},
		{"tcp[tcpflags] & (tcp-push|tcp-syn|tcp-fin) != 0", "all", nil},
		{"host 10.1.2.3", "none", nil},
		{"not tcp", "none", nil},
		{"src port 17001", "server", []string{`READY: Socket-Type="PULL"`}},
	} {
		got := runArgs(t, "-r", capture, tt.expr)
		switch tt.want {
		case "all":
			if got != all {
				t.Errorf("%q selects differently:\n%s", tt.expr, got)
			}
		case "none":
			if got != "" {
				t.Errorf("%q should select nothing, got:\n%s", tt.expr, got)
			}
		case "server":
			if strings.Contains(got, "PUSH") || strings.Contains(got, "message:") {
				t.Errorf("%q must keep only the server's direction:\n%s", tt.expr, got)
			}
			for _, w := range tt.wantLines {
				if !strings.Contains(got, w) {
					t.Errorf("%q: missing %q in:\n%s", tt.expr, w, got)
				}
			}
		}
	}
}

// TestFrameKeep checks when the kernel follows ZMTP frames and how many body
// bytes it keeps of each.
func TestFrameKeep(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want int
	}{
		{nil, 64},
		{[]string{"-s", "300"}, 300},
		{[]string{"-s", "4"}, minFrameKeep},
		{[]string{"-s", "0"}, minFrameKeep},
		{[]string{"-q"}, 64},
		{[]string{"--json"}, 64},
		{[]string{"-w", "x.pcapng"}, 0},
		{[]string{"-v"}, 0},
		{[]string{"-w", "x.pcapng", "-s", "64"}, 64},
		{[]string{"-v", "-s", "100"}, 100},
		{[]string{"--whole-payloads"}, 0},
		{[]string{"--whole-payloads", "-s", "64"}, 0},
	} {
		c, err := parse(append([]string{"-i", "lo"}, tt.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if got := c.frameKeep(); got != tt.want {
			t.Errorf("%v: kernel keeps %d body bytes, want %d", tt.args, got, tt.want)
		}
	}
}
