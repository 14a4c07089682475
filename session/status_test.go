package session

import (
	"bytes"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	var buf bytes.Buffer
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := newStatus(&buf, t0)
	if s.due(t0.Add(999 * time.Millisecond)) {
		t.Error("due before a second")
	}
	if !s.due(t0.Add(time.Second)) {
		t.Error("not due after a second")
	}
	s.clear()
	if buf.Len() != 0 {
		t.Errorf("clear before anything was shown wrote %q", buf.String())
	}
	s.show(t0.Add(2*time.Second), 100, 10, 3)
	s.show(t0.Add(3*time.Second), 150, 10, 3)
	s.clear()
	want := "\r100 packets (50/s), 10 ZMTP messages (5/s), 3 dropped by kernel\x1b[K" +
		"\r150 packets (50/s), 10 ZMTP messages (0/s), 3 dropped by kernel\x1b[K" +
		"\r\x1b[K"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}

	var none *status // --status=never
	none.show(t0, 1, 1, 1)
	none.clear()
	if none.due(t0.Add(time.Hour)) {
		t.Error("a nil status is due")
	}
}
