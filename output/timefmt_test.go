package output

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 13, 35, 584123456, time.UTC)
	times := []time.Time{t0, t0.Add(1500 * time.Microsecond), t0.Add(-2 * time.Second), t0.Add(26*time.Hour + 61*time.Second)}
	for _, tt := range []struct {
		format TimeFormat
		want   []string
	}{
		{TimeOfDay, []string{"12:13:35.584123 ", "12:13:35.585623 ", "12:13:33.584123 ", "14:14:36.584123 "}},
		{TimeNone, []string{"", "", "", ""}},
		{TimeUnix, []string{"1795781615.584123 ", "1795781615.585623 ", "1795781613.584123 ", "1795875276.584123 "}},
		{TimeDelta, []string{"00:00:00.000000 ", "00:00:00.001500 ", "-00:00:02.001500 ", "26:01:03.000000 "}},
		{TimeDate, []string{"2026-11-27 12:13:35.584123 ", "2026-11-27 12:13:35.585623 ", "2026-11-27 12:13:33.584123 ", "2026-11-28 14:14:36.584123 "}},
	} {
		t.Run(tt.format.String(), func(t *testing.T) {
			c := clock{format: tt.format, loc: time.UTC}
			for i, ts := range times {
				if got := string(c.append(nil, ts)); got != tt.want[i] {
					t.Errorf("time %d: got %q, want %q", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestParseTimeFormat(t *testing.T) {
	for f := TimeOfDay; f <= TimeDate; f++ {
		got, err := ParseTimeFormat(f.String())
		if err != nil || got != f {
			t.Errorf("ParseTimeFormat(%q) = %v, %v", f.String(), got, err)
		}
	}
	if _, err := ParseTimeFormat("epoch"); err == nil {
		t.Error("ParseTimeFormat(epoch): no error")
	}
}
