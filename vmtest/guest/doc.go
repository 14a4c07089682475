// Command guest is the /init of the virtual machine that `make check-kernels`
// boots (see vmtest/README.md). It mounts what zmtpdump needs, loads the
// kernel modules packed next to it, brings lo up, runs a few live checks of
// zmtpdump against static go-zeromq peers and writes one line per check to
// the second serial port (/dev/ttyS1):
//
//	INFO kernel <release> <version>
//	PASS <name> (<duration>)
//	FAIL <name>: <reason>
//	| <detail line of a failure>
//	<N> passed, <M> failed
//
// then powers the machine off. The host reads that file: qemu's exit status
// says nothing about the checks.
//
// Kernel command-line options it reads: vmtest.timeout=<seconds> (give up,
// report and power off after that long), vmtest.verbose (show the output of
// passed checks too) and vmtest.sabotage (add a check that fails, to prove
// that the harness reports failures, and make each ipc and lockdown check
// want one thing that is false, to prove that they can fail).
//
// The machine boots with lockdown=integrity: the ipc:// checks run first,
// then raise-lockdown raises it to confidentiality for the rest.
//
// Run as anything but PID 1 (as root, on a scratch machine), it runs the
// checks here and reports on stdout, without mounting or powering off; the
// binaries are then looked up in $VMTEST_BIN (default /bin), and
// $VMTEST_CHECKS (names, comma-separated) picks some of the checks.
// raise-lockdown refuses to run there: the lockdown would last until the
// machine's next boot.
//
// Imports: internal/livetest (the live-test kit it shares with e2e and
// bench), nothing else of ours: it runs the zmtpdump binary; nothing
// imports it.
package main
