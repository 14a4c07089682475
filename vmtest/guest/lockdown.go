package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// lockdownFile is where the kernel says, and root raises, its lockdown.
const lockdownFile = "/sys/kernel/security/lockdown"

// checkIPCCommand: under integrity lockdown `zmtpdump check` says so and
// reports the ipc capture as usable (its line is not "ipc: impossible").
func checkIPCCommand(e *env) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), startLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.zmtpdump, "check").CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("zmtpdump check: %w", err)
	}
	var problems []string
	if !strings.Contains(string(out), "  -    kernel lockdown: integrity ") {
		problems = append(problems, "no line saying kernel lockdown: integrity (the machine boots with lockdown=integrity)")
	}
	var ipc []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "ipc:") {
			ipc = append(ipc, l)
		}
	}
	usable := len(ipc) == 1 && len(ipc[0]) > len("ipc: ") && !strings.HasPrefix(ipc[0], "ipc: impossible")
	if e.sabotage {
		usable = !usable // vmtest.sabotage: want the ipc capture impossible
	}
	if !usable {
		problems = append(problems, fmt.Sprintf("want one line \"ipc: <mechanism>\" (not impossible), got %q", ipc))
	}
	return string(out), joinProblems(problems)
}

// checkRaiseLockdown: raises the lockdown the machine booted with
// (integrity) to confidentiality at run time, as root may (never down),
// and verifies it took: the checks after it run under confidentiality.
// Only as the virtual machine's init: elsewhere it would lock the host
// down until its next boot.
func checkRaiseLockdown(e *env) (string, error) {
	if !e.init {
		return "", errors.New("not raising the kernel lockdown outside the virtual machine (it lasts until the next boot)")
	}
	was, err := os.ReadFile(lockdownFile)
	if err != nil {
		return "", err
	}
	if !strings.Contains(string(was), "[integrity]") {
		return string(was), fmt.Errorf("%s says %q before raising it, want [integrity] (lockdown=integrity on the command line)", lockdownFile, strings.TrimSpace(string(was)))
	}
	if err := os.WriteFile(lockdownFile, []byte("confidentiality"), 0); err != nil {
		return string(was), fmt.Errorf("raise the lockdown: %w", err)
	}
	now, err := os.ReadFile(lockdownFile)
	if err != nil {
		return "", err
	}
	details := fmt.Sprintf("before: %s\nafter: %s\n", strings.TrimSpace(string(was)), strings.TrimSpace(string(now)))
	want := "[confidentiality]"
	if e.sabotage {
		want = "[integrity]" // vmtest.sabotage: as if the write had not taken
	}
	if !strings.Contains(string(now), want) {
		return details, fmt.Errorf("%s says %q after the write, want %s", lockdownFile, strings.TrimSpace(string(now)), want)
	}
	return details, nil
}

// checkIPCRefused: under confidentiality lockdown zmtpdump --ipc exits
// with an error that names the lockdown, and leaves nothing loaded.
func checkIPCRefused(e *env) (string, error) {
	if err := waitNoProgs("an earlier check"); err != nil {
		return "", err
	}
	path, err := freshSocketPath("a.ipc")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startLimit)
	defer cancel()
	out, err := exec.CommandContext(ctx, e.zmtpdump, "--ipc", path, "--json").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return string(out), fmt.Errorf("want zmtpdump --ipc to exit with an error under confidentiality, got %v", err)
	}
	if strings.Contains(string(out), "panic:") || exit.ExitCode() == 0 || ctx.Err() != nil {
		return string(out), fmt.Errorf("zmtpdump --ipc crashed or hung (%w) instead of reporting an error", err)
	}
	want := "kernel lockdown (confidentiality) forbids"
	if e.sabotage {
		want = "kernel lockdown (integrity) forbids" // vmtest.sabotage
	}
	if !strings.Contains(string(out), want) {
		return string(out), fmt.Errorf("its error does not say %q", want)
	}
	if err := waitNoProgs("a refused --ipc"); err != nil {
		return string(out), err
	}
	return string(out), noLeftovers("a refused --ipc")
}
