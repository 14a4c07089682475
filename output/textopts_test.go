package output

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// optionEvents are events whose bodies -A and -X change.
func optionEvents() []zmtp.Event {
	return []zmtp.Event{
		&zmtp.Greeting{Major: 3, Minor: 1, Mechanism: "NULL"},
		&zmtp.Command{Kind: zmtp.KindReady, Name: "READY", Size: 26, Data: []byte("\x0bSocket-Type\x00\x00\x00\x04PUSH"),
			Properties: []zmtp.Property{{Name: []byte("Socket-Type"), Value: []byte("PUSH")}}},
		&zmtp.Message{Frames: []zmtp.Frame{{Size: 5, Data: []byte("hello"), More: true}, {Size: 300, Data: []byte("xx\x00")}}, Bytes: 305},
		&zmtp.Identity{Size: 2, Data: []byte("id")},
		&zmtp.Error{Err: errors.New("bad")},
	}
}

func TestTextBody(t *testing.T) {
	for _, tt := range []struct {
		name string
		body Body
		want string
	}{
		{"default", BodyQuotedHex, `greeting: ZMTP 3.1, mechanism NULL, as-server 0
READY: Socket-Type="PUSH" 50 55 53 48 (size 26)
message (2 frames, 305 bytes): "hello" 68 65 6c 6c 6f +MORE | "xx\x00" 78 78 00 ... (300 bytes, 3 shown)
identity: "id" 69 64
error: bad
`},
		{"-A", BodyText, `greeting: ZMTP 3.1, mechanism NULL, as-server 0
READY: Socket-Type="PUSH" (size 26)
message (2 frames, 305 bytes): "hello" +MORE | "xx\x00" ... (300 bytes, 3 shown)
identity: "id"
error: bad
`},
		{"-X", BodyHexDump, `greeting: ZMTP 3.1, mechanism NULL, as-server 0
READY: Socket-Type="PUSH" (size 26)
	0x0000:  0b53 6f63 6b65 742d 5479 7065 0000 0004  .Socket-Type....
	0x0010:  5055 5348                                PUSH
message (2 frames, 305 bytes): "hello" +MORE | "xx\x00" ... (300 bytes, 3 shown)
	frame 1/2 (5 bytes):
	0x0000:  6865 6c6c 6f                             hello
	frame 2/2 (300 bytes, 3 shown):
	0x0000:  7878 00                                  xx.
identity: "id"
	0x0000:  6964                                     id
error: bad
`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := NewText(&buf, Options{Time: TimeNone, Body: tt.body})
			for _, ev := range optionEvents() {
				if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, ev); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(buf.String(), "127.0.0.1:47563 > [::1]:7001: ", "")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func TestTextColor(t *testing.T) {
	var buf bytes.Buffer
	p := NewText(&buf, Options{Time: TimeNone, Color: true})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ev := optionEvents()
	must(p.Event(&Line{From: segment.ClientToServer, Time: ts, Src: src, Dst: dst}, ev[0]))
	must(p.Event(&Line{From: segment.ServerToClient, Time: ts, Src: dst, Dst: src}, ev[1]))
	must(p.Event(&Line{From: segment.ClientToServer, Time: ts, Src: src, Dst: dst}, ev[4]))
	must(p.Event(&Line{From: segment.ClientToServer, Time: ts, Src: src, Dst: dst}, &zmtp.Gap{Bytes: 3}))
	must(p.Packet(&segment.Segment{Time: ts, Src: src, Dst: dst, Flags: segment.ACK}))
	must(p.Flush())
	want := "\x1b[36m127.0.0.1:47563 > [::1]:7001\x1b[0m: \x1b[32mgreeting\x1b[0m: ZMTP 3.1, mechanism NULL, as-server 0\n" +
		"\x1b[35m[::1]:7001 > 127.0.0.1:47563\x1b[0m: \x1b[33mREADY\x1b[0m: Socket-Type=\"PUSH\" 50 55 53 48 (size 26)\n" +
		"\x1b[36m127.0.0.1:47563 > [::1]:7001\x1b[0m: \x1b[31merror: bad\x1b[0m\n" +
		"\x1b[36m127.0.0.1:47563 > [::1]:7001\x1b[0m: \x1b[31mgap: 3 bytes lost\x1b[0m\n" +
		"127.0.0.1:47563 > [::1]:7001: \x1b[2mtcp ACK, seq 0, ack 0, packet 0, payload 0\x1b[0m\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("-want +got:\n%s", diff)
	}

	// Without colours, both directions print the same.
	var plain, from bytes.Buffer
	a, b := NewText(&plain, Options{}), NewText(&from, Options{})
	for _, ev := range append(events(), newEvents()...) {
		must(a.Event(&Line{From: segment.ClientToServer, Time: ts, Src: src, Dst: dst}, ev))
		must(b.Event(&Line{From: segment.ServerToClient, Time: ts, Src: src, Dst: dst}, ev))
	}
	must(a.Flush())
	must(b.Flush())
	if plain.String() != from.String() || strings.Contains(plain.String(), "\x1b") {
		t.Errorf("without colours, the server's direction differs from the client's:\n%s\n%s", plain.String(), from.String())
	}
}
