package main

import (
	"os/exec"
	"regexp"
	"strings"
)

// checkQuietSocket: -q alone asks for kernel counting (count mode), which
// the socket filter has no room for: the start-up line says it is not on
// and why, and the table still counts a go-zeromq PUSH -> PULL
// conversation exactly, message frames shipped as without it.
func checkQuietSocket(e *env) (string, error) {
	if err := waitNoProgs("an earlier check"); err != nil {
		return "", err
	}
	d, out, errOut, details, err := captured(e, "tcp://127.0.0.1:7005", (*exec.Cmd).Start, "-q", "--status", "never", "-i", "lo", "--port", "7005")
	if d != nil {
		defer d.kill()
	}
	if err != nil {
		return details, err
	}
	var problems []string
	if !strings.Contains(errOut, "no kernel counting on the socket backend") {
		problems = append(problems, "the start-up line does not say that kernel counting is off on the socket backend")
	}
	// The row: PUSH -> PULL, 3 messages of 1 byte ("1", "2", "3") each
	// way's first columns, no error, gap or resync.
	row := regexp.MustCompile(`(?m)PUSH -> PULL\s+3\.0\s+NULL\s+3\s+3\s+0\s+0\s+\S+\s+\S+\s+0\s+0\s+0\s+0\s`)
	if !row.MatchString(out) {
		problems = append(problems, "no -q row with 3 messages of 3 bytes PUSH -> PULL and no error, gap or resync")
	}
	if st := d.stats(&problems); st.RingDrops != 0 {
		problems = append(problems, "packets were dropped")
	}
	if err := waitNoProgs("SIGINT"); err != nil {
		problems = append(problems, err.Error())
	}
	return details, joinProblems(problems)
}
