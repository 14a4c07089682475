package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// results is what the guest wrote to its second serial port.
type results struct {
	kernel         string   // release from the "INFO kernel" line
	passed, failed []string // check names
	summary        bool     // the final "N passed, M failed" line was seen
	sumPassed      int
	sumFailed      int
}

var summaryLine = regexp.MustCompile(`^(\d+) passed, (\d+) failed$`)

// parseResults reads the guest's report (see vmtest/guest).
func parseResults(text string) results {
	var r results
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
		switch {
		case strings.HasPrefix(l, "INFO kernel "):
			if f := strings.Fields(l); len(f) >= 3 {
				r.kernel = f[2]
			}
		case strings.HasPrefix(l, "PASS "):
			r.passed = append(r.passed, strings.Fields(l)[1])
		case strings.HasPrefix(l, "FAIL "):
			name, _, _ := strings.Cut(strings.TrimPrefix(l, "FAIL "), ":")
			r.failed = append(r.failed, name)
		default:
			if m := summaryLine.FindStringSubmatch(l); m != nil {
				r.summary = true
				r.sumPassed, _ = strconv.Atoi(m[1])
				r.sumFailed, _ = strconv.Atoi(m[2])
			}
		}
	}
	return r
}

// verdict returns nil if every check passed on the expected kernel, or what
// went wrong.
func (r results) verdict(wantKernel string) error {
	var problems []string
	if !r.summary {
		problems = append(problems, "the guest did not report a summary: it crashed, hung or ran out of time")
	}
	if len(r.failed) > 0 {
		problems = append(problems, fmt.Sprintf("failed: %s", strings.Join(r.failed, ", ")))
	}
	if r.summary && (r.sumPassed != len(r.passed) || r.sumFailed != len(r.failed)) {
		problems = append(problems, fmt.Sprintf("summary says %d passed, %d failed, but %d PASS and %d FAIL lines were read",
			r.sumPassed, r.sumFailed, len(r.passed), len(r.failed)))
	}
	if len(r.passed) == 0 {
		problems = append(problems, "no check passed")
	}
	if r.kernel != wantKernel {
		problems = append(problems, fmt.Sprintf("the guest ran kernel %q, want %q", r.kernel, wantKernel))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
