package livetest

import (
	"strings"
	"unicode/utf8"
)

// RawControl returns the first byte or rune of out that a terminal could
// obey (C0 controls but the newline and tabs opening a line, DEL, C1
// controls, bytes that are not UTF-8), or -1. It is the oracle of the tests
// that feed hostile bytes to the printers, written apart from the escaping
// it checks.
func RawControl(out string) int {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimLeft(l, "\t")
		for _, r := range l {
			if r < 0x20 || r >= 0x7f && r <= 0x9f || r == utf8.RuneError {
				return int(r)
			}
		}
	}
	return -1
}
