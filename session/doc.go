// Package session is zmtpdump's pipeline: it reads segments from a live
// capture (loader for TCP, unixcap for ipc:// on a goroutine of its own,
// merged into the loop, either or both) or a pcap file (pcapfile) with one
// loop, reassembles
// them (flows), decodes each connection with a session (zmtp), applies the
// owner gate of --pid and --comm, adds the learning-mode notes and ladders,
// and prints through one output.Printer; it writes the -w pcapng file and
// the exit statistics (output.Stats) of live captures, and serves the
// Prometheus metrics of --metrics (metrics) while capturing.
//
// The command (cmd/zmtpdump) parses and validates its flags into a Config
// and calls Run; everything after that happens here.
//
// Imports: segment, filter, flows, zmtp, diagnose, output, learn,
// pcapfile, loader, procs, metrics and unixcap;
// nothing of ours imports session but the command.
package session
