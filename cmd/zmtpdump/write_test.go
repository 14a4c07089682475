package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// TestPcapngRoundTrip writes every capture in testdata again with -w, reads
// the result back with -r and with tcpdump, and expects the same
// conversations: the same decoded events, the same TCP packets.
func TestPcapngRoundTrip(t *testing.T) {
	captures, err := filepath.Glob("../../testdata/*.pcap*")
	if err != nil || len(captures) == 0 {
		t.Fatalf("no captures in testdata: %v", err)
	}
	tcpdump, _ := exec.LookPath("tcpdump")
	for _, capture := range captures {
		t.Run(filepath.Base(capture), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.pcapng")
			// Decoding and writing at once: the text is what -r alone prints.
			orig := runArgs(t, "-r", capture)
			if got := runArgs(t, "-r", capture, "-w", out); got != orig {
				t.Errorf("-w changed the decoded output:\n%s", cmp.Diff(orig, got))
			}
			for _, mode := range [][]string{nil, {"--json"}} {
				want := runArgs(t, append([]string{"-r", capture}, mode...)...)
				got := runArgs(t, append([]string{"-r", out}, mode...)...)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("zmtpdump -r of the written file %v differs (-orig +written):\n%s", mode, diff)
				}
			}
			if tcpdump == "" {
				if skip.Required() {
					t.Fatalf("%s=1 but tcpdump is not installed: the written file cannot be checked with it", skip.EnvRequire)
				}
				t.Log("no tcpdump: not checked with it")
				return
			}
			want, got := tcpdumpPackets(t, tcpdump, capture), tcpdumpPackets(t, tcpdump, out)
			if len(got) == 0 {
				t.Fatal("tcpdump shows no packets in the written file")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tcpdump -r of the written file differs (-orig +written):\n%s", diff)
			}
		})
	}
}

// tcpdumpOptions matches the TCP options, which the rebuilt frames do not
// keep but for a SYN's window scale.
var (
	tcpdumpOptions = regexp.MustCompile(`, options \[[^]]*\]`)
	tcpdumpWScale  = regexp.MustCompile(`wscale \d+`)
)

// keptOptions returns what the rebuilt frames keep of tcpdump's options
// field: the window scale, if any.
func keptOptions(opts string) string {
	if ws := tcpdumpWScale.FindString(opts); ws != "" {
		return ", " + ws
	}
	return ""
}

// tcpdumpPackets returns tcpdump -nn -r's line for each TCP packet of file,
// without the fields the pcapng writer does not keep.
func tcpdumpPackets(t *testing.T, tcpdump, file string) []string {
	t.Helper()
	out, err := exec.Command(tcpdump, "-nn", "-r", file).Output()
	if err != nil {
		t.Fatalf("tcpdump -nn -r %s: %v", file, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains(l, "Flags [") {
			lines = append(lines, tcpdumpOptions.ReplaceAllStringFunc(l, keptOptions))
		}
	}
	return lines
}

// TestWriteStdout checks -w -: the pcapng file on stdout and nothing else
// there; the -q table goes to stderr.
func TestWriteStdout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cmd := newRootCommand(&stdout, &stderr)
	cmd.SetArgs([]string{"-r", "../../testdata/push_pull_null.pcap", "-w", "-", "-q"})
	cmd.SetContext(context.Background())
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stdout.Bytes(), []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		t.Fatalf("stdout does not start with a pcapng section header: % x", stdout.Bytes()[:min(16, stdout.Len())])
	}
	if !strings.HasPrefix(stderr.String(), "ZMTP conversations: 1\n") {
		t.Errorf("the -q table is not on stderr: %q", stderr.String())
	}
	file := filepath.Join(t.TempDir(), "stdout.pcapng")
	if err := os.WriteFile(file, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := runArgs(t, "-r", file), runArgs(t, "-r", "../../testdata/push_pull_null.pcap"); got != want {
		t.Errorf("the pcapng written to stdout decodes differently:\n%s", cmp.Diff(want, got))
	}
}

// TestWriteCount checks that -c stops the writing too: the written file
// holds the packets up to the one that completed the last message.
func TestWriteCount(t *testing.T) {
	out := filepath.Join(t.TempDir(), "two.pcapng")
	runArgs(t, "-r", "../../testdata/push_pull_null.pcap", "-c", "2", "-w", out)
	got := runArgs(t, "-r", out)
	want, err := os.ReadFile("testdata/golden/null.c2.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("the file written with -c 2 decodes as:\n%s", got)
	}
}

func TestVersion(t *testing.T) {
	got := runArgs(t, "version")
	if !regexp.MustCompile(`^zmtpdump dev\ngo1\.\d+.* linux/\w+\n$`).MatchString(got) {
		t.Errorf("version: %q", got)
	}
}

func TestGenDocs(t *testing.T) {
	dir := t.TempDir()
	runArgs(t, "gen-docs", dir)
	for file, want := range map[string]string{
		"man/zmtpdump.8":            `\fB-w\fP, \fB--write\fP`,
		"man/zmtpdump-check.8":      "zmtpdump-check",
		"man/zmtpdump-version.8":    "zmtpdump-version",
		"completions/zmtpdump.bash": "__start_zmtpdump",
		"completions/_zmtpdump":     "#compdef zmtpdump",
		"completions/zmtpdump.fish": "complete -c zmtpdump",
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Error(err)
			continue
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", file, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "man/zmtpdump-gen-docs.8")); err == nil {
		t.Error("the hidden gen-docs command got a man page")
	}
	if man, err := exec.LookPath("man"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, man, "-l", filepath.Join(dir, "man/zmtpdump.8"))
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "pcapng") {
			t.Errorf("man -l: %v\n%s", err, out)
		}
	}
}
