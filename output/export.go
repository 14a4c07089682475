package output

import "github.com/zmtpdump/zmtpdump/zmtp"

// The quoting helpers below are the ones the printers use, exported for the
// learning-mode analysis (package learn), whose notes and ladder labels
// quote wire bytes the same way.

// AppendQuoted appends p as a double-quoted string: printable ASCII as is,
// backslash and quote escaped, every other byte as \xNN.
func AppendQuoted(b, p []byte) []byte { return appendQuoted(b, p) }

// AppendToken appends a name taken from the wire (a command or property
// name, a mechanism, a socket type): as is when it is plain printable ASCII
// without spaces, quotes, backslashes or '=', quoted as AppendQuoted
// otherwise.
func AppendToken(b, p []byte) []byte { return appendToken(b, p) }

// AppendEscaped appends s with every byte outside printable ASCII escaped
// as \xNN (and backslash doubled), without quotes.
func AppendEscaped(b []byte, s string) []byte { return appendEscaped(b, s) }

// AppendHexSpaced appends p as lowercase hex bytes separated by spaces
// ("31 32").
func AppendHexSpaced(b, p []byte) []byte { return appendHexSpaced(b, p) }

// AppendVersion appends the connection's version and mechanism as its
// summary line says them: "ZMTP 3.1 NULL", "ZMTP 3.1/3.0 NULL" when the
// sides differ, "ZMTP 3.1 CURVE (inferred)" for a joined connection, "no
// greeting".
func AppendVersion(b []byte, c *zmtp.Connection) []byte { return appendVersion(b, c) }

// Plural returns "1 byte" or "N bytes" for unit "byte": n and unit, with an
// "s" unless n is 1.
func Plural(n uint64, unit string) string { return plural(n, unit) }
