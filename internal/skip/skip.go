package skip

import (
	"fmt"
	"os"
	"testing"
)

// EnvRequire is the variable that turns skips into failures.
const EnvRequire = "ZMTPDUMP_REQUIRE_E2E"

// Required reports whether ZMTPDUMP_REQUIRE_E2E=1: missing facilities fail
// the test instead of skipping it.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Unavailable ends the test because what it needs is missing, as described
// by format and args: a skip, or a failure when Required.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("required by %s=1 but cannot run: %s", EnvRequire, msg)
	}
	t.Skipf("skipping: %s", msg)
}
