package output

import (
	"net/netip"
	"time"
)

// secondStamp writes times in one layout that ends in a fraction of the
// second ("....05." then digits), formatting the part up to the fraction
// once per second: when each segment carries one message (a request, its
// reply), formatting the whole time was a third of a line's cost.
type secondStamp struct {
	layout string // up to and with the '.' before the fraction
	digits int    // of the fraction: 9 nanoseconds, 6 microseconds
	loc    *time.Location
	sec    int64
	prefix []byte // the time at sec up to the fraction; nil: none yet
}

// append appends t, as t.In(loc).AppendFormat with the layout and digits
// zeros ("05.000000") does.
func (s *secondStamp) append(b []byte, t time.Time) []byte {
	t = t.In(s.loc)
	// A zone's offset is whole seconds: the local second turns with the
	// Unix one.
	if sec := t.Unix(); s.prefix == nil || sec != s.sec {
		s.sec, s.prefix = sec, t.AppendFormat(s.prefix[:0], s.layout)
	}
	b = append(b, s.prefix...)
	return appendFraction(b, t.Nanosecond(), s.digits)
}

// appendFraction appends the first digits (at most 9) of ns, nanoseconds
// within a second, zero-padded and cut as time's ".000" layouts do.
func appendFraction(b []byte, ns, digits int) []byte {
	for range 9 - digits {
		ns /= 10
	}
	var d [9]byte
	for i := digits - 1; i >= 0; i-- {
		d[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(b, d[:digits]...)
}

// addrCache keeps the text of the last two endpoints formatted: the lines
// of a request and its reply swap source and destination.
type addrCache struct {
	ap   [2]netip.AddrPort
	text [2][]byte // nil: the slot is empty
	next int
}

// get returns ap's text, valid until the next call.
func (c *addrCache) get(ap netip.AddrPort) []byte {
	for i := range c.ap {
		if c.text[i] != nil && c.ap[i] == ap {
			return c.text[i]
		}
	}
	i := c.next
	c.next ^= 1
	c.ap[i], c.text[i] = ap, ap.AppendTo(c.text[i][:0])
	return c.text[i]
}
