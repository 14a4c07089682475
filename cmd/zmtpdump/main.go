// Command zmtpdump captures ZeroMQ (ZMTP) traffic with eBPF, or reads it
// from pcap files, and prints what the peers say to each other.
//
// It holds the cobra commands, the flags, their validation and the wiring:
// the raw flags (config) resolve into a session.Config that session.Run
// runs; `check` reports probe.Run.
//
// Imports: session (the pipeline), probe (`check`), and for building the
// session's configuration loader, filter, flows, diagnose (the thresholds),
// output and pcapfile, metrics (the --metrics address and its defaults);
// nothing imports it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// A closed stdout (zmtpdump | head) is an EPIPE error to handle, not
	// a SIGPIPE that kills zmtpdump before the -w file and the statistics
	// are written (see stdoutClosed).
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCommand(os.Stdout, os.Stderr)
	if err := cmd.ExecuteContext(ctx); err != nil {
		var u usageError
		fmt.Fprintf(os.Stderr, "zmtpdump: %v\n", err)
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
