package output

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

// FuzzEscapes checks the byte formatters against plain reference versions.
func FuzzEscapes(f *testing.F) {
	for _, s := range []string{"", "hello", "a\"b\\c", "\x00\x1f\x7f\x80\xff", "PUSH\x00x", strings.Repeat("x", 64)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var q, h, hx strings.Builder
		q.WriteByte('"')
		for i, c := range p {
			switch {
			case c == '"' || c == '\\':
				q.WriteString(`\` + string(c))
			case c >= 0x20 && c < 0x7f:
				q.WriteByte(c)
			default:
				fmt.Fprintf(&q, `\x%02x`, c)
			}
			if i > 0 {
				h.WriteByte(' ')
			}
			fmt.Fprintf(&h, "%02x", c)
			fmt.Fprintf(&hx, "%02x", c)
		}
		q.WriteByte('"')
		prefix := []byte("head ")
		if got := string(AppendQuoted(prefix, p)); got != "head "+q.String() {
			t.Errorf("AppendQuoted(%q) = %q, want %q", p, got, "head "+q.String())
		}
		if got := string(AppendHexSpaced(prefix, p)); got != "head "+h.String() {
			t.Errorf("appendHexSpaced(%q) = %q, want %q", p, got, "head "+h.String())
		}
		if got := string(appendHex(prefix, p)); got != "head "+hx.String() {
			t.Errorf("appendHex(%q) = %q, want %q", p, got, "head "+hx.String())
		}
	})
}

// TestPlain8: the 8-byte test of AppendQuoted agrees with the byte test
// on every byte value at every position, among plain neighbours and among
// bytes of each kind.
func TestPlain8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' }
	for _, fill := range []byte{'a', ' ', '~', 0x00, 0x1f, 0x7f, 0xff, '"', '\\'} {
		for pos := range 8 {
			for c := range 256 {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[pos] = byte(c)
				want := true
				for _, x := range w {
					want = want && plain(x)
				}
				if got := plain8(binary.LittleEndian.Uint64(w[:])); got != want {
					t.Fatalf("plain8(% x) = %v, want %v", w, got, want)
				}
			}
		}
	}
}

// TestHexBlocks: appendHex and AppendHexSpaced agree with encoding/hex at
// every length around the 16-byte blocks (and at every byte value), at
// every alignment of the source.
func TestHexBlocks(t *testing.T) {
	src := make([]byte, 300)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for off := range 16 {
		for n := 0; off+n <= len(src); n++ {
			p := src[off : off+n]
			want := hex.EncodeToString(p)
			if got := string(appendHex([]byte("x"), p)); got != "x"+want {
				t.Fatalf("appendHex(% x) = %q, want %q", p, got, "x"+want)
			}
			var spaced []string
			for _, c := range p {
				spaced = append(spaced, hex.EncodeToString([]byte{c}))
			}
			if got, want := string(AppendHexSpaced([]byte("x"), p)), "x"+strings.Join(spaced, " "); got != want {
				t.Fatalf("AppendHexSpaced(% x) = %q, want %q", p, got, want)
			}
		}
	}
}

// TestQuotedBlocks: AppendQuoted agrees with a byte-by-byte reference for
// every length around its 16- and 8-byte blocks with one byte that needs
// an escape at every position (or none), for each kind of such byte.
func TestQuotedBlocks(t *testing.T) {
	ref := func(p []byte) string {
		var q strings.Builder
		q.WriteByte('"')
		for _, c := range p {
			switch {
			case c == '"' || c == '\\':
				q.WriteString(`\` + string(c))
			case c >= 0x20 && c < 0x7f:
				q.WriteByte(c)
			default:
				fmt.Fprintf(&q, `\x%02x`, c)
			}
		}
		q.WriteByte('"')
		return q.String()
	}
	for n := range 70 {
		for bad := -1; bad < n; bad++ {
			for _, c := range []byte{0x00, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff, '"', '\\'} {
				p := make([]byte, n)
				for i := range p {
					p[i] = "a ~Z"[i%4]
				}
				if bad >= 0 {
					p[bad] = c
				}
				if got, want := string(AppendQuoted([]byte("x"), p)), "x"+ref(p); got != want {
					t.Fatalf("AppendQuoted(%q) = %q, want %q", p, got, want)
				}
			}
		}
	}
}
