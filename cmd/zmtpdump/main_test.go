package main

import (
	"os"
	"testing"
)

// asMainEnv, set in the environment of this test binary, makes it run
// zmtpdump's main with its arguments instead of the tests: tests that need
// a real process (its stdout a pipe, its signals) run it so.
const asMainEnv = "ZMTPDUMP_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
