package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/output"
)

// parse validates a command line into a config without running it.
func parse(args ...string) (config, error) {
	var got config
	cmd := newRootCommand(io.Discard, io.Discard)
	cmd.SetArgs(args)
	cmd.SetContext(withConfigHook(context.Background(), func(c *config) bool { got = *c; return false }))
	err := cmd.Execute()
	return got, err
}

func TestOutputFlags(t *testing.T) {
	const f = "../../testdata/push_pull_null.pcap"
	for _, tt := range []struct {
		name  string
		args  []string
		check func(c config) bool
	}{
		{"defaults", nil, func(c config) bool {
			return c.timeFormat == output.TimeOfDay && c.count == 0 && c.duration == 0 && c.writeFile == "" &&
				!c.summary && !c.textOnly && !c.hexDump && c.color == "auto" && c.status == "auto"
		}},
		{"-t", []string{"-t"}, func(c config) bool { return c.timeFormat == output.TimeNone }},
		{"-tt", []string{"-tt"}, func(c config) bool { return c.timeFormat == output.TimeUnix }},
		{"-ttt", []string{"-ttt"}, func(c config) bool { return c.timeFormat == output.TimeDelta }},
		{"-tttt", []string{"-tttt"}, func(c config) bool { return c.timeFormat == output.TimeDate }},
		{"-t -t", []string{"-t", "-t"}, func(c config) bool { return c.timeFormat == output.TimeUnix }},
		{"-ttttt stays at date", []string{"-ttttt"}, func(c config) bool { return c.timeFormat == output.TimeDate }},
		{"--time=delta", []string{"--time=delta"}, func(c config) bool { return c.timeFormat == output.TimeDelta }},
		{"-nn no-op", []string{"-nn", "-tt"}, func(c config) bool { return c.numeric == 2 && c.timeFormat == output.TimeUnix }},
		{"-c", []string{"-c", "5"}, func(c config) bool { return c.count == 5 }},
		{"-G seconds", []string{"-G", "90"}, func(c config) bool { return c.duration == 90*time.Second }},
		{"--duration", []string{"--duration", "1m30s"}, func(c config) bool { return c.duration == 90*time.Second }},
		{"-A", []string{"-A"}, func(c config) bool { return c.textOnly && c.outputOptions().Body == output.BodyText }},
		{"-X", []string{"-X"}, func(c config) bool { return c.hexDump && c.outputOptions().Body == output.BodyHexDump }},
		{"-q", []string{"-q"}, func(c config) bool { return c.summary }},
		{"-w", []string{"-w", "out.pcapng"}, func(c config) bool { return c.writeFile == "out.pcapng" }},
		{"-w -", []string{"-w", "-", "-q"}, func(c config) bool { return c.writeFile == "-" }},
		{"--color", []string{"--color"}, func(c config) bool { return c.color == "always" && c.colorOn }},
		{"--color=never", []string{"--color=never"}, func(c config) bool { return !c.colorOn }},
		{"--status=always", []string{"--status=always"}, func(c config) bool { return c.statusOn }},
		{"auto is off on pipes", nil, func(c config) bool { return !c.colorOn && !c.statusOn }},
		{"filter text", []string{"port", "17001"}, func(c config) bool { return c.filterText == "port 17001" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(append([]string{"-r", f}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

func TestOutputFlagErrors(t *testing.T) {
	const f = "../../testdata/push_pull_null.pcap"
	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"negative count", []string{"-c", "-1"}, "--count -1: must be 0 or more"},
		{"negative duration", []string{"-G", "-5s"}, "--duration -5s: must be 0 or more"},
		{"bad duration", []string{"-G", "soon"}, "want seconds or a duration"},
		{"bad time format", []string{"--time=epoch"}, `time format "epoch"`},
		{"bad color", []string{"--color=sometimes"}, "want one of [auto never always]"},
		{"bad status", []string{"--status=yes"}, "want one of [auto never always]"},
		{"-A and -X", []string{"-A", "-X"}, "-A and -X exclude each other"},
		{"-X and --json", []string{"-X", "--json"}, "not --json"},
		{"-q and --json", []string{"-q", "--json"}, "--summary prints a table"},
		{"-w - and -v", []string{"-w", "-", "-v"}, "-w - writes the capture to stdout"},
		{"-w - and --json", []string{"-w", "-", "--json"}, "-w - writes the capture to stdout"},
		{"-w over -r", []string{"-w", f}, "would overwrite the file -r reads"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(append([]string{"-r", f}, tt.args...)...)
			var u usageError
			if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want a usage error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestResolveTerminal(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	tty := func(w io.Writer) bool { return w == os.Stdout || w == os.Stderr }
	notty := func(io.Writer) bool { return false }
	for _, tt := range []struct {
		name              string
		cfg               config
		env               map[string]string
		tty               func(io.Writer) bool
		wantColor, wantSt bool
	}{
		{"terminal", config{color: "auto", status: "auto"}, nil, tty, true, false},
		{"NO_COLOR", config{color: "auto", status: "auto"}, map[string]string{"NO_COLOR": "1"}, tty, false, false},
		{"TERM=dumb", config{color: "auto", status: "auto"}, map[string]string{"TERM": "dumb"}, tty, false, false},
		{"always beats NO_COLOR", config{color: "always", status: "auto"}, map[string]string{"NO_COLOR": "1"}, notty, true, false},
		{"pipe", config{color: "auto", status: "auto"}, nil, notty, false, false},
		{"json", config{color: "auto", status: "auto", json: true}, nil, tty, false, false},
		{"summary: status, no colour", config{color: "auto", status: "auto", summary: true}, nil, tty, false, true},
		{"-w -: status", config{color: "auto", status: "auto", writeFile: "-"}, nil, tty, false, true},
		{"reading a file: no status", config{color: "auto", status: "auto", summary: true, readFile: "x"}, nil, tty, false, false},
		{"never", config{color: "never", status: "never", summary: true}, nil, tty, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			c.resolveTerminal(os.Stdout, os.Stderr, env(tt.env), tt.tty)
			if c.colorOn != tt.wantColor || c.statusOn != tt.wantSt {
				t.Errorf("colour %v, status %v; want %v, %v", c.colorOn, c.statusOn, tt.wantColor, tt.wantSt)
			}
		})
	}
}
