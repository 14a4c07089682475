package main

import (
	"strings"
	"testing"
)

func TestColorFlag(t *testing.T) {
	const f = "../../testdata/push_pull_null.pcap"
	if out := runArgs(t, "-r", f); strings.Contains(out, "\x1b") {
		t.Errorf("colours when writing to a buffer:\n%q", out)
	}
	out := runArgs(t, "-r", f, "--color=always")
	for _, want := range []string{
		"\x1b[35m127.0.0.1:17001 > 127.0.0.1:43758\x1b[0m: \x1b[32mgreeting\x1b[0m",
		"\x1b[36m127.0.0.1:43758 > 127.0.0.1:17001\x1b[0m: \x1b[33mREADY\x1b[0m",
		"\x1b[1mconnection closed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--color=always lacks %q:\n%q", want, out)
		}
	}
	if plain := strings.NewReplacer("\x1b[0m", "", "\x1b[1m", "", "\x1b[32m", "", "\x1b[33m", "", "\x1b[35m", "", "\x1b[36m", "").Replace(out); plain != runArgs(t, "-r", f) {
		t.Errorf("without its colour codes, --color=always output differs:\n%s", plain)
	}
}
