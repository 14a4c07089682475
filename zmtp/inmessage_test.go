package zmtp

import "testing"

// TestInMessage: a direction is in a message inside a frame header or
// body, a command, or between the frames of a multipart message, and not
// in its greeting or between messages.
func TestInMessage(t *testing.T) {
	d := NewDecoder(Options{})
	nop := func(Event) {}
	g := greeting3(3, 1, "NULL", false)
	d.Feed(g[:10], nop)
	if d.InMessage() {
		t.Error("in the greeting: in a message")
	}
	d.Feed(g[10:], nop)
	ready := command("READY", meta("Socket-Type", "PUSH"))
	d.Feed(ready[:5], nop)
	if !d.InMessage() {
		t.Error("inside READY: not in a message")
	}
	d.Feed(ready[5:], nop)
	if d.InMessage() {
		t.Error("after READY: in a message")
	}
	first := frame(0x01, []byte("abcd")) // MORE
	for i, want := range []bool{true, true, true} {
		d.Feed(first[i:i+1], nop)
		if d.InMessage() != want {
			t.Errorf("byte %d of a frame: in a message %v", i, !want)
		}
	}
	d.Feed(first[3:], nop)
	if !d.InMessage() {
		t.Error("between the frames of a multipart message: not in a message")
	}
	d.Feed(frame(0x00, []byte("e")), nop)
	if d.InMessage() {
		t.Error("after the last frame: in a message")
	}
}
