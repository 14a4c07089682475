package output

import (
	"testing"
)

// TestZ85: keys print as Z85 (zmtp.AppendZ85 holds the vectors), other
// lengths as hex.
func TestZ85(t *testing.T) {
	if got := string(appendZ85(nil, []byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B})); got != "HelloWorld" {
		t.Errorf("RFC 32 vector: %q", got)
	}
	if got := string(appendZ85(nil, []byte{1, 2, 3})); got != "010203" {
		t.Errorf("3 bytes: %q, want hex", got)
	}
}
