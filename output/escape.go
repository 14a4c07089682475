package output

import (
	"encoding/binary"
	"slices"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendQuoted appends p as a double-quoted string: printable ASCII as is,
// backslash and quote escaped, everything else as \xNN. Its plain start
// goes 16 bytes at a time where quotePlain can, then 8 (plain8).
func AppendQuoted(b, p []byte) []byte {
	b = slices.Grow(b, len(p)+2)
	b = append(b, '"')
	// The plain 16-byte blocks first, copied as they are checked.
	k := quotePlain(b[len(b):len(b)+len(p)], p)
	b, p = b[:len(b)+k], p[k:]
	for len(p) > 0 {
		// A run of bytes that need no escape goes in one copy.
		i := 0
		for i+8 <= len(p) && plain8(binary.LittleEndian.Uint64(p[i:])) {
			i += 8
		}
		for i < len(p) && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\' {
			i++
		}
		b = append(b, p[:i]...)
		if i == len(p) {
			break
		}
		switch c := p[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
		p = p[i+1:]
	}
	return append(b, '"')
}

// plain8 reports whether none of the 8 bytes of x needs an escape in
// AppendQuoted: each is printable ASCII (0x20 to 0x7e) and neither '"' nor
// '\\'. The tests are the bit tricks for "has a byte below n" and "has a
// zero byte" (x^c has a zero byte where x has c), on all 8 bytes at once:
// they never miss a byte, and a word they flag goes byte by byte.
func plain8(x uint64) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	below := (x - 0x20*ones) &^ x // a byte below 0x20
	high := x | (x + ones)        // a byte of 0x7f or more
	q, bs := x^'"'*ones, x^'\\'*ones
	quote := (q - ones) &^ q       // a '"'
	backslash := (bs - ones) &^ bs // a '\\'
	return (below|high|quote|backslash)&highs == 0
}

// AppendHexSpaced appends p as lowercase hex bytes separated by spaces
// ("31 32"): 16 bytes at a time where hexSpacedBlocks can, then four at a
// time.
func AppendHexSpaced(b, p []byte) []byte {
	if len(p) == 0 {
		return b
	}
	n := len(b)
	b = slices.Grow(b, 3*len(p))[:n+3*len(p)] // a space after each byte, the last cut
	out := b[n:]
	k := hexSpacedBlocks(out, p)
	p, out = p[k:], out[3*k:]
	for len(p) >= 4 {
		// Digits D0..D7 to "D0D1 D2D3 D4D5 D6D7 " in two stores.
		d := hex4(binary.BigEndian.Uint32(p))
		binary.BigEndian.PutUint64(out, d&0xffff000000000000|d>>8&0x000000ffff000000|d>>16&0xffff|0x0000200000200000)
		binary.BigEndian.PutUint32(out[8:], uint32(d&0xffff)<<8|0x20000020)
		p, out = p[4:], out[12:]
	}
	for i, c := range p {
		out[3*i], out[3*i+1], out[3*i+2] = hexDigits[c>>4], hexDigits[c&0xf], ' '
	}
	return b[:len(b)-1]
}

// appendHex appends p as contiguous lowercase hex ("3132"), 16 bytes at a
// time where hexBlocks can, then four at a time (every message line of
// --json carries its kept bytes so).
func appendHex(b, p []byte) []byte {
	n := len(b)
	b = slices.Grow(b, 2*len(p))[:n+2*len(p)]
	out := b[n:]
	k := hexBlocks(out, p)
	p, out = p[k:], out[2*k:]
	for len(p) >= 4 {
		binary.BigEndian.PutUint64(out, hex4(binary.BigEndian.Uint32(p)))
		p, out = p[4:], out[8:]
	}
	for i, c := range p {
		out[2*i], out[2*i+1] = hexDigits[c>>4], hexDigits[c&0xf]
	}
	return b
}

// hex4 returns the 8 lowercase hex digits of v, first digit in the top
// byte: each nibble is spread to a byte of its own, then turned into '0'-'9'
// or 'a'-'f' in all bytes at once.
func hex4(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000ffff0000ffff
	x = (x | x<<8) & 0x00ff00ff00ff00ff
	x = (x | x<<4) & 0x0f0f0f0f0f0f0f0f
	letters := ((x + 0x0606060606060606) >> 4) & 0x0101010101010101 // nibble > 9
	return x + 0x3030303030303030 + letters*('a'-'0'-10)
}

// appendJSONString appends s as a JSON string. Valid UTF-8 goes out as
// UTF-8, so that a reader decoding the JSON gets the same text back; JSON's
// own escapes cover the quote, the backslash and the C0 controls, and \uXXXX
// escapes DEL, the C1 controls (U+0080 to U+009F, which some terminals obey)
// and U+2028/U+2029 (line breaks to JavaScript). A byte that is not part of
// valid UTF-8 is written as the four characters \xNN (the JSON text
// "\\xNN"), never as U+FFFD, so that it stays visible; where the exact bytes
// matter, appendJSONText adds them in hex.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, '\\', '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		case r <= 0x9f || r == 0x2028 || r == 0x2029:
			b = append(b, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// appendJSONText appends `"key":"text"` for bytes p taken from the wire
// (a user name, a reason, a name), as appendJSONString writes them. When p
// is not valid UTF-8, the text is not its exact bytes: `,"key_hex":"..."`
// follows with them.
func appendJSONText(b []byte, key string, p []byte) []byte {
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	b = appendJSONString(b, string(p))
	if !utf8.Valid(p) {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, `_hex":"`...)
		b = appendHex(b, p)
		b = append(b, '"')
	}
	return b
}

// AppendToken appends a name taken from the wire (a command or property
// name, a mechanism): as is when it is plain printable ASCII without spaces,
// quotes, backslashes or '=', quoted and escaped otherwise, so that no wire
// byte can forge or break an output line.
func AppendToken(b []byte, p []byte) []byte {
	for _, c := range p {
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '=' {
			return AppendQuoted(b, p)
		}
	}
	if len(p) == 0 {
		return append(b, `""`...)
	}
	return append(b, p...)
}

// AppendEscaped appends s with every byte outside printable ASCII escaped
// as \xNN (and backslash doubled), without quotes.
func AppendEscaped(b []byte, s string) []byte {
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

// appendPrintable appends s with every byte outside printable ASCII
// escaped as \xNN, except the newlines of keepNewlines, and nothing else
// changed: the last guard of text that is ours but may hold wire bytes (a
// note, a ladder), so that no control byte reaches a terminal whatever a
// caller forgot to quote.
func appendPrintable(b []byte, s string, keepNewlines bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x20 && c < 0x7f, c == '\n' && keepNewlines:
			b = append(b, c)
		default:
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return b
}
