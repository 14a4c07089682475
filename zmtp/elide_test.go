package zmtp

import (
	"testing"
)

// TestElide passes frames left out whole between commands: the decoder
// stays in place, emits the commands after them with their true offsets,
// no resync, no error; AddCounts makes its counts the stream's. Bytes
// elided inside a frame it was decoding lose its place, as a skip there.
func TestElide(t *testing.T) {
	ready := command("READY", meta("Socket-Type", "PUSH"))
	ping := command("PING", []byte{0, 10})
	msgs := cat(frame(0x01, []byte("abc")), frame(0, make([]byte, 200)), frame(0, []byte("z")))
	var d Decoder
	d.init(Options{})
	var evs []Event
	emit := func(e Event) { evs = append(evs, cloneEvent(e)) }
	d.Feed(cat(greeting3(3, 1, "NULL", false), ready), emit)
	d.Elide(uint64(len(msgs)), emit)
	d.Boundary(true, emit)
	at := d.Offset()
	d.Feed(ping, emit)
	d.Elide(10, emit) // a run cut by the packet's end
	d.Elide(20, emit) // and its rest in the next
	d.Boundary(false, emit)
	if !d.InMessage() {
		t.Errorf("a Boundary that says a message is open: not in one")
	}
	d.Boundary(true, emit)
	d.Feed(ping, emit)
	d.AddCounts(Counts{Messages: 2, Frames: 3, Bytes: 204})
	if len(evs) != 4 || d.Err() != nil || d.Resyncs() != 0 {
		t.Fatalf("events %v, error %v, %d resyncs", evs, d.Err(), d.Resyncs())
	}
	if c, ok := evs[2].(*Command); !ok || c.Kind != KindPing || c.Offset != at {
		t.Errorf("event %+v, want the PING at %d", evs[2], at)
	}
	c := d.Counts()
	if c.Messages != 2 || c.Frames != 6 || c.Bytes != 204 || c.Commands[CountPing] != 2 {
		t.Errorf("counts %+v", c)
	}

	// Inside a frame being decoded: lost its place.
	d = Decoder{}
	d.init(Options{})
	d.Feed(cat(greeting3(3, 1, "NULL", false), ready, []byte{0x04, 50, 4}), nil)
	d.Elide(100, nil)
	if !d.Searching() {
		t.Errorf("elided inside a command: not searching")
	}
}
