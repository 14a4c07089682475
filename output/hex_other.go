//go:build !amd64 || purego

package output

// hexBlocks does nothing here: appendHex goes 4 bytes at a time (the
// vector code is amd64's, hex_amd64.go; -tags purego leaves it out there
// too, and tests this code).
func hexBlocks(dst, src []byte) int { return 0 }

// hexSpacedBlocks does nothing here, as hexBlocks.
func hexSpacedBlocks(dst, src []byte) int { return 0 }

// quotePlain does nothing here: AppendQuoted goes 8 bytes at a time.
func quotePlain(dst, src []byte) int { return 0 }
