package output

import "github.com/zmtpdump/zmtpdump/zmtp"

// appendZ85 appends p encoded as Z85 (zmtp.AppendZ85), or as hex when its
// length is not a multiple of 4.
func appendZ85(b, p []byte) []byte {
	if z, ok := zmtp.AppendZ85(b, p); ok {
		return z
	}
	return appendHex(b, p)
}
