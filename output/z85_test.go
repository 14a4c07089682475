package output

import (
	"bytes"
	"testing"
)

func TestZ85(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		// RFC 32 test vector.
		{[]byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}, "HelloWorld"},
		{nil, ""},
		{[]byte{0, 0, 0, 0}, "00000"},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF}, "%nSc0"},
		{[]byte{1, 2, 3}, "010203"}, // not a multiple of 4: hex
	}
	for _, tc := range tests {
		if got := string(appendZ85(nil, tc.in)); got != tc.want {
			t.Errorf("appendZ85(% x) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A 32-byte key is 40 characters, all from the alphabet.
	key := string(appendZ85(nil, bytes.Repeat([]byte{0xA5}, 32)))
	if len(key) != 40 {
		t.Errorf("key %q has %d characters, want 40", key, len(key))
	}
}
