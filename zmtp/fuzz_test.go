package zmtp

import (
	"testing"
)

// fuzzOptions are small limits, so that fuzz inputs reach them.
var fuzzOptions = Options{MaxBody: 4, MaxFrames: 3, MaxCommand: 300}

// FuzzDecoder checks on any input that the decoder does not panic, counts
// every byte, keeps what Options allow and no more, and emits the same
// events however the input is cut. The first byte picks the chunk size.
func FuzzDecoder(f *testing.F) {
	for i, tc := range decodeCases() {
		f.Add(append([]byte{byte(i)}, tc.in...))
	}
	f.Add(append([]byte{1}, prefix(longCommand("READY", meta("A", "short", "B", string(make([]byte, 400)))))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		chunk, in := int(data[0])%32+1, data[1:]
		whole := run(fuzzOptions, in)
		checkBounds(t, whole, fuzzOptions, uint64(len(in)))
		diffResults(t, "chunked", whole, run(fuzzOptions, chunked(in, chunk)...))
		checkBounds(t, run(Options{}, in), Options{}.withDefaults(), uint64(len(in)))
	})
}

// checkBounds checks the invariants of one run over n input bytes.
func checkBounds(t *testing.T, r result, o Options, n uint64) {
	t.Helper()
	if r.Offset != n {
		t.Errorf("Offset() = %d, want %d", r.Offset, n)
	}
	for i, e := range r.Events {
		h := e.EventHeader()
		if h.Offset > n || h.Len > n-h.Offset {
			t.Errorf("event %d (%T) covers [%d, +%d), past the %d input bytes", i, e, h.Offset, h.Len, n)
		}
		switch e := e.(type) {
		case *Message:
			if len(e.Frames) == 0 || len(e.Frames) > o.MaxFrames {
				t.Errorf("message %d has %d frames, limit %d", i, len(e.Frames), o.MaxFrames)
			}
			for _, f := range e.Frames {
				if len(f.Data) > o.MaxBody || uint64(len(f.Data)) > f.Size {
					t.Errorf("message %d frame keeps %d bytes of %d, limit %d", i, len(f.Data), f.Size, o.MaxBody)
				}
			}
		case *Command:
			if len(e.Data) > o.MaxCommand || uint64(len(e.Data)) >= e.Size {
				t.Errorf("command %d keeps %d data bytes of a %d-byte body, limit %d", i, len(e.Data), e.Size, o.MaxCommand)
			}
		case *Error:
			if i != len(r.Events)-1 || r.Err != e.Err {
				t.Errorf("error %d (%v) is not the last event and Err() (%v)", i, e.Err, r.Err)
			}
		}
	}
	if r.Err != nil && len(r.Events) == 0 {
		t.Errorf("Err() = %v without an *Error event", r.Err)
	}
}
