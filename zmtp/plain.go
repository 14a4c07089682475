package zmtp

// PlainPassword returns where the password of a PLAIN HELLO lies in c.Data,
// so that a printer can hide those bytes wherever it shows the command's
// data: c.Data[start:end] (a part of it when the command was cut). ok is
// false when c carries no password bytes.
//
// RFC 24: hello = command-size %d5 "HELLO" username password; username =
// OCTET 0*255username-char; password = OCTET 0*255password-char. A HELLO
// whose mechanism is not known (a connection joined after its greeting) is
// read as PLAIN when its data has that shape, since it may well be one.
// A PLAIN HELLO too malformed to split hides all but its first octet.
func PlainPassword(c *Command) (start, end int, ok bool) {
	if c.Kind != KindHello || c.Mechanism != "PLAIN" && c.Mechanism != "" {
		return 0, 0, false
	}
	user, pass, err := parsePlainHello(c.Data, c.Truncated)
	switch {
	case err != nil && c.Mechanism == "PLAIN" && len(c.Data) > 1:
		// Malformed: its lengths cannot tell the password from the
		// user name, so all but the first length octet is hidden.
		return 1, len(c.Data), true
	case err != nil || len(pass) == 0:
		return 0, 0, false
	}
	start = 2 + len(user) // the user name's length octet, the name, the password's
	return start, start + len(pass), true
}
