package output

import (
	"fmt"
	"strconv"

	"github.com/zmtpdump/zmtpdump/zmtp"
)

// appendGap appends "gap: N bytes lost", with "(M messages)" when the
// capture counted them.
func appendGap(b []byte, e *zmtp.Gap) []byte {
	b = fmt.Appendf(b, "gap: %d bytes lost", e.Bytes)
	if e.MessagesKnown {
		b = fmt.Appendf(b, " (%d message", e.Messages)
		if e.Messages != 1 {
			b = append(b, 's')
		}
		b = append(b, ')')
	}
	return b
}

// appendResync appends a resync line: "resync: mid-stream, decoding from
// offset 1234 (200 bytes skipped, boundary found by search)".
func appendResync(b []byte, e *zmtp.Resync) []byte {
	b = fmt.Appendf(b, "resync: %s, decoding from offset %d (%d bytes skipped, boundary ", e.Reason, e.Offset, e.Skipped)
	if e.Source == zmtp.SyncKernel {
		b = append(b, "marked by the kernel"...)
	} else {
		b = append(b, "found by search"...)
	}
	if !e.MessageStart {
		b = append(b, "; the message in progress is not shown"...)
	}
	return append(b, ')')
}

// appendJSONResync appends the keys of a resync event.
func appendJSONResync(b []byte, e *zmtp.Resync) []byte {
	b = append(b, `,"reason":"`...)
	b = append(b, e.Reason.String()...)
	b = append(b, `","skipped_bytes":`...)
	b = strconv.AppendUint(b, e.Skipped, 10)
	b = append(b, `,"source":"`...)
	b = append(b, e.Source.String()...)
	b = append(b, `","message_start":`...)
	return strconv.AppendBool(b, e.MessageStart)
}

// appendJSONGap appends the keys of a gap event.
func appendJSONGap(b []byte, e *zmtp.Gap) []byte {
	b = append(b, `,"bytes":`...)
	b = strconv.AppendUint(b, e.Bytes, 10)
	if e.MessagesKnown {
		b = append(b, `,"messages":`...)
		b = strconv.AppendUint(b, e.Messages, 10)
	}
	return b
}

// joined reports whether a side of c was picked up mid-stream.
func joined(c *zmtp.Connection) bool { return c.Sides[0].Joined || c.Sides[1].Joined }

// resyncs is the resyncs of both sides.
func resyncs(c *zmtp.Connection) uint64 { return c.Sides[0].Resyncs + c.Sides[1].Resyncs }

// appendJoined appends ", joined mid-connection" and the resyncs of c, if
// any.
func appendJoined(b []byte, c *zmtp.Connection) []byte {
	if joined(c) {
		b = append(b, ", joined mid-connection"...)
	}
	if n := resyncs(c); n > 0 {
		b = fmt.Appendf(b, ", %d resync", n)
		if n != 1 {
			b = append(b, 's')
		}
	}
	return b
}

// appendVersionNumber appends "3.1", or "3.x" for a joined side whose
// traffic proved the major version only.
func appendVersionNumber(b []byte, s *zmtp.Side) []byte {
	b = strconv.AppendUint(b, uint64(s.Major), 10)
	b = append(b, '.')
	if !s.Greeted && s.Inferred&zmtp.InferredMinor == 0 {
		return append(b, 'x')
	}
	return strconv.AppendUint(b, uint64(s.Minor), 10)
}

// knownVersion reports whether the version of s is known: from its
// greeting, or inferred from its traffic.
func knownVersion(s *zmtp.Side) bool {
	return s.Greeted || s.Inferred&zmtp.InferredVersion != 0
}

// appendInferredVersion appends what is known of the version and mechanism
// of a connection neither greeting of which was seen: "ZMTP 3.1 CURVE
// (inferred)", "version unknown".
func appendInferredVersion(b []byte, c *zmtp.Connection) []byte {
	a, z := &c.Sides[0], &c.Sides[1]
	s := a
	if !knownVersion(a) || z.Inferred&zmtp.InferredMechanism != 0 && a.Inferred&zmtp.InferredMechanism == 0 {
		s = z
	}
	if !knownVersion(s) && s.Mechanism == "" {
		return append(b, "version unknown"...)
	}
	if knownVersion(s) {
		b = append(b, "ZMTP "...)
		b = appendVersionNumber(b, s)
	} else {
		b = append(b, "ZMTP ?"...)
	}
	if s.Mechanism != "" {
		b = append(b, ' ')
		b = AppendToken(b, []byte(s.Mechanism))
	}
	return append(b, " (inferred)"...)
}

// appendJSONJoined appends "joined" and "inferred" for a connection picked
// up mid-stream.
func appendJSONJoined(b []byte, c *zmtp.Connection) []byte {
	if !joined(c) {
		return b
	}
	b = append(b, `,"joined":true,"inferred":[`...)
	first := true
	for i, key := range [2]string{"src_", "dst_"} {
		for _, n := range c.Sides[i].Inferred.Names() {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, '"')
			b = append(b, key...)
			b = append(b, n...)
			b = append(b, '"')
		}
	}
	return append(b, ']')
}
