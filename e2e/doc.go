// Package e2e holds zmtpdump's end-to-end tests: they build the real binary
// and the libzmq test peer, capture live on lo with eBPF and assert what a
// user sees. They need root and a kernel with BPF ring buffers and TCX; they
// skip without them, unless ZMTPDUMP_REQUIRE_E2E=1 (set by CI) turns the skip
// into a failure.
package e2e
