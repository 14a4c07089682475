package zmtp

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
)

// runSkip feeds before in chunks of size chunk, reports n bytes not
// captured (or, with gap set, lost), then feeds after in chunks of size
// chunk.
func runSkip(opts Options, chunk int, before []byte, n uint64, after []byte, gap bool) result {
	d := NewDecoder(opts)
	var r result
	emit := func(e Event) { r.Events = append(r.Events, cloneEvent(e)) }
	for _, c := range chunked(before, chunk) {
		d.Feed(c, emit)
	}
	if gap {
		d.Gap(n, emit)
	} else {
		d.Skip(n, emit)
	}
	for _, c := range chunked(after, chunk) {
		d.Feed(c, emit)
	}
	r.Offset, r.Err, r.Searching = d.Offset(), d.Err(), d.Searching()
	return r
}

// mib is the body size of TestSkip's large frame.
const mib = 1 << 20

func TestSkip(t *testing.T) {
	longHeader := hx("02 00 00 00 00 00 10 00 00") // a 1 MiB long frame
	body := bytes.Repeat([]byte("0123456789abcdef"), 8)
	tests := []struct {
		name   string
		opts   Options
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
			name:   "inside a 1 MiB body, kept bytes first",
			before: prefix(longHeader, body),
			n:      mib - uint64(len(body)),
			after:  pushOne,
			want: prefixEvents(
				&Message{Header: Header{Offset: afterReady, Len: 9 + mib}, Frames: []Frame{fr(mib, string(body[:DefaultMaxBody]), false)}, Bytes: mib},
				&Message{Header: Header{Offset: afterReady + 9 + mib, Len: 3}, Frames: []Frame{fr(1, "1", false)}, Bytes: 1},
			),
		},
		{
			name:   "inside a 1 MiB body, fewer bytes kept than MaxBody",
			opts:   Options{MaxBody: 1024},
			before: prefix(pushHello, longHeader, body),
			n:      mib - uint64(len(body)) - 5,
			after:  cat([]byte("tail!"), pushOne),
			want: prefixEvents(
				&Message{Header: Header{Offset: afterReady, Len: 7 + 9 + mib},
					Frames: []Frame{fr(5, "hello", true), fr(mib, string(body), false)}, Bytes: 5 + mib},
				&Message{Header: Header{Offset: afterReady + 16 + mib, Len: 3}, Frames: []Frame{fr(1, "1", false)}, Bytes: 1},
			),
		},
		{
			name:   "completing a message exactly",
			before: prefix(hx("00 05"), []byte("ab")),
			n:      3,
			after:  pushOne,
			want: prefixEvents(
				&Message{Header: Header{Offset: afterReady, Len: 7}, Frames: []Frame{fr(5, "ab", false)}, Bytes: 5},
				&Message{Header: Header{Offset: afterReady + 7, Len: 3}, Frames: []Frame{fr(1, "1", false)}, Bytes: 1},
			),
		},
		{
			name:   "completing a frame, the message goes on",
			before: prefix(hx("01 05"), []byte("ab")),
			n:      3,
			after:  pushOne,
			want: prefixEvents(
				&Message{Header: Header{Offset: afterReady, Len: 10}, Frames: []Frame{fr(5, "ab", true), fr(1, "1", false)}, Bytes: 6},
			),
		},
		{
			name:   "a whole body",
			before: prefix(longHeader),
			n:      mib,
			want: prefixEvents(
				&Message{Header: Header{Offset: afterReady, Len: 9 + mib}, Frames: []Frame{fr(mib, "", false)}, Bytes: mib},
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
			before:    prefix(hx("02 00 00")),
			n:         2,
			after:     cat(hx("00 00 00 00 01 31"), pushOne),
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
			before:    cat(pushSignature, pushMajor),
			n:         20,
			after:     pushRest[20:],
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
		{
			name:      "in a long command body",
			before:    prefix(hx("06 00 00 00 00 00 00 01 00 05"), []byte("HELLO")),
			n:         250,
			want:      prefixEvents(),
			searching: true,
		},
		{
			name:   "inside a ZMTP 2.0 identity",
			before: cat(greeting2(1, 8), hx("00 0a"), []byte("id")),
			n:      8,
			after:  pushOne,
			want: []Event{
				&Greeting{Header: Header{Len: 12}, Major: 2, Revision: 1, Mechanism: "NULL", SocketType: "PUSH"},
				&Identity{Header: Header{Offset: 12, Len: 12}, Size: 10, Data: []byte("id")},
				&Message{Header: Header{Offset: 24, Len: 3}, Frames: []Frame{fr(1, "1", false)}, Bytes: 1},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := len(tc.before) + len(tc.after) + 1
			r := runSkip(tc.opts, all, tc.before, tc.n, tc.after, false)
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
			diffResults(t, "bytewise", r, runSkip(tc.opts, 1, tc.before, tc.n, tc.after, false))
			// A gap passes the bytes the same way.
			g := runSkip(tc.opts, all, tc.before, tc.n, tc.after, true)
			diffResults(t, "Gap", r, g)
		})
	}
}

// TestSkipClassify checks that a CURVE MESSAGE or a subscription whose
// first bytes were not all captured is recognised from the bytes captured
// only: never from bytes that were not there.
func TestSkipClassify(t *testing.T) {
	curve := greeting3(3, 0, "CURVE", false)
	sub := cat(greeting3(3, 0, "NULL", false), command("READY", meta("Socket-Type", "SUB")))
	subEnd := uint64(len(sub))
	curveMsg := func(kept int) *Message {
		m := &Message{Header: Header{Offset: 64, Len: 2 + 33}, Frames: []Frame{fr(33, string(curveMsgBody[:kept]), false)}, Bytes: 33}
		if kept >= 16 {
			m.Encrypted, m.Mechanism, m.Nonce, m.BoxSize = true, "CURVE", curveMsgBody[8:16], 17
		}
		return m
	}
	tests := []struct {
		name   string
		before []byte
		kept   int // body bytes fed before the skip
		after  []byte
		want   *Message
	}{
		{"CURVE MESSAGE, prefix cut", curve, 5, nil, curveMsg(5)},
		{"CURVE MESSAGE, nonce cut", curve, 15, nil, curveMsg(15)},
		{"CURVE MESSAGE, box cut", curve, 16, nil, curveMsg(16)},
		{"CURVE MESSAGE, all cut", curve, 0, nil, curveMsg(0)},
		{"subscription, topic cut", sub, 4, nil, &Message{Header: Header{Offset: subEnd, Len: 2 + 9},
			Frames: []Frame{fr(9, "\x01wea", false)}, Bytes: 9, Subscription: Subscribe, Topic: []byte("wea")}},
		{"subscription, all cut", sub, 0, nil, &Message{Header: Header{Offset: subEnd, Len: 2 + 9},
			Frames: []Frame{fr(9, "", false)}, Bytes: 9}},
	}
	bodies := map[bool][]byte{true: curveMsgBody, false: []byte("\x01weather.")}
	for _, tc := range tests {
		body := bodies[bytes.Equal(tc.before, curve)]
		for _, opts := range []Options{{}, {MaxBody: 4}} {
			t.Run(tc.name, func(t *testing.T) {
				r := runSkip(opts, 1, cat(tc.before, []byte{0, byte(len(body))}, body[:tc.kept]), uint64(len(body)-tc.kept), nil, false)
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				want := cloneEvent(tc.want).(*Message)
				if opts.MaxBody > 0 {
					f := &want.Frames[0]
					f.Data = f.Data[:min(len(f.Data), opts.MaxBody)]
					if len(want.Topic) > 0 {
						want.Topic = f.Data[1:]
					}
				}
				if diff := cmp.Diff(want, r.Events[len(r.Events)-1], cmpOpts); diff != "" {
					t.Errorf("MaxBody %d: message (-want +got):\n%s", opts.MaxBody, diff)
				}
			})
		}
	}
}

// TestConnSkip checks that a Conn passes a skip to the direction's decoder,
// and that a skip stopping a direction in its greeting lets the other one,
// waiting for that greeting, decide its version without it, as a gap does.
func TestConnSkip(t *testing.T) {
	for _, gap := range []bool{false, true} {
		c := NewConn(Options{})
		var got []dirEvent
		emit := func(d segment.Dir, e Event) { got = append(got, dirEvent{d, cloneEvent(e)}) }
		pass := c.Skip
		if gap {
			pass = c.Gap
		}
		// The client waits for the server's version.
		c.Feed(segment.ClientToServer, cat(pushSignature, pushMajor), emit)
		c.Feed(segment.ServerToClient, pushSignature[:5], emit)
		pass(segment.ServerToClient, 5, emit)
		if len(got) != 0 || !c.Decoder(segment.ServerToClient).Searching() {
			t.Fatalf("gap %v: %d events, want none, the server searching for a boundary: %+v", gap, len(got), got)
		}
		c.Feed(segment.ClientToServer, cat(pushRest, pushReady, hx("00 0a"), []byte("ab")), emit)
		pass(segment.ClientToServer, 8, emit)
		c.Close(segment.Finished, emit)
		want := []dirEvent{
			{segment.ClientToServer, wantGreeting(0, 3, 1, "NULL")},
			{segment.ClientToServer, pushEvents()[1]},
			{segment.ClientToServer, &Message{Header: Header{Offset: afterReady, Len: 12}, Frames: []Frame{fr(10, "ab", false)}, Bytes: 10}},
		}
		if diff := cmp.Diff(want, got[:len(got)-1], connCmpOpts); diff != "" {
			t.Errorf("gap %v: events (-want +got):\n%s", gap, diff)
		}
		sum := got[len(got)-1].Ev.(*Connection)
		if sum.Sides[0].StreamBytes != afterReady+12 || sum.Sides[1].StreamBytes != 10 || sum.Sides[0].Messages != 1 {
			t.Errorf("gap %v: summary %+v", gap, sum.Sides)
		}
	}
}
