//go:build amd64 && !purego

package output

import "golang.org/x/sys/cpu"

// hexSSE2 writes the 2n lowercase hex digits of the n bytes at src to dst;
// n is a multiple of 16, not 0 (hex_amd64.s).
//
//go:noescape
func hexSSE2(dst, src *byte, n int)

// hexSpacedSSSE3 writes the 3n bytes "hh " of the n bytes at src to dst;
// n is a multiple of 16, not 0 (hex_amd64.s). It needs SSSE3.
//
//go:noescape
func hexSpacedSSSE3(dst, src *byte, n int)

// hexBlocks writes the hex digits of src's whole 16-byte blocks to dst (2
// per byte) and returns how many bytes of src it did. The many bytes of a
// --json message line go here: the vector code is several times faster
// than hex4's 4 bytes at a time.
func hexBlocks(dst, src []byte) int {
	n := len(src) &^ 15
	if n == 0 {
		return 0
	}
	_ = dst[2*n-1]
	hexSSE2(&dst[0], &src[0], n)
	return n
}

// hexSpacedBlocks is hexBlocks for AppendHexSpaced: 3 bytes per byte,
// "hh ". It does nothing (0) without SSSE3.
func hexSpacedBlocks(dst, src []byte) int {
	n := len(src) &^ 15
	if n == 0 || !cpu.X86.HasSSSE3 {
		return 0
	}
	_ = dst[3*n-1]
	hexSpacedSSSE3(&dst[0], &src[0], n)
	return n
}

// quotePlainSSE2 copies the bytes at src to dst 16 at a time while a
// block of 16 needs no escape in AppendQuoted, and returns how many it
// copied: a multiple of 16, at most n; n is a multiple of 16, not 0
// (hex_amd64.s).
//
//go:noescape
func quotePlainSSE2(dst, src *byte, n int) int

// quotePlain copies src's first bytes to dst while whole 16-byte blocks of
// them need no escape in AppendQuoted, and returns how many it copied.
func quotePlain(dst, src []byte) int {
	n := len(src) &^ 15
	if n == 0 {
		return 0
	}
	_ = dst[n-1]
	return quotePlainSSE2(&dst[0], &src[0], n)
}
