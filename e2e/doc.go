// Package e2e holds zmtpdump's end-to-end tests: they build the real binary
// and the libzmq test peer, capture live on lo with eBPF and assert what a
// user sees. They need root and a kernel with BPF ring buffers and TCX; they
// skip without them, unless ZMTPDUMP_REQUIRE_E2E=1 (set by CI) turns the skip
// into a failure.
//
// The harness (harness_test.go) builds on the live-test kit it shares with
// vmtest/guest and bench, internal/livetest: a running zmtpdump is a
// livetest.Dump, and the exit statistics a test checks are the JSON object
// zmtpdump prints last with --json or writes to --stats-file (read as a
// livetest.Stats), never its text.
//
// docker_test.go starts a dockerd of its own (dockerd_test.go), builds the
// image with `make image` and runs it with the docker run flags
// podrun_test.go derives from deploy/daemonset.yaml; ocicaps/ is the OCI runtime wrapper that
// grants the capabilities Debian's dockerd refuses by name.
//
// Imports: any of our packages (it tests them from outside, as a user
// would); nothing imports it.
package e2e
