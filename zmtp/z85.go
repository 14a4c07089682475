package zmtp

// z85Alphabet is the Z85 alphabet (ZeroMQ RFC 32).
const z85Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// AppendZ85 appends p encoded as Z85 (RFC 32), the text form ZeroMQ gives
// CURVE keys: every 4 bytes, read as a big-endian 32-bit number, become 5
// characters. p's length must be a multiple of 4 (a CURVE key is 32
// bytes); otherwise it appends nothing and reports false.
func AppendZ85(b, p []byte) ([]byte, bool) {
	if len(p)%4 != 0 {
		return b, false
	}
	for i := 0; i < len(p); i += 4 {
		v := uint32(p[i])<<24 | uint32(p[i+1])<<16 | uint32(p[i+2])<<8 | uint32(p[i+3])
		var c [5]byte
		for j := 4; j >= 0; j-- {
			c[j] = z85Alphabet[v%85]
			v /= 85
		}
		b = append(b, c[:]...)
	}
	return b, true
}
