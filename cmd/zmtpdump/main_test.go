package main

import (
	"os"
	"strings"
	"testing"
)

// asMainEnv, set in the environment of this test binary, makes it run
// zmtpdump's main with its arguments instead of the tests: tests that need
// a real process (its stdout a pipe, its signals) run it so.
const asMainEnv = "ZMTPDUMP_TEST_AS_MAIN"

// hwmEnv names a file into which the test binary run as main writes, as
// it ends, its peak resident memory (VmHWM, in KiB): the memory of its own
// image, unlike the rusage a parent reads, which on Linux includes the
// parent's peak (the child inherits it through vfork and exec).
const hwmEnv = "ZMTPDUMP_TEST_HWM"

// writeHWM writes this process's VmHWM line from /proc/self/status to file.
func writeHWM(file string) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			os.WriteFile(file, []byte(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))), 0o600)
		}
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main()
		if f := os.Getenv(hwmEnv); f != "" {
			writeHWM(f)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
