// Package livetest is the kit the live tests share: the end-to-end tests
// (e2e), the program the kernel-matrix virtual machines run (vmtest/guest)
// and the benchmark program (bench). It starts and stops a capturer and
// collects its output (Dump, Buffer), finds what it printed (Lines), picks
// a free port (FreePort), makes and enters network namespaces (NewNetns,
// InNetns, InNetnsPath), configures links in them over netlink (Netlink,
// on vishvananda/netlink), and reads zmtpdump's exit statistics, the JSON
// object it prints last with --json and writes to --stats-file (Stats,
// ReadStats, ReadStatsFile).
//
// It is a normal package, not a test one, so that programs can import it:
// nothing here imports package testing. The few helpers meant for tests
// take a TB, which *testing.T satisfies.
//
// Imports: none of our packages (its tests: internal/skip). Only e2e,
// vmtest/guest, bench and tests (RawControl, the terminal oracle of the
// printers' hostile-input tests) import it; nothing that ships
// (cmd/zmtpdump and the packages below it) may.
package livetest
