package output

import "testing"

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"eth0", "eth0"},
		{"a\x1b]0;pwned\x07b", `a\x1b]0;pwned\x07b`},
		{`back\slash`, `back\\slash`},
		{"caf\xc3\xa9", `caf\xc3\xa9`},
		{"", ""},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
