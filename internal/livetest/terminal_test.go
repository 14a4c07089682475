package livetest

import "testing"

func TestRawControl(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"plain text\n\tindented\n", -1},
		{`escaped \x1b`, -1},
		{"héllo", -1},
		{"a\x1b[2J", 0x1b},
		{"bell\x07", 0x07},
		{"mid\ttab", '\t'},
		{"c1 \u009b", 0x9b},
		{"bad \xff utf-8", 0xfffd},
	} {
		if got := RawControl(tt.in); got != tt.want {
			t.Errorf("RawControl(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}
