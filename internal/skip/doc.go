// Package skip decides what a test does when a facility it needs (root, a
// kernel feature, a Debian tool) is missing here: it skips, unless
// ZMTPDUMP_REQUIRE_E2E=1 (set by CI) says every such test must run, in which
// case it fails.
//
// Imports: nothing of ours; only tests import it.
package skip
