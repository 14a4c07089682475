package output

import (
	"fmt"
	"strconv"
	"time"
)

// TimeFormat is how text lines start, after tcpdump's -t options.
type TimeFormat uint8

// Time formats.
const (
	// TimeOfDay is "15:04:05.000000" (the default).
	TimeOfDay TimeFormat = iota
	// TimeNone prints no time (tcpdump -t).
	TimeNone
	// TimeUnix is seconds since the Unix epoch with microseconds (-tt).
	TimeUnix
	// TimeDelta is the time since the previous line, "00:00:00.000123"
	// (-ttt); the first line shows zero.
	TimeDelta
	// TimeDate is the date and time of day, "2006-01-02 15:04:05.000000"
	// (-tttt).
	TimeDate
)

var timeFormatNames = [...]string{"default", "none", "unix", "delta", "date"}

// String returns the format's name: default, none, unix, delta or date.
func (f TimeFormat) String() string {
	if int(f) < len(timeFormatNames) {
		return timeFormatNames[f]
	}
	return "TimeFormat(" + strconv.Itoa(int(f)) + ")"
}

// ParseTimeFormat returns the format named s (see String).
func ParseTimeFormat(s string) (TimeFormat, error) {
	for i, n := range timeFormatNames {
		if n == s {
			return TimeFormat(i), nil
		}
	}
	return 0, fmt.Errorf("time format %q: want default, none, unix, delta or date", s)
}

// clock appends line times in one format; it remembers the previous time
// for TimeDelta, and the last time formatted with the text it gave (the
// events of one segment share its time).
type clock struct {
	format TimeFormat
	loc    *time.Location
	prev   time.Time
	last   time.Time
	lastB  []byte
	// stamp formats TimeOfDay and TimeDate times, once per second up to
	// the microseconds (see stampOf).
	stamp secondStamp
}

// stampOf returns the clock's stamp for layout (its format's, up to the
// fraction), set up at the first call.
func (c *clock) stampOf(layout string) *secondStamp {
	if c.stamp.layout != layout {
		c.stamp = secondStamp{layout: layout, digits: 6, loc: c.loc}
	}
	return &c.stamp
}

// repeats reports whether equal times append the same text (all formats
// but TimeDelta, which depends on the time before).
func (c *clock) repeats() bool { return c.format != TimeDelta }

// append appends t and a space, or nothing for TimeNone.
func (c *clock) append(b []byte, t time.Time) []byte {
	switch c.format {
	case TimeNone:
		return b
	case TimeUnix, TimeDate, TimeOfDay:
		if c.lastB == nil || !t.Equal(c.last) {
			c.last, c.lastB = t, c.format1(c.lastB[:0], t)
		}
		return append(b, c.lastB...)
	}
	return c.format1(b, t)
}

// format1 appends t formatted and a space.
func (c *clock) format1(b []byte, t time.Time) []byte {
	switch c.format {
	case TimeNone:
		return b
	case TimeUnix:
		us := t.UnixMicro()
		sign := ""
		if us < 0 {
			sign, us = "-", -us
		}
		b = fmt.Appendf(b, "%s%d.%06d", sign, us/1e6, us%1e6)
	case TimeDelta:
		var d time.Duration
		if !c.prev.IsZero() {
			d = t.Sub(c.prev)
		}
		c.prev = t
		b = appendDelta(b, d)
	case TimeDate:
		b = c.stampOf("2006-01-02 15:04:05.").append(b, t)
	default:
		b = c.stampOf("15:04:05.").append(b, t)
	}
	return append(b, ' ')
}

// appendDelta appends d as [-]HH:MM:SS.micro, tcpdump -ttt's form.
func appendDelta(b []byte, d time.Duration) []byte {
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	us := d.Microseconds()
	h, us := us/3600e6, us%3600e6
	m, us := us/60e6, us%60e6
	s, us := us/1e6, us%1e6
	return fmt.Appendf(b, "%02d:%02d:%02d.%06d", h, m, s, us)
}
