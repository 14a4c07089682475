package output

const hexDigits = "0123456789abcdef"

// appendQuoted appends p as a double-quoted string: printable ASCII as is,
// backslash and quote escaped, everything else as \xNN.
func appendQuoted(b, p []byte) []byte {
	b = append(b, '"')
	for _, c := range p {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return append(b, '"')
}

// appendHexSpaced appends p as hex bytes separated by spaces ("31 32").
func appendHexSpaced(b, p []byte) []byte {
	for i, c := range p {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendHex appends p as contiguous lowercase hex ("3132").
func appendHex(b, p []byte) []byte {
	for _, c := range p {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		case c >= 0x80:
			// Only ASCII is passed through: anything else is escaped byte
			// by byte so that the output is always valid JSON.
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendToken appends a name taken from the wire (a command or property
// name, a mechanism): as is when it is plain printable ASCII without spaces,
// quotes, backslashes or '=', quoted and escaped otherwise, so that no wire
// byte can forge or break an output line.
func appendToken(b []byte, p []byte) []byte {
	for _, c := range p {
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=' {
			return appendQuoted(b, p)
		}
	}
	if len(p) == 0 {
		return append(b, `""`...)
	}
	return append(b, p...)
}

// appendEscaped appends s with every byte outside printable ASCII escaped
// as \xNN (and backslash doubled), without quotes.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return b
}
