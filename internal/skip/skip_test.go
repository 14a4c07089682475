package skip

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestUnavailableHelper is run by TestUnavailable in a child process.
func TestUnavailableHelper(t *testing.T) {
	if os.Getenv("ZMTPDUMP_SKIP_CHILD") != "1" {
		return
	}
	Unavailable(t, "no %s here", "frobnicator")
	t.Log("after Unavailable: must not run")
}

// TestUnavailable runs a test that lacks a facility with and without
// ZMTPDUMP_REQUIRE_E2E=1: it must skip without, and fail with it.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		require string
		fail    bool
		want    string
	}{
		{"", false, "--- SKIP: TestUnavailableHelper"},
		{"0", false, "--- SKIP: TestUnavailableHelper"},
		{"1", true, "--- FAIL: TestUnavailableHelper"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailableHelper$", "-test.v")
		cmd.Env = append(os.Environ(), "ZMTPDUMP_SKIP_CHILD=1", EnvRequire+"="+tc.require)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.fail {
			t.Errorf("%s=%q: exit error %v, want failure %v:\n%s", EnvRequire, tc.require, err, tc.fail, out)
		}
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "no frobnicator here") {
			t.Errorf("%s=%q: output lacks %q and the reason:\n%s", EnvRequire, tc.require, tc.want, out)
		}
		if strings.Contains(string(out), "must not run") {
			t.Errorf("%s=%q: the test went on after Unavailable:\n%s", EnvRequire, tc.require, out)
		}
	}
}
