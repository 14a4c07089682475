package output

import "github.com/zmtpdump/zmtpdump/zmtp"

// hiddenByte replaces each byte of a hidden password wherever a command's
// data is shown (JSON data_hex, -X dumps, quoted data): visibly, so that a
// reader knows something was hidden, and keeping the length the event line
// already gives.
const hiddenByte = '*'

// shownData returns the data of c as a printer may show it: c.Data itself,
// or, unless secrets are shown, a copy in *buf whose PLAIN password bytes
// (zmtp.PlainPassword) are each hiddenByte; hidden reports that copy. The
// copy is valid until the next call with the same buf.
func shownData(c *zmtp.Command, secrets bool, buf *[]byte) (data []byte, hidden bool) {
	start, end, ok := zmtp.PlainPassword(c)
	if !ok || secrets {
		return c.Data, false
	}
	d := append((*buf)[:0], c.Data...)
	for i := start; i < end; i++ {
		d[i] = hiddenByte
	}
	*buf = d
	return d, true
}

// commandData is shownData for the JSON printer.
func (p *JSON) commandData(c *zmtp.Command) ([]byte, bool) {
	return shownData(c, p.secrets, &p.hideBuf)
}

// commandData is shownData for the text printer.
func (p *Text) commandData(c *zmtp.Command) []byte {
	d, _ := shownData(c, p.secrets, &p.hideBuf)
	return d
}
