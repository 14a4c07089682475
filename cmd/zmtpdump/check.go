package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/probe"
)

// errCannotCapture is returned by check when no backend works.
var errCannotCapture = errors.New("live capture is impossible here")

func newCheckCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Report what this kernel and these privileges allow, and which backend a capture would use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := probe.Run()
			printReport(stdout, r)
			if r.Backend == "" {
				return fmt.Errorf("%w: %s", errCannotCapture, r.Reason)
			}
			return nil
		},
	}
}

func printReport(w io.Writer, r probe.Report) {
	fmt.Fprintf(w, "kernel %s\n", r.Kernel)
	for _, f := range r.Features {
		if f.Err == nil {
			fmt.Fprintf(w, "  yes  %s\n", f.Name)
		} else {
			fmt.Fprintf(w, "  no   %s: %v\n", f.Name, f.Err)
		}
	}
	switch r.Lockdown {
	case "":
		fmt.Fprintln(w, "  ?    kernel lockdown: not reported (/sys/kernel/security/lockdown unreadable)")
	case "none":
		fmt.Fprintln(w, "  -    kernel lockdown: none")
	default:
		fmt.Fprintf(w, "  -    kernel lockdown: %s (capture needs nothing it forbids)\n", r.Lockdown)
	}
	fmt.Fprintln(w, "privileges")
	for _, c := range r.Capabilities {
		mark := "no "
		if c.Held {
			mark = "yes"
		}
		fmt.Fprintf(w, "  %s  %s\n", mark, c.Name)
	}
	switch r.Backend {
	case loader.TCX:
		fmt.Fprintln(w, "capture would use: TCX")
	case loader.Socket:
		fmt.Fprintln(w, "capture would use: socket filter (AF_PACKET)")
	default:
		fmt.Fprintf(w, "capture impossible: %s\n", r.Reason)
	}
	if r.IPC != "" {
		fmt.Fprintf(w, "ipc: %s\n", r.IPC)
	} else {
		fmt.Fprintf(w, "ipc: impossible: %s\n", r.IPCReason)
	}
}
