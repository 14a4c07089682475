package output

import (
	"bytes"
	"testing"
)

func BenchmarkHex64(b *testing.B) {
	p := bytes.Repeat([]byte("x"), 64)
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = appendHex(buf[:0], p)
	}
}

func BenchmarkHexSpaced64(b *testing.B) {
	p := bytes.Repeat([]byte("x"), 64)
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = AppendHexSpaced(buf[:0], p)
	}
}

func BenchmarkQuoted64(b *testing.B) {
	p := bytes.Repeat([]byte("x"), 64)
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = AppendQuoted(buf[:0], p)
	}
}
