package main

import (
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
)

func TestDiagnoseFlags(t *testing.T) {
	const f = "../../testdata/push_pull_null.pcap"
	c, err := parse("-r", f)
	if err != nil {
		t.Fatal(err)
	}
	if c.diagnose != diagnose.DefaultConfig() || c.noProblems {
		t.Errorf("defaults: %+v, no-problems %v", c.diagnose, c.noProblems)
	}
	if sc := c.session(); sc.NoProblems || sc.Diagnose != diagnose.DefaultConfig() {
		t.Errorf("session config: %+v %v", sc.Diagnose, sc.NoProblems)
	}
	c, err = parse("-r", f, "--refused-attempts", "10", "--refused-quiet", "3s", "--stall-after", "1s", "--no-problems")
	if err != nil {
		t.Fatal(err)
	}
	d := c.diagnose
	if d.RefusedAttempts != 10 || d.RefusedQuiet != 3*time.Second || d.StallAfter != time.Second || !c.noProblems {
		t.Errorf("set: %+v, no-problems %v", d, c.noProblems)
	}
	if sc := c.session(); !sc.NoProblems || sc.Diagnose != d {
		t.Errorf("session config: %+v %v", sc.Diagnose, sc.NoProblems)
	}
	for _, bad := range [][]string{
		{"--refused-attempts", "0"},
		{"--refused-quiet", "0s"},
		{"--stall-after", "-1s"},
		{"--stall-after", "soon"},
	} {
		if _, err := parse(append([]string{"-r", f}, bad...)...); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: err %v, want one naming %s", bad, err, bad[0])
		}
	}
}

// TestNoProblems: a capture with a problem prints it and sums it up on
// stderr; --no-problems prints neither.
func TestNoProblems(t *testing.T) {
	const f = "../../testdata/plain_rejected.pcap"
	out, errOut := runOutputs(t, "-r", f)
	if !strings.Contains(out, "problem: auth-failed") || !strings.Contains(errOut, "problems: 1 auth-failed (1 connection: ") {
		t.Errorf("stdout\n%s\nstderr\n%s", out, errOut)
	}
	out, errOut = runOutputs(t, "-r", f, "--no-problems")
	if strings.Contains(out, "problem") || strings.Contains(errOut, "problem") {
		t.Errorf("--no-problems: stdout\n%s\nstderr\n%s", out, errOut)
	}
	out, _ = runOutputs(t, "-r", f, "--json")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, `{"event":"problems","by_kind":{"auth-failed":{"count":1,`) {
		t.Errorf("--json: last line %s", last)
	}
	out, errOut = runOutputs(t, "-r", "../../testdata/push_pull_null.pcap")
	if strings.Contains(out, "problem") || strings.Contains(errOut, "problem") {
		t.Errorf("a healthy capture: stdout\n%s\nstderr\n%s", out, errOut)
	}
}
