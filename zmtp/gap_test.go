package zmtp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runGap feeds before in chunks of size chunk, reports a gap of n bytes,
// then feeds after in chunks of size chunk.
func runGap(chunk int, before []byte, n uint64, after []byte) result {
	d := NewDecoder(Options{})
	var r result
	emit := func(e Event) { r.Events = append(r.Events, cloneEvent(e)) }
	for _, c := range chunked(before, chunk) {
		d.Feed(c, emit)
	}
	d.Gap(n, emit)
	for _, c := range chunked(after, chunk) {
		d.Feed(c, emit)
	}
	r.Offset, r.Err, r.Searching = d.Offset(), d.Err(), d.Searching()
	return r
}

func TestGap(t *testing.T) {
	tests := []struct {
		name   string
		before []byte
		n      uint64
		after  []byte
		want   []Event
		// searching: the decoder lost its place and looks for a boundary.
		searching bool
	}{
		{
			name:   "inside a message frame body",
			before: prefix(pushHello, hx("00 0a"), []byte("abc")),
			n:      4,
			after:  cat([]byte("hij"), pushOne),
			want: prefixEvents(
				&Message{Header: Header{Offset: afterReady, Len: 7 + 12},
					Frames: []Frame{fr(5, "hello", true), fr(10, "abc", false)}, Bytes: 15},
				&Message{Header: Header{Offset: afterReady + 19, Len: 3}, Frames: []Frame{fr(1, "1", false)}, Bytes: 1},
			),
		},
		{
			name:   "completing a frame body",
			before: prefix(hx("00 05"), []byte("ab")),
			n:      3,
			after:  pushOne,
			want: prefixEvents(
				&Message{Header: Header{Offset: afterReady, Len: 7}, Frames: []Frame{fr(5, "ab", false)}, Bytes: 5},
				&Message{Header: Header{Offset: afterReady + 7, Len: 3}, Frames: []Frame{fr(1, "1", false)}, Bytes: 1},
			),
		},
		{
			name:   "at the start of a long frame body",
			before: prefix(hx("02 00 00 00 00 00 00 01 00")),
			n:      256,
			want: prefixEvents(
				&Message{Header: Header{Offset: afterReady, Len: 9 + 256}, Frames: []Frame{fr(256, "", false)}, Bytes: 256},
			),
		},
		{
			name:   "of zero bytes in a header",
			before: prefix(hx("00")),
			after:  hx("01 31"),
			want:   prefixEvents(&Message{Header: Header{Offset: afterReady, Len: 3}, Frames: []Frame{fr(1, "1", false)}, Bytes: 1}),
		},
		{
			name:      "in a frame header",
			before:    prefix(hx("01")),
			n:         1,
			after:     cat(hx("31"), pushOne),
			want:      prefixEvents(),
			searching: true,
		},
		{
			name:      "at a frame boundary",
			before:    prefix(pushOne),
			n:         3,
			after:     pushOne,
			want:      prefixEvents(&Message{Header: Header{Offset: afterReady, Len: 3}, Frames: []Frame{fr(1, "1", false)}, Bytes: 1}),
			searching: true,
		},
		{
			name:      "past the end of a frame body",
			before:    prefix(hx("00 05"), []byte("ab")),
			n:         4,
			after:     pushOne,
			want:      prefixEvents(),
			searching: true,
		},
		{
			name:      "in the greeting",
			before:    pushSignature,
			n:         1,
			after:     pushRest,
			searching: true,
		},
		{
			name:      "in a command body",
			before:    cat(pushSignature, pushMajor, pushRest, pushReady[:10]),
			n:         5,
			after:     pushReady[15:],
			want:      pushEvents()[:1],
			searching: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runGap(len(tc.before)+len(tc.after)+1, tc.before, tc.n, tc.after)
			if want := uint64(len(tc.before)+len(tc.after)) + tc.n; r.Offset != want {
				t.Errorf("Offset() = %d, want %d", r.Offset, want)
			}
			got := r.Events
			if r.Err != nil {
				t.Errorf("Err() = %v, want nil", r.Err)
			}
			if r.Searching != tc.searching {
				t.Errorf("Searching() = %v, want %v", r.Searching, tc.searching)
			}
			if diff := cmp.Diff(tc.want, got, cmpOpts); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			diffResults(t, "bytewise", r, runGap(1, tc.before, tc.n, tc.after))
		})
	}
}

// TestGapHuge skips nearly all of a 2^63-1 byte frame body.
func TestGapHuge(t *testing.T) {
	const size = 1<<63 - 1
	d := NewDecoder(Options{})
	var got *Message
	emit := func(e Event) {
		if m, ok := e.(*Message); ok {
			got = cloneEvent(m).(*Message)
		}
	}
	d.Feed(prefix(hx("02 7f ff ff ff ff ff ff ff"), []byte("abc")), emit)
	d.Gap(size-4, emit)
	d.Feed([]byte("z"), emit)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	want := &Message{Header: Header{Offset: afterReady, Len: 9 + size}, Frames: []Frame{fr(size, "abc", false)}, Bytes: size}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if want := uint64(afterReady + 9 + size); d.Offset() != want {
		t.Errorf("Offset() = %d, want %d", d.Offset(), want)
	}
	if d.Gap(1, nil); d.Err() != nil || !d.Searching() {
		t.Errorf("after a gap at a frame boundary: Err() = %v, Searching() = %v; want nil, true", d.Err(), d.Searching())
	}
}
