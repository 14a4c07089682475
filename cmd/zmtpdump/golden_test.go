package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden decodes every capture in testdata with -r and compares the
// output with testdata/golden/NAME.{txt,jsonl,v.txt}. Run with -update to
// regenerate them, then review the diff.
func TestGolden(t *testing.T) {
	captures, err := filepath.Glob("../../testdata/*.pcap*")
	if err != nil || len(captures) == 0 {
		t.Fatalf("no captures in testdata: %v", err)
	}
	for _, capture := range captures {
		name := filepath.Base(capture)
		for _, mode := range []struct {
			suffix string
			args   []string
		}{
			{".txt", nil},
			{".jsonl", []string{"--json"}},
			{".v.txt", []string{"-v"}},
		} {
			t.Run(name+mode.suffix, func(t *testing.T) {
				args := append([]string{"-r", capture}, mode.args...)
				checkGolden(t, filepath.Join("../../testdata/golden", name+mode.suffix), args, runArgs(t, args...))
			})
		}
	}
}

// checkGolden compares got, the output of zmtpdump args, with the golden
// file, or rewrites the file with -update.
func checkGolden(t *testing.T, golden string, args []string, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("zmtpdump %s differs from %s (-want +got):\n%s", strings.Join(args, " "), golden, diff)
	}
}

// runArgs runs the root command as a user would, with text times in UTC.
func runArgs(t *testing.T, args ...string) string {
	t.Helper()
	stdout, _ := runOutputs(t, args...)
	return stdout
}
