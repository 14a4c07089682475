package diagnose

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// maxQuoted is how many bytes of wire text printable keeps.
const maxQuoted = 255

// printable returns wire bytes as text safe to print: printable ASCII as
// is, a backslash and anything else as \xNN, at most maxQuoted bytes of p
// ("..." marks a cut).
func printable(p []byte) string {
	var b strings.Builder
	cut := len(p) > maxQuoted
	if cut {
		p = p[:maxQuoted]
	}
	for _, c := range p {
		if c >= 0x20 && c < 0x7f && c != '\\' {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte("0123456789abcdef"[c>>4])
		b.WriteByte("0123456789abcdef"[c&15])
	}
	if cut {
		b.WriteString("...")
	}
	return b.String()
}

// seconds formats a duration for a sentence: "1.5 s", "250 ms", "80 µs".
func seconds(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return strconv.FormatFloat(math.Round(d.Seconds()*1000)/1000, 'f', -1, 64) + " s"
	case d >= time.Second:
		return decimal(d, time.Second) + " s"
	case d >= time.Millisecond:
		return decimal(d, time.Millisecond) + " ms"
	}
	return decimal(d, time.Microsecond) + " µs"
}

// decimal writes d in units of unit with the decimals it needs, exactly
// (1390ms in seconds: "1.39", not the float's 1.3900000000000001).
func decimal(d, unit time.Duration) string {
	q, r := d/unit, d%unit
	if r < 0 {
		q, r = -q, -r
	}
	s := strconv.FormatInt(int64(q), 10)
	if r == 0 {
		return s
	}
	frac := strconv.FormatInt(int64(r+unit), 10)[1:] // zero-padded to unit's digits
	return s + "." + strings.TrimRight(frac, "0")
}

// round3 rounds a duration to 3 significant figures, for sentences.
func round3(d time.Duration) time.Duration {
	for _, u := range []time.Duration{time.Second, 100 * time.Millisecond, 10 * time.Millisecond, time.Millisecond, 100 * time.Microsecond, 10 * time.Microsecond, time.Microsecond} {
		if d >= 100*u {
			return d.Round(u)
		}
	}
	return d
}
