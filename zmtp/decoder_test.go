package zmtp

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type decodeCase struct {
	name    string
	in      []byte
	want    []Event // events before any error
	wantErr error   // sentinel the final *Error wraps, if any
	errOff  uint64  // offset of the final *Error
	errText string  // text the error must contain, if set
}

// decodeCases are the shared vectors: the table test, the split tests and
// the fuzz seeds use them.
func decodeCases() []decodeCase {
	msg := func(off, length uint64, frames ...Frame) *Message {
		m := &Message{Header: Header{Offset: off, Len: length}, Frames: frames}
		for _, f := range frames {
			m.Bytes += f.Size
		}
		return m
	}
	cmdEv := func(off uint64, name string, data []byte) *Command {
		size := uint64(1 + len(name) + len(data))
		return &Command{Header: Header{Offset: off, Len: 2 + size}, Name: name, Size: size, Data: data}
	}
	g30 := greeting3(3, 0, "NULL", false)
	errReason := cat([]byte{19}, []byte("Invalid socket type"))
	ping := cat(hx("00 0a"), []byte("ctx"))
	curveReady := bytes.Repeat([]byte{0xAB}, 30) // nonce + box: not metadata
	readyLong := cat(hx("06 00 00 00 00 00 00 00 1a"), pushReady[2:])

	return append([]decodeCase{
		{
			name: "libzmq NULL handshake, PUSH side",
			in:   pushStream(),
			want: pushEvents(),
		},
		{
			name: "ZMTP 3.0 greeting and RFC 23 worked example READY",
			in:   cat(g30, rfcDealerReady),
			want: []Event{
				wantGreeting(0, 3, 0, "NULL"),
				&Command{
					Header: Header{Offset: 64, Len: 43}, Name: "READY", Size: 41, Data: rfcDealerReady[8:],
					Properties: []Property{prop("Socket-Type", "DEALER"), prop("Identity", "")},
				},
			},
		},
		{
			name: "higher major and minor decode as 3.x",
			in:   cat(greeting3(4, 7, "NULL", false), pushOne),
			want: []Event{wantGreeting(0, 4, 7, "NULL"), msg(64, 3, fr(1, "1", false))},
		},
		{
			name: "PLAIN as server",
			in:   greeting3(3, 1, "PLAIN", true),
			want: []Event{
				&Greeting{Header: Header{Offset: 0, Len: 64}, Major: 3, Minor: 1, Mechanism: "PLAIN", AsServer: true},
			},
		},
		{
			name: "20-character mechanism",
			in:   greeting3(3, 1, "X-ABCDEFGHIJKLMNOPQR", false),
			want: []Event{wantGreeting(0, 3, 1, "X-ABCDEFGHIJKLMNOPQR")},
		},
		{
			name: "ERROR command",
			in:   cat(g30, command("ERROR", errReason)),
			want: []Event{
				wantGreeting(0, 3, 0, "NULL"),
				&Command{Header: Header{Offset: 64, Len: 28}, Name: "ERROR", Size: 26, Data: errReason,
					Reason: []byte("Invalid socket type")},
			},
		},
		{
			name: "unknown command by name and size, PING",
			in:   prefix(command("FOOBAR", []byte("xyz")), command("PING", ping)),
			want: prefixEvents(cmdEv(afterReady, "FOOBAR", []byte("xyz")), pingEv(afterReady+12, ping)),
		},
		{
			name: "zero-length frames",
			in:   prefix(hx("00 00"), hx("01 00 02 00 00 00 00 00 00 00 00")),
			want: prefixEvents(
				msg(afterReady, 2, fr(0, "", false)),
				msg(afterReady+2, 11, fr(0, "", true), fr(0, "", false)),
			),
		},
		{
			name: "long frame with a small size",
			in:   prefix(frame(flagLong, []byte("abc")), frame(flagLong|flagMore, nil), frame(0, []byte("z"))),
			want: prefixEvents(
				msg(afterReady, 12, fr(3, "abc", false)),
				msg(afterReady+12, 12, fr(0, "", true), fr(1, "z", false)),
			),
		},
		{
			name: "long command with a small size",
			in:   cat(g30, readyLong),
			want: []Event{
				wantGreeting(0, 3, 0, "NULL"),
				&Command{Header: Header{Offset: 64, Len: 35}, Name: "READY", Size: 26, Data: pushReady[8:],
					Properties: []Property{prop("Socket-Type", "PUSH")}},
			},
		},
		{
			name: "CURVE READY is not parsed as metadata",
			in:   cat(greeting3(3, 0, "CURVE", false), command("READY", curveReady)),
			want: []Event{wantGreeting(0, 3, 0, "CURVE"), withCurve(cmdEv(64, "READY", curveReady), curveReady[:8], 22)},
		},
		{
			name: "command between the frames of a message",
			in:   prefix(frame(flagMore, []byte("a")), command("PING", ping), frame(0, []byte("b"))),
			want: prefixEvents(
				pingEv(afterReady+3, ping),
				msg(afterReady, 6, fr(1, "a", true), fr(1, "b", false)),
			),
		},
		{
			name: "largest long size is accepted",
			in:   prefix(hx("02 7f ff ff ff ff ff ff ff 00 00")),
			want: prefixEvents(),
		},

		// Bad input.
		{
			name:    "reserved flag bits",
			in:      prefix(hx("18 00"), pushOne),
			want:    prefixEvents(),
			wantErr: ErrReservedFlags, errOff: afterReady,
			errText: "flags byte 0x18 at offset 92 (RFC 23: bits 7-3 MUST be zero): reserved flag bits set",
		},
		{
			name:    "reserved flag bits after a frame in the same segment",
			in:      prefix(pushOne, hx("80 00")),
			want:    prefixEvents(msg(afterReady, 3, fr(1, "1", false))),
			wantErr: ErrReservedFlags, errOff: afterReady + 3,
		},
		{
			name:    "command with MORE",
			in:      prefix(hx("05 06 05 52 45 41 44 59")),
			want:    prefixEvents(),
			wantErr: ErrCommandMore, errOff: afterReady,
		},
		{
			name:    "long command with MORE",
			in:      prefix(hx("07")),
			want:    prefixEvents(),
			wantErr: ErrCommandMore, errOff: afterReady,
		},
		{
			name:    "bad signature",
			in:      cat(hx("ff 00 00 00 00 00 00 00 00 7d 03"), pushRest),
			wantErr: ErrBadSignature, errOff: 9,
			errText: "0x7d at offset 9",
		},
		{
			name:    "major version 0",
			in:      hx("ff 00 00 00 00 00 00 00 01 7f 00 00"),
			wantErr: ErrUnsupportedVersion, errOff: 10,
		},
		{
			name:    "long size 2^63",
			in:      prefix(hx("02 80 00 00 00 00 00 00 00 00")),
			want:    prefixEvents(),
			wantErr: ErrFrameTooLarge, errOff: afterReady,
		},
		{
			name:    "long command size 2^64-1",
			in:      prefix(hx("06 ff ff ff ff ff ff ff ff")),
			want:    prefixEvents(),
			wantErr: ErrFrameTooLarge, errOff: afterReady,
		},
		{
			name:    "property value overruns the command",
			in:      cat(g30, command("READY", hx("04 4e 61 6d 65 00 00 00 64 61 62 63 64"))),
			want:    []Event{wantGreeting(0, 3, 0, "NULL")},
			wantErr: ErrMalformedCommand, errOff: 64,
			errText: `READY command at offset 64: property "Name" value length 100 overruns the command`,
		},
		{
			name:    "property name overruns the command",
			in:      cat(g30, command("READY", cat(meta("A", "b"), hx("0b"), []byte("Sock")))),
			want:    []Event{wantGreeting(0, 3, 0, "NULL")},
			wantErr: ErrMalformedCommand, errOff: 64,
		},
		{
			name:    "empty property name",
			in:      cat(g30, command("INITIATE", hx("00 00 00 00 00"))),
			want:    []Event{wantGreeting(0, 3, 0, "NULL")},
			wantErr: ErrMalformedCommand, errOff: 64,
		},
		{
			name:    "property value length above 2^31-1",
			in:      cat(g30, command("READY", hx("01 41 80 00 00 00"))),
			want:    []Event{wantGreeting(0, 3, 0, "NULL")},
			wantErr: ErrMalformedCommand, errOff: 64,
		},
		{
			name:    "empty command body",
			in:      prefix(hx("04 00"), pushOne),
			want:    prefixEvents(),
			wantErr: ErrMalformedCommand, errOff: afterReady,
			errText: "empty command body at offset 92",
		},
		{
			name:    "command name overruns the body",
			in:      prefix(hx("04 03 05 52 45")),
			want:    prefixEvents(),
			wantErr: ErrMalformedCommand, errOff: afterReady,
		},
		{
			name:    "empty command name",
			in:      prefix(hx("04 01 00")),
			want:    prefixEvents(),
			wantErr: ErrMalformedCommand, errOff: afterReady,
		},
		{
			name:    "ERROR without a reason length",
			in:      prefix(command("ERROR", nil)),
			want:    prefixEvents(),
			wantErr: ErrMalformedCommand, errOff: afterReady,
		},
		{
			name:    "ERROR reason overruns the command",
			in:      prefix(command("ERROR", hx("05 61 62"))),
			want:    prefixEvents(),
			wantErr: ErrMalformedCommand, errOff: afterReady,
		},
	}, rfcCases()...)
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := run(Options{}, tc.in)
			if r.Offset != uint64(len(tc.in)) {
				t.Errorf("Offset() = %d, want %d", r.Offset, len(tc.in))
			}
			got := r.Events
			if tc.wantErr != nil {
				checkErrorEvent(t, got, r.Err, tc)
				if len(got) > 0 {
					got = got[:len(got)-1]
				}
			} else if r.Err != nil {
				t.Errorf("Err() = %v, want nil", r.Err)
			}
			if diff := cmp.Diff(tc.want, got, cmpOpts); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// checkErrorEvent checks that events end with the *Error tc expects and
// that Err returns the same error.
func checkErrorEvent(t *testing.T, events []Event, err error, tc decodeCase) {
	t.Helper()
	if len(events) == 0 {
		t.Fatalf("no events, want an *Error wrapping %v", tc.wantErr)
	}
	e, ok := events[len(events)-1].(*Error)
	if !ok {
		t.Fatalf("last event is %T, want *Error wrapping %v", events[len(events)-1], tc.wantErr)
	}
	if !errors.Is(e.Err, tc.wantErr) {
		t.Errorf("error %q does not wrap %q", e.Err, tc.wantErr)
	}
	if e.Offset != tc.errOff {
		t.Errorf("error offset = %d, want %d (%v)", e.Offset, tc.errOff, e.Err)
	}
	if !strings.Contains(e.Err.Error(), tc.errText) {
		t.Errorf("error %q does not contain %q", e.Err, tc.errText)
	}
	if err != e.Err {
		t.Errorf("Err() = %v, want the emitted %v", err, e.Err)
	}
}

// TestSplits feeds every vector one byte at a time and split in two at every
// offset: the events must not depend on how the stream was cut.
func TestSplits(t *testing.T) {
	for _, tc := range decodeCases() {
		t.Run(tc.name, func(t *testing.T) {
			whole := run(Options{}, tc.in)
			diffResults(t, "bytewise", whole, run(Options{}, chunked(tc.in, 1)...))
			for i := 0; i <= len(tc.in); i++ {
				diffResults(t, "split", whole, run(Options{}, tc.in[:i], tc.in[i:]))
			}
		})
	}
}

// TestLibzmqSegments feeds the greeting the way libzmq sends it (10, 1 and
// 53 bytes), then READY and the first message in the same Feed call: the
// original C tool lost the bytes that shared a segment with READY.
func TestLibzmqSegments(t *testing.T) {
	want := pushEvents()[:3]
	got := run(Options{}, pushSignature, pushMajor, pushRest, cat(pushReady, pushOne))
	if diff := cmp.Diff(want, got.Events, cmpOpts); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestSignature checks that the greeting carries the signature exactly as
// sent, padding included, whatever the split.
func TestSignature(t *testing.T) {
	want := [10]byte(pushSignature)
	for _, in := range [][][]byte{
		{pushSignature, pushMajor, pushRest},
		{cat(pushSignature, pushMajor, pushRest)},
	} {
		got := run(Options{}, in...)
		g, ok := got.Events[0].(*Greeting)
		if !ok {
			t.Fatalf("first event %T, want *Greeting", got.Events[0])
		}
		if g.Signature != want {
			t.Errorf("signature % x, want % x", g.Signature, want)
		}
	}
}

// TestAfterError checks that nothing is emitted after an error, and that the
// offset still counts every byte.
func TestAfterError(t *testing.T) {
	d := NewDecoder(Options{})
	var n int
	emit := func(Event) { n++ }
	d.Feed(prefix(hx("08")), emit)
	if !d.Done() || !errors.Is(d.Err(), ErrReservedFlags) {
		t.Fatalf("Done() = %v, Err() = %v, want a reserved flags error", d.Done(), d.Err())
	}
	first := d.Err()
	d.Feed(pushOne, emit)
	d.Gap(10, emit)
	d.Feed(hx("ff"), emit)
	if n != 3 {
		t.Errorf("%d events, want greeting, READY and the error", n)
	}
	if want := uint64(afterReady + 1 + 3 + 10 + 1); d.Offset() != want {
		t.Errorf("Offset() = %d, want %d", d.Offset(), want)
	}
	if d.Err() != first {
		t.Errorf("Err() changed from %v to %v", first, d.Err())
	}
}

func TestNilEmit(t *testing.T) {
	d := NewDecoder(Options{})
	d.Feed(pushStream(), nil)
	d.Gap(1, nil)
	if d.Err() != nil || !d.Searching() {
		t.Errorf("Err() = %v, Searching() = %v; want nil, true", d.Err(), d.Searching())
	}
}
