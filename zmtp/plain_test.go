package zmtp

import "testing"

// TestPlainPassword: where the password of a HELLO lies, for the shapes a
// printer meets: well formed, cut, malformed, another mechanism, unknown.
func TestPlainPassword(t *testing.T) {
	for _, tt := range []struct {
		name      string
		mech      string
		data      string
		truncated bool
		want      string // the bytes to hide; "" for none
	}{
		{"plain", "PLAIN", "\x05admin\x06secret", false, "secret"},
		{"empty password", "PLAIN", "\x05admin\x00", false, ""},
		{"cut in the password", "PLAIN", "\x05admin\x06sec", true, "sec"},
		{"cut before it", "PLAIN", "\x05adm", true, ""},
		{"user length overruns", "PLAIN", "\x0aadmin\x06secret", false, "admin\x06secret"},
		{"password length overruns", "PLAIN", "\x05admin\x09secret", false, "admin\x09secret"},
		{"trailing bytes", "PLAIN", "\x05admin\x06secretXX", false, "admin\x06secretXX"},
		{"curve", "CURVE", "\x05admin\x06secret", false, ""},
		{"joined, PLAIN-shaped", "", "\x05admin\x06secret", false, "secret"},
		{"joined, other shape", "", "\xffnot plain", false, ""},
	} {
		c := &Command{Kind: KindHello, Name: "HELLO", Mechanism: tt.mech, Data: []byte(tt.data), Truncated: tt.truncated}
		start, end, ok := PlainPassword(c)
		got := ""
		if ok {
			got = tt.data[start:end]
		}
		if got != tt.want {
			t.Errorf("%s: hides %q, want %q", tt.name, got, tt.want)
		}
	}
	if _, _, ok := PlainPassword(&Command{Kind: KindReady, Name: "READY", Mechanism: "PLAIN", Data: []byte("\x05admin\x06secret")}); ok {
		t.Error("a READY has no password")
	}
}
