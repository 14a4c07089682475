package zmtp

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		in, want Options
	}{
		{Options{}, Options{MaxBody: 64, MaxFrames: 64, MaxCommand: 4096, MaxSearch: 16 << 10}},
		{Options{MaxBody: -1, MaxFrames: -1, MaxCommand: -1, MaxSearch: -1}, Options{MaxBody: 0, MaxFrames: 64, MaxCommand: 4096, MaxSearch: 16 << 10}}, // -s 0: sizes only
		{Options{MaxBody: 1, MaxFrames: 2, MaxCommand: 10, MaxSearch: 10}, Options{MaxBody: 1, MaxFrames: 2, MaxCommand: 256, MaxSearch: 512}},
		{Options{MaxBody: 1 << 20, MaxFrames: 1000, MaxCommand: 1 << 16, MaxSearch: 1 << 20}, Options{MaxBody: 1 << 20, MaxFrames: 1000, MaxCommand: 1 << 16, MaxSearch: 1 << 20}},
	}
	for _, tc := range tests {
		if got := NewDecoder(tc.in).opts.options(); got != tc.want {
			t.Errorf("NewDecoder(%+v) uses %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// longCommand encodes a command frame with a long size.
func longCommand(name string, data []byte) []byte {
	return frame(flagCommand|flagLong, cat([]byte{byte(len(name))}, []byte(name), data))
}

func TestLimits(t *testing.T) {
	big := strings.Repeat("v", 400)
	bigReady := meta("A", "short", "B", big, "C", "x")
	// 294 bytes of data are kept: A (11 bytes) and P (280) end 3 bytes
	// before the limit, in the middle of the name of the third property.
	pad := strings.Repeat("p", 274)
	cutName := meta("A", "short", "P", pad, "Name", "value")
	reason := strings.Repeat("r", 255)
	digits := []byte("0123456789")

	tests := []struct {
		name string
		opts Options
		in   []byte
		want []Event
	}{
		{
			name: "MaxBody",
			opts: Options{MaxBody: 4},
			in:   prefix(frame(flagMore, digits), frame(0, digits[:3])),
			want: prefixEvents(&Message{Header: Header{Offset: afterReady, Len: 17},
				Frames: []Frame{fr(10, "0123", true), fr(3, "012", false)}, Bytes: 13}),
		},
		{
			name: "MaxFrames",
			opts: Options{MaxFrames: 2},
			in:   prefix(frame(flagMore, []byte("a")), frame(flagMore, []byte("bb")), frame(flagMore|flagLong, []byte("ccc")), frame(0, nil)),
			want: prefixEvents(&Message{Header: Header{Offset: afterReady, Len: 3 + 4 + 12 + 2},
				Frames: []Frame{fr(1, "a", true), fr(2, "bb", true)}, FramesOmitted: 2, Bytes: 6}),
		},
		{
			name: "MaxCommand cuts a property value",
			opts: Options{MaxCommand: 300},
			in:   prefix(longCommand("READY", bigReady)),
			want: prefixEvents(&Command{Header: Header{Offset: afterReady, Len: 9 + 6 + uint64(len(bigReady))},
				Name: "READY", Size: 6 + uint64(len(bigReady)), Data: bigReady[:294], Truncated: true,
				Properties: []Property{prop("A", "short")}}),
		},
		{
			name: "MaxCommand cuts a property name",
			opts: Options{MaxCommand: 300},
			in:   prefix(longCommand("READY", cutName)),
			want: prefixEvents(&Command{Header: Header{Offset: afterReady, Len: 9 + 6 + uint64(len(cutName))},
				Name: "READY", Size: 6 + uint64(len(cutName)), Data: cutName[:294], Truncated: true,
				Properties: []Property{prop("A", "short"), prop("P", pad)}}),
		},
		{
			name: "MaxCommand cuts an ERROR reason",
			opts: Options{MaxCommand: 1},
			in:   prefix(longCommand("ERROR", cat([]byte{255}, []byte(reason)))),
			want: prefixEvents(&Command{Header: Header{Offset: afterReady, Len: 9 + 262},
				Name: "ERROR", Size: 262, Data: cat([]byte{255}, []byte(reason[:249])), Truncated: true,
				Reason: []byte(reason[:249])}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(tc.opts, tc.in)
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			if diff := cmp.Diff(tc.want, r.Events, cmpOpts); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			diffResults(t, "bytewise", r, run(tc.opts, chunked(tc.in, 1)...))
		})
	}
}

// TestLargeFrameStreams feeds declared-size frames of zeros in 1 MiB chunks:
// the body streams through without being held.
func TestLargeFrameStreams(t *testing.T) {
	for _, size := range []uint64{64 << 20, 1 << 30} {
		d := NewDecoder(Options{})
		var got []Message
		emit := func(e Event) {
			if m, ok := e.(*Message); ok {
				got = append(got, *cloneEvent(m).(*Message))
			}
		}
		d.Feed(prefix(binary.BigEndian.AppendUint64([]byte{flagLong}, size)), emit)
		chunk := make([]byte, 1<<20)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for fed := uint64(0); fed < size; fed += uint64(len(chunk)) {
			d.Feed(chunk, emit)
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
			t.Errorf("size %d: allocated %d bytes while streaming the body", size, grew)
		}
		if d.Err() != nil {
			t.Fatal(d.Err())
		}
		if len(got) != 1 || len(got[0].Frames) != 1 {
			t.Fatalf("size %d: got %+v, want one message of one frame", size, got)
		}
		if f := got[0].Frames[0]; f.Size != size || len(f.Data) != DefaultMaxBody || !f.Truncated() {
			t.Errorf("size %d: frame Size %d, %d bytes kept, want Size %d, %d bytes kept", size, f.Size, len(f.Data), size, DefaultMaxBody)
		}
		if want := afterReady + 9 + size; d.Offset() != want || got[0].Len != 9+size {
			t.Errorf("size %d: Offset() = %d, Len = %d, want %d, %d", size, d.Offset(), got[0].Len, want, 9+size)
		}
	}
}

// TestZeroAllocs checks that steady-state decoding allocates nothing.
func TestZeroAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation changes allocations")
	}
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool items: decoders may allocate their work")
	}
	multipart := cat(pushHello, pushLong)
	inputs := map[string][]byte{
		"one-frame messages": bytes.Repeat(pushOne, 100),
		"multipart":          multipart,
		"READY":              pushReady,
		"PING":               command("PING", hx("00 0a")),
		"bytewise":           cat(pushOne, multipart),
		"body chunk":         nil,
	}
	for name, in := range inputs {
		d := NewDecoder(Options{})
		emit := func(Event) {}
		d.Feed(prefix(in, in), emit) // warm up: buffers reach their size
		feed := func() { d.Feed(in, emit) }
		switch name {
		case "bytewise":
			feed = func() {
				for i := range in {
					d.Feed(in[i:i+1], emit)
				}
			}
		case "body chunk":
			d.Feed(hx("02 7f 00 00 00 00 00 00 00"), emit)
			in = make([]byte, 4096)
		}
		if n := testing.AllocsPerRun(100, feed); n != 0 || d.Err() != nil {
			t.Errorf("%s: %v allocations per Feed (err %v), want 0", name, n, d.Err())
		}
	}
}

