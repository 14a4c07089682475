package livetest

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Listening is what zmtpdump (and tcpdump) print on stderr once they
// capture.
const Listening = "listening on"

// Dump is a started capturer: zmtpdump, or tcpdump, which says it is
// listening the same way.
type Dump struct {
	// Cmd is the started command.
	Cmd *exec.Cmd
	// Stdout holds the command's standard output, unless the caller
	// set Cmd.Stdout before Start (Stdout is then nil).
	Stdout *Buffer
	// Stderr holds the command's standard error.
	Stderr *Buffer

	exited chan struct{} // closed once the command has exited
	err    error         // how it exited; read after exited is closed
}

// Start starts cmd. Its standard error goes to Stderr, and its standard
// output to Stdout unless cmd.Stdout is already set. It does not wait for
// the command to capture: several can start at once (WaitListening waits).
func Start(cmd *exec.Cmd) (*Dump, error) {
	d := &Dump{Cmd: cmd, Stderr: &Buffer{}, exited: make(chan struct{})}
	if cmd.Stdout == nil {
		d.Stdout = &Buffer{}
		cmd.Stdout = d.Stdout
	}
	cmd.Stderr = d.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", d.name(), err)
	}
	go func() {
		d.err = cmd.Wait()
		close(d.exited)
	}()
	return d, nil
}

// name is the command's file name.
func (d *Dump) name() string { return filepath.Base(d.Cmd.Path) }

// Args returns the command's arguments (its name left out).
func (d *Dump) Args() []string { return d.Cmd.Args[1:] }

// Exited is closed once the command has exited.
func (d *Dump) Exited() <-chan struct{} { return d.exited }

// Running reports whether the command has not exited yet.
func (d *Dump) Running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// Wait waits for the command to exit and returns how it did; it may be
// called any number of times.
func (d *Dump) Wait() error {
	<-d.exited
	return d.err
}

// Kill ends the command if it still runs, and waits for it.
func (d *Dump) Kill() {
	if d.Running() {
		d.Cmd.Process.Kill()
	}
	<-d.exited
}

// WaitListening waits up to limit until the command says on stderr that it
// is listening. When it exits first, or the time is up (the command is then
// killed), the error says so and quotes stderr.
func (d *Dump) WaitListening(limit time.Duration) error {
	deadline := time.After(limit)
	for !strings.Contains(d.Stderr.String(), Listening) {
		select {
		case <-d.exited:
			return fmt.Errorf("%s %s exited before capturing (%w)\nstderr: %s", d.name(), strings.Join(d.Args(), " "), exitError(d.err), d.Stderr.String())
		case <-deadline:
			d.Kill()
			return fmt.Errorf("%s %s did not start capturing within %v\nstderr: %s", d.name(), strings.Join(d.Args(), " "), limit, d.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// exitError is how a command exited, as an error even when it exited 0.
func exitError(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// ErrNoStop is returned by Stop when the command did not exit in time.
var ErrNoStop = errors.New("did not stop on SIGINT")

// Stop sends SIGINT and waits up to limit for a clean exit; after that it
// kills the command and returns an error wrapping ErrNoStop. An exit with
// an error is returned as such.
func (d *Dump) Stop(limit time.Duration) error {
	if d.Running() {
		if err := d.Cmd.Process.Signal(syscall.SIGINT); err != nil && d.Running() {
			return fmt.Errorf("signal %s: %w", d.name(), err)
		}
	}
	select {
	case <-d.exited:
		if d.err != nil {
			return fmt.Errorf("%s exited with %w after SIGINT", d.name(), d.err)
		}
		return nil
	case <-time.After(limit):
		d.Kill()
		return fmt.Errorf("%s %w within %v; killed", d.name(), ErrNoStop, limit)
	}
}

// Stats reads the command's exit statistics, once it has exited: from the
// file its --stats-file argument names, or else, when it ran with --json
// and Stdout collected its output, from the last stats line there.
func (d *Dump) Stats() (Stats, error) {
	if path := StatsFileArg(d.Args()); path != "" {
		return ReadStatsFile(path)
	}
	if d.Stdout != nil && hasArg(d.Args(), "--json") {
		return ReadStats(strings.NewReader(d.Stdout.String()))
	}
	return Stats{}, fmt.Errorf("%s %s: no --stats-file, and no --json output collected: %w", d.name(), strings.Join(d.Args(), " "), ErrNoStats)
}

// StatsFileArg returns the path of the --stats-file argument among args
// (as "--stats-file PATH" or "--stats-file=PATH"), or "".
func StatsFileArg(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if a == "--stats-file" && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--stats-file="); ok {
			return v
		}
	}
	return ""
}

// hasArg reports whether flag is among args, before any "--".
func hasArg(args []string, flag string) bool {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == flag {
			return true
		}
	}
	return false
}
