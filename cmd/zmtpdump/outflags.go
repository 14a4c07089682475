package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/zmtpdump/zmtpdump/output"
)

var whenChoices = []string{"auto", "never", "always"}

// addOutputFlags adds the flags that shape what is printed or written and
// when the capture stops, with their shell completions.
func addOutputFlags(cmd *cobra.Command, cfg *config) {
	f := cmd.Flags()
	f.StringVarP(&cfg.writeFile, "write", "w", "", `also write the captured packets to this pcapng file ("-": stdout, then nothing else is printed there)`)
	f.IntVarP(&cfg.count, "count", "c", 0, "stop after this many ZMTP messages (0: no limit)")
	f.VarP(durationFlag{&cfg.duration}, "duration", "G", "stop after this long: seconds or a duration such as 90s (with -r: capture time from the first packet)")
	f.VarP(timeFlag{&cfg.timeFormat}, "time", "t", "timestamps: -t none, -tt unix seconds, -ttt delta since the previous line, -tttt date and time; or --time=default|none|unix|delta|date (default: time of day)")
	f.Lookup("time").NoOptDefVal = stepTime
	f.CountVarP(&cfg.numeric, "numeric", "n", "accepted for tcpdump's habits: addresses and ports are always numeric")
	f.BoolVarP(&cfg.textOnly, "text", "A", false, "show frame bodies as text only (no hex)")
	f.BoolVarP(&cfg.hexDump, "hex-dump", "X", false, "also dump the kept bytes of each frame in hex and ASCII, tcpdump -X style")
	f.BoolVarP(&cfg.summary, "summary", "q", false, "print only a table of the conversations, at exit")
	f.Var(choiceFlag{&cfg.color, whenChoices}, "color", "colour text output: auto (on a terminal, unless NO_COLOR is set), never or always")
	f.Lookup("color").NoOptDefVal = "always"
	addLearnFlags(cmd, cfg)
	f.Var(choiceFlag{&cfg.status, whenChoices}, "status", "show a live status line on stderr: auto (when stderr is a terminal and stdout is not printed to), never or always")

	for _, name := range []string{"color", "status"} {
		must(cmd.RegisterFlagCompletionFunc(name, cobra.FixedCompletions(whenChoices, cobra.ShellCompDirectiveNoFileComp)))
	}
	must(cmd.RegisterFlagCompletionFunc("time", cobra.FixedCompletions([]string{"default", "none", "unix", "delta", "date"}, cobra.ShellCompDirectiveNoFileComp)))
	must(cmd.RegisterFlagCompletionFunc("backend", cobra.FixedCompletions([]string{"auto", "tcx", "socket"}, cobra.ShellCompDirectiveNoFileComp)))
	must(cmd.RegisterFlagCompletionFunc("interface", completeInterfaces))
	must(cmd.MarkFlagFilename("read", "pcap", "pcapng", "cap"))
	must(cmd.MarkFlagFilename("write", "pcapng"))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// completeInterfaces offers the interfaces of this machine and "any".
func completeInterfaces(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	names := []string{"any"}
	if all, err := net.Interfaces(); err == nil {
		for _, ni := range all {
			names = append(names, ni.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// finishOutput validates the output flags.
func (c *config) finishOutput() error {
	switch {
	case c.count < 0:
		return fmt.Errorf("--count %d: must be 0 or more", c.count)
	case c.duration < 0:
		return fmt.Errorf("--duration %v: must be 0 or more", c.duration)
	case c.textOnly && c.hexDump:
		return errors.New("-A and -X exclude each other: -X already shows the text")
	case c.json && (c.textOnly || c.hexDump):
		return errors.New("-A and -X shape text output, not --json")
	case c.json && c.summary:
		return errors.New(`--summary prints a table, not JSON: with --json, keep the "connection" events`)
	case c.writeFile == "-" && (c.json || c.verbose || c.textOnly || c.hexDump):
		return errors.New("-w - writes the capture to stdout: --json, -v, -A and -X print nothing there")
	}
	if c.writeFile != "" && c.writeFile != "-" && c.readFile != "" {
		in, errIn := os.Stat(c.readFile)
		out, errOut := os.Stat(c.writeFile)
		if errIn == nil && errOut == nil && os.SameFile(in, out) {
			return fmt.Errorf("-w %s would overwrite the file -r reads", c.writeFile)
		}
	}
	return c.finishLearn()
}

// resolveTerminal decides colours and the live status line from the flags,
// the environment (NO_COLOR, TERM=dumb) and whether stdout and stderr are
// terminals, as tty says.
func (c *config) resolveTerminal(stdout, stderr io.Writer, getenv func(string) string, tty func(io.Writer) bool) {
	printsLines := !c.summary && c.writeFile != "-"
	switch c.color {
	case "always":
		c.colorOn = true
	case "auto":
		c.colorOn = printsLines && !c.json && tty(stdout) &&
			getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
	}
	switch c.status {
	case "always":
		c.statusOn = true
	case "auto":
		// Live only, and not over lines printed on the same terminal.
		c.statusOn = c.readFile == "" && tty(stderr) && (!printsLines || !tty(stdout))
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// outputOptions are the printer options the config asks for.
func (c *config) outputOptions() output.Options {
	body := output.BodyQuotedHex
	switch {
	case c.textOnly:
		body = output.BodyText
	case c.hexDump:
		body = output.BodyHexDump
	}
	return output.Options{
		Location:    c.loc,
		Time:        c.timeFormat,
		Body:        body,
		Color:       c.colorOn,
		Verbose:     c.verbose,
		ShowSecrets: c.showSecrets,
	}
}
