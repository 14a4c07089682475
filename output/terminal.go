package output

// Printable returns s fit to print on a terminal within a line: printable
// ASCII as is, a backslash doubled, every other byte as \xNN. Names that
// come from outside the program go through it before they reach stderr:
// an interface name, for one, may hold any byte but '/' and NUL, and one of
// another network namespace is chosen by whoever runs there.
func Printable(s string) string { return string(AppendEscaped(nil, s)) }