// TestInterned checks that the common mechanism and command names do not
// allocate.
func TestInterned(t *testing.T) {
	for _, name := range []string{"NULL", "PLAIN", "CURVE", "GSSAPI"} {
		field := greeting3(3, 1, name, false)[mechAt:mechEnd]
		if n := testing.AllocsPerRun(10, func() { _ = mechanismName(field) }); n != 0 {
			t.Errorf("mechanism %s: %v allocations", name, n)
		}
	}
	for _, name := range []string{"READY", "ERROR", "HELLO", "WELCOME", "INITIATE", "PING", "PONG", "SUBSCRIBE", "CANCEL"} {
		b := []byte(name)
		k := lookupCommand(b).kind
		if n := testing.AllocsPerRun(10, func() { _ = commandName(lookupCommand(b).kind, b) }); n != 0 || commandName(k, b) != name || k.String() != name {
			t.Errorf("command %s: %v allocations", name, n)
		}
	}
}

func TestSatAdd(t *testing.T) {
	const maxU = ^uint64(0)
	for _, tc := range []struct{ a, b, want uint64 }{
		{1, 2, 3},
		{1 << 63, 1<<63 - 1, maxU},
		{1 << 63, 1 << 63, maxU},
		{maxU, 1, maxU},
	} {
		if got := satAdd(tc.a, tc.b); got != tc.want {
			t.Errorf("satAdd(%d, %d) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestNoBody checks that a negative MaxBody keeps no body bytes while sizes
// stay exact (zmtpdump -s 0).
func TestNoBody(t *testing.T) {
	got := run(Options{MaxBody: -1}, pushSignature, pushMajor, pushRest, pushReady, pushOne)
	m, ok := got.Events[len(got.Events)-1].(*Message)
	if !ok {
		t.Fatalf("last event %T, want *Message", got.Events[len(got.Events)-1])
	}
	if len(m.Frames) != 1 || m.Frames[0].Size != 1 || len(m.Frames[0].Data) != 0 || !m.Frames[0].Truncated() {
		t.Errorf("frame %+v, want size 1 with no data kept", m.Frames)
	}
}
