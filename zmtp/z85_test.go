package zmtp

import (
	"bytes"
	"testing"
)

func TestZ85(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
		ok   bool
	}{
		// RFC 32 test vector.
		{[]byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}, "HelloWorld", true},
		{nil, "", true},
		{[]byte{0, 0, 0, 0}, "00000", true},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF}, "%nSc0", true},
		{[]byte{1, 2, 3}, "", false}, // not a multiple of 4
	}
	for _, tc := range tests {
		if got, ok := AppendZ85(nil, tc.in); string(got) != tc.want || ok != tc.ok {
			t.Errorf("AppendZ85(% x) = %q, %v, want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// A 32-byte key is 40 characters.
	if key, _ := AppendZ85(nil, bytes.Repeat([]byte{0xA5}, 32)); len(key) != 40 {
		t.Errorf("key %q has %d characters, want 40", key, len(key))
	}
}
