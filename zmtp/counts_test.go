package zmtp

import (
	"bytes"
	"testing"
)

// TestCounts: a 3.1 stream's counts, fed whole and a byte at a time, are
// those of the frames on the wire: a two-frame message and a one-frame one,
// a long frame, PING, PONG, SUBSCRIBE and CANCEL (READY counted as a frame
// only), and AddCounts adds to them.
func TestCounts(t *testing.T) {
	ping := cat([]byte{0, 10}, []byte("ctx"))
	in := cat(greeting3(3, 1, "NULL", false),
		command("READY", meta("Socket-Type", "PUSH")),
		frame(flagMore, []byte("ab")), frame(0, []byte("cde")),
		command("PING", ping), command("PONG", []byte("ctx")),
		command("SUBSCRIBE", []byte("t")), command("CANCEL", []byte("t")),
		frame(flagLong, bytes.Repeat([]byte{'x'}, 300)),
	)
	want := Counts{Messages: 2, Frames: 8, Bytes: 2 + 3 + 300}
	want.Commands = [NumCounted]uint64{1, 1, 1, 1}
	for _, n := range []int{len(in), 1, 7} {
		d := NewDecoder(Options{})
		for _, c := range chunked(in, n) {
			d.Feed(c, func(Event) {})
		}
		if err := d.Err(); err != nil {
			t.Fatalf("chunks of %d: %v", n, err)
		}
		if got := d.Counts(); got != want {
			t.Errorf("chunks of %d: Counts() = %+v, want %+v", n, got, want)
		}
	}
	d := NewDecoder(Options{})
	d.Feed(in, func(Event) {})
	extra := Counts{Messages: 5, Frames: 6, Bytes: 70}
	extra.Commands[CountPing] = 2
	d.AddCounts(extra)
	want.Add(extra)
	if got := d.Counts(); got != want {
		t.Errorf("after AddCounts: %+v, want %+v", got, want)
	}
}

// TestCountedNames: the counted commands' names are the wire names, and
// only the four kinds are counted.
func TestCountedNames(t *testing.T) {
	for k := CommandKind(0); k < numCommandKinds; k++ {
		c, ok := Counted(k)
		if ok != (k == KindPing || k == KindPong || k == KindSubscribe || k == KindCancel) {
			t.Errorf("Counted(%v) = %v", k, ok)
		}
		if ok && c.String() != k.String() {
			t.Errorf("Counted(%v) = %v: names differ", k, c)
		}
	}
}
