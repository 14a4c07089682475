// Package probe answers `zmtpdump check`: what this kernel and these
// privileges allow, found by trying each feature (ring buffers, socket
// filters, BPF_PROG_TEST_RUN, kernel BTF, TCX, bpf_loop, process
// attribution, ipc:// capture), never from the kernel's version, and which backend a
// capture would use. Run loads and attaches small programs on lo and
// removes them at once.
//
// Imports: loader (its Backend and its TCX and framing probes), procs (a
// tracker opened and closed), unixcap (its Probe) and internal/kernel; nothing of ours imports
// it but cmd/zmtpdump.
package probe
