package kernel

import (
	"os"
	"strings"
)

// Lockdown returns the kernel lockdown mode ("none", "integrity",
// "confidentiality"), "" when the kernel does not say. The active mode is
// the bracketed one of /sys/kernel/security/lockdown: "none [integrity]
// confidentiality".
func Lockdown() string {
	b, err := os.ReadFile("/sys/kernel/security/lockdown")
	if err != nil {
		return ""
	}
	return activeMode(string(b))
}

// activeMode returns the bracketed word of s, "" if none.
func activeMode(s string) string {
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return ""
	}
	return s[i+1 : j]
}
