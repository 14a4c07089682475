package output

import "strconv"

// digitPairs holds "00" to "99": the two digits of n at 2n.
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// appendUint appends v in decimal as strconv.AppendUint(b, v, 10) does;
// below 100 (a small frame's size) without a call.
func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 10:
		return append(b, byte('0'+v))
	case v < 100:
		return append(b, digitPairs[2*v], digitPairs[2*v+1])
	}
	return strconv.AppendUint(b, v, 10)
}

// offsetDigits writes stream offsets, keeping the digits of all but the
// last four from one line to the next: the messages of a burst are a few
// bytes apart, so that those digits change once in some hundreds of lines,
// and the last four are two pairs from digitPairs (formatting the nine or
// so digits of each offset anew was a tenth of a --json message line).
type offsetDigits struct {
	base uint64 // a multiple of 10000, at least 10000; 0: nothing kept
	high []byte // base/10000 in decimal
}

// append appends v in decimal, as strconv.AppendUint(b, v, 10) does.
func (o *offsetDigits) append(b []byte, v uint64) []byte {
	if v < 10000 {
		return strconv.AppendUint(b, v, 10)
	}
	if o.base == 0 || v < o.base || v-o.base >= 10000 {
		h := v / 10000
		o.base, o.high = h*10000, strconv.AppendUint(o.high[:0], h, 10)
	}
	lo := v - o.base
	q, r := lo/100, lo%100
	b = append(b, o.high...)
	return append(b, digitPairs[2*q], digitPairs[2*q+1], digitPairs[2*r], digitPairs[2*r+1])
}
