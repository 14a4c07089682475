package zmtp

import (
	"bytes"
	"encoding/binary"
)

// Vectors built from the RFCs for ZMTP 1.0 (RFC 13), 2.0 (RFC 15), 3.1
// commands (RFC 37), PLAIN (RFC 24), CURVE (RFC 26) and other mechanisms.

// greeting2 is a ZMTP 2.0 greeting: the RFC 15 signature, revision and
// socket type.
func greeting2(revision, socketType byte) []byte {
	return cat(hx("ff 00 00 00 00 00 00 00 00 7f"), []byte{revision, socketType})
}

// v1Frame encodes a ZMTP 1.0 frame: the length counts the flags octet.
func v1Frame(flags byte, body []byte) []byte {
	if len(body)+1 < 255 {
		return cat([]byte{byte(len(body) + 1), flags}, body)
	}
	return cat([]byte{0xFF}, binary.BigEndian.AppendUint64(nil, uint64(len(body)+1)), []byte{flags}, body)
}

func pingEv(off uint64, data []byte) *Command {
	c := &Command{Header: Header{Offset: off, Len: uint64(2 + 5 + len(data))}, Name: "PING", Size: uint64(5 + len(data)), Data: data}
	c.TTL = binary.BigEndian.Uint16(data)
	c.Context = data[2:]
	return c
}

// withCurve marks a command as an encrypted CURVE box.
func withCurve(c *Command, nonce []byte, box uint64) *Command {
	c.Nonce, c.BoxSize, c.Encrypted = nonce, box, true
	return c
}

func msgOf(off, length uint64, frames ...Frame) *Message {
	m := &Message{Header: Header{Offset: off, Len: length}, Frames: frames}
	for _, f := range frames {
		m.Bytes += f.Size
	}
	return m
}

func cmdOf(off uint64, name string, data []byte) *Command {
	size := uint64(1 + len(name) + len(data))
	hdr := uint64(2)
	if size > 255 {
		hdr = 9
	}
	return &Command{Header: Header{Offset: off, Len: hdr + size}, Name: name, Size: size, Data: data}
}

// anyCommand encodes a command frame, long if it needs to be.
func anyCommand(name string, data []byte) []byte {
	if 1+len(name)+len(data) > 255 {
		return longCommand(name, data)
	}
	return command(name, data)
}

// CURVE vectors (RFC 26 sizes).
var (
	curveKey     = bytes.Repeat([]byte{0x11}, 32)
	curveNonce   = hx("00 00 00 00 00 00 00 01")
	curveHello   = cat(hx("01 00"), make([]byte, 72), curveKey, curveNonce, bytes.Repeat([]byte{0xB0}, 80))
	longNonce    = bytes.Repeat([]byte{0x4C}, 16)
	curveWelcome = cat(longNonce, bytes.Repeat([]byte{0xB1}, 144))
	curveCookieV = bytes.Repeat([]byte{0xC0}, 96)
	curveInit    = cat(curveCookieV, hx("00 00 00 00 00 00 00 02"), bytes.Repeat([]byte{0xB2}, 150))
	curveReadyV  = cat(hx("00 00 00 00 00 00 00 01"), bytes.Repeat([]byte{0xB3}, 20))
	curveMsgBody = cat([]byte(curveMessagePrefix), hx("00 00 00 00 00 00 00 03"), bytes.Repeat([]byte{0xB4}, 17))
)

func rfcCases() []decodeCase {
	g2push := greeting2(1, 8)
	g2sub := greeting2(2, 2)
	big := bytes.Repeat([]byte{'i'}, 300)
	plainHello := cat(hx("05"), []byte("admin"), hx("06"), []byte("secret"))
	plainInit := meta("Socket-Type", "DEALER", "Identity", "")
	plainReady := meta("Socket-Type", "ROUTER")
	sub30 := cat(greeting3(3, 0, "NULL", false), command("READY", meta("Socket-Type", "SUB")))
	const afterSub30 = 64 + 2 + 6 + 1 + 11 + 4 + 3

	curveHelloEv := cmdOf(64, "HELLO", curveHello)
	curveHelloEv.CurveVersion, curveHelloEv.Key, curveHelloEv.Nonce, curveHelloEv.BoxSize = [2]byte{1, 0}, curveKey, curveNonce, 80
	curveWelcomeEv := cmdOf(64+202, "WELCOME", curveWelcome)
	curveWelcomeEv.Nonce, curveWelcomeEv.BoxSize = longNonce, 144
	curveInitEv := withCurve(cmdOf(64+202+170, "INITIATE", curveInit), curveInit[96:104], 150)
	curveInitEv.Cookie = curveCookieV
	curveMsgOff := uint64(64 + 202 + 170 + 9 + 1 + 8 + len(curveInit))
	curveMsg := &Message{Header: Header{Offset: curveMsgOff, Len: 2 + 33}, Frames: []Frame{fr(33, string(curveMsgBody), false)},
		Bytes: 33, Encrypted: true, Mechanism: "CURVE", Nonce: curveMsgBody[8:16], BoxSize: 17}
	curveCmdMsg := *curveMsg
	curveCmdMsg.Offset += 35
	curveCmdMsg.Header.Len = 2 + 33 // flags, size, body

	return []decodeCase{
		// ZMTP 1.0 (RFC 13).
		{
			name: "ZMTP 1.0 anonymous identity, empty and short messages",
			in:   hx("01 00 01 00 03 00 61 62"),
			want: []Event{
				&Greeting{Major: 1, Mechanism: "NULL"},
				&Identity{Header: Header{Offset: 0, Len: 2}},
				msgOf(2, 2, fr(0, "", false)),
				msgOf(4, 4, fr(2, "ab", false)),
			},
		},
		{
			name: "ZMTP 1.0 identity, multipart with a long length",
			in:   cat(v1Frame(0, []byte("abc")), v1Frame(1, []byte("x")), hx("ff 00 00 00 00 00 00 00 02 00 79")),
			want: []Event{
				&Greeting{Major: 1, Mechanism: "NULL"},
				&Identity{Header: Header{Offset: 0, Len: 5}, Size: 3, Data: []byte("abc")},
				msgOf(5, 3+11, fr(1, "x", true), fr(1, "y", false)),
			},
		},
		{
			name: "ZMTP 1.0 long identity, kept up to 255 bytes",
			in:   cat(v1Frame(0, big), v1Frame(0, []byte("m"))),
			want: []Event{
				&Greeting{Major: 1, Mechanism: "NULL"},
				&Identity{Header: Header{Offset: 0, Len: 10 + 300}, Size: 300, Data: big[:255]},
				msgOf(310, 3, fr(1, "m", false)),
			},
		},
		{
			name:    "ZMTP 1.0 frame length 0",
			in:      hx("01 00 00 05"),
			want:    []Event{&Greeting{Major: 1, Mechanism: "NULL"}, &Identity{Header: Header{Offset: 0, Len: 2}}},
			wantErr: ErrBadLength, errOff: 2,
			errText: "RFC 13",
		},
		{
			name:    "ZMTP 1.0 long length 2^64-1",
			in:      hx("01 00 ff ff ff ff ff ff ff ff ff 00"),
			want:    []Event{&Greeting{Major: 1, Mechanism: "NULL"}, &Identity{Header: Header{Offset: 0, Len: 2}}},
			wantErr: ErrFrameTooLarge, errOff: 2,
		},

		// ZMTP 2.0 (RFC 15).
		{
			name: "ZMTP 2.0 PUSH, anonymous identity, message",
			in:   cat(g2push, hx("00 00"), pushOne, frame(flagMore|flagLong, []byte("ab")), frame(0, nil)),
			want: []Event{
				&Greeting{Header: Header{Len: 12}, Major: 2, Revision: 1, Mechanism: "NULL", SocketType: "PUSH"},
				&Identity{Header: Header{Offset: 12, Len: 2}},
				msgOf(14, 3, fr(1, "1", false)),
				msgOf(17, 11+2, fr(2, "ab", true), fr(0, "", false)),
			},
		},
		{
			name: "ZMTP 2.0 SUB subscribes and cancels with messages",
			in:   cat(g2sub, hx("00 02 69 64"), hx("00 04 01 61 62 63"), hx("00 01 00"), hx("00 01 02")),
			want: []Event{
				&Greeting{Header: Header{Len: 12}, Major: 2, Revision: 2, Mechanism: "NULL", SocketType: "SUB"},
				&Identity{Header: Header{Offset: 12, Len: 4}, Size: 2, Data: []byte("id")},
				func() *Message {
					m := msgOf(16, 6, fr(4, "\x01abc", false))
					m.Subscription, m.Topic = Subscribe, []byte("abc")
					return m
				}(),
				func() *Message {
					m := msgOf(22, 3, fr(1, "\x00", false))
					m.Subscription = Cancel
					return m
				}(),
				msgOf(25, 3, fr(1, "\x02", false)),
			},
		},
		{
			name:    "ZMTP 2.0 has no command frames",
			in:      cat(g2push, hx("00 00"), hx("04 01 00")),
			want:    []Event{&Greeting{Header: Header{Len: 12}, Major: 2, Revision: 1, Mechanism: "NULL", SocketType: "PUSH"}, &Identity{Header: Header{Offset: 12, Len: 2}}},
			wantErr: ErrReservedFlags, errOff: 14,
			errText: "RFC 15",
		},
		{
			name: "ZMTP 2.0 unknown socket type",
			in:   greeting2(1, 0x20),
			want: []Event{&Greeting{Header: Header{Len: 12}, Major: 2, Revision: 1, Mechanism: "NULL", SocketType: "0x20"}},
		},

		// ZMTP 3.0 subscriptions as messages, 3.1 commands (RFC 37).
		{
			name: "ZMTP 3.0 SUB subscribes with a message",
			in:   cat(sub30, hx("00 06 01 74 6f 70 69 63"), frame(flagMore, hx("01 61")), frame(0, nil)),
			want: []Event{
				wantGreeting(0, 3, 0, "NULL"),
				&Command{Header: Header{Offset: 64, Len: 27}, Name: "READY", Size: 25, Data: meta("Socket-Type", "SUB"),
					Properties: []Property{prop("Socket-Type", "SUB")}},
				func() *Message {
					m := msgOf(afterSub30, 8, fr(6, "\x01topic", false))
					m.Subscription, m.Topic = Subscribe, []byte("topic")
					return m
				}(),
				msgOf(afterSub30+8, 6, fr(2, "\x01a", true), fr(0, "", false)),
			},
		},
		{
			name: "ZMTP 3.1 SUBSCRIBE, CANCEL, PING and PONG",
			in: prefix(command("SUBSCRIBE", []byte("topic")), command("CANCEL", nil),
				command("PING", hx("00 1e 61 62")), command("PONG", []byte("ab")), command("PING", hx("ff ff"))),
			want: prefixEvents(
				func() *Command {
					c := cmdOf(afterReady, "SUBSCRIBE", []byte("topic"))
					c.Topic = []byte("topic")
					return c
				}(),
				cmdOf(afterReady+17, "CANCEL", nil),
				pingEv(afterReady+26, hx("00 1e 61 62")),
				func() *Command { c := cmdOf(afterReady+37, "PONG", []byte("ab")); c.Context = []byte("ab"); return c }(),
				pingEv(afterReady+46, hx("ff ff")),
			),
		},
		{
			name:    "PING without a TTL",
			in:      prefix(command("PING", hx("00"))),
			want:    prefixEvents(),
			wantErr: ErrMalformedCommand, errOff: afterReady,
			errText: "RFC 37",
		},
		{
			name:    "PING context of 17 bytes",
			in:      prefix(command("PING", make([]byte, 19))),
			want:    prefixEvents(),
			wantErr: ErrMalformedCommand, errOff: afterReady,
		},
		{
			name:    "PONG context of 17 bytes",
			in:      prefix(command("PONG", make([]byte, 17))),
			want:    prefixEvents(),
			wantErr: ErrMalformedCommand, errOff: afterReady,
		},

		// PLAIN (RFC 24).
		{
			name: "PLAIN handshake",
			in: cat(greeting3(3, 1, "PLAIN", false), command("HELLO", plainHello), command("WELCOME", nil),
				command("INITIATE", plainInit), command("READY", plainReady), command("ERROR", cat(hx("03"), []byte("bad")))),
			want: []Event{
				wantGreeting(0, 3, 1, "PLAIN"),
				func() *Command {
					c := cmdOf(64, "HELLO", plainHello)
					c.Username, c.Password = []byte("admin"), []byte("secret")
					return c
				}(),
				cmdOf(64+21, "WELCOME", nil),
				func() *Command {
					c := cmdOf(64+21+10, "INITIATE", plainInit)
					c.Properties = []Property{prop("Socket-Type", "DEALER"), prop("Identity", "")}
					return c
				}(),
				func() *Command {
					c := cmdOf(64+21+10+2+9+uint64(len(plainInit)), "READY", plainReady)
					c.Properties = []Property{prop("Socket-Type", "ROUTER")}
					return c
				}(),
				func() *Command {
					c := cmdOf(64+21+10+2+9+uint64(len(plainInit))+2+6+uint64(len(plainReady)), "ERROR", cat(hx("03"), []byte("bad")))
					c.Reason = []byte("bad")
					return c
				}(),
			},
		},
		{
			name:    "PLAIN HELLO password overruns the command",
			in:      cat(greeting3(3, 1, "PLAIN", false), command("HELLO", hx("01 61 05 62"))),
			want:    []Event{wantGreeting(0, 3, 1, "PLAIN")},
			wantErr: ErrMalformedCommand, errOff: 64,
			errText: "RFC 24",
		},
		{
			name:    "PLAIN HELLO with trailing bytes",
			in:      cat(greeting3(3, 1, "PLAIN", false), command("HELLO", hx("01 61 01 62 63"))),
			want:    []Event{wantGreeting(0, 3, 1, "PLAIN")},
			wantErr: ErrMalformedCommand, errOff: 64,
		},

		// CURVE (RFC 26).
		{
			name: "CURVE client: HELLO, WELCOME, INITIATE, MESSAGE as a frame and as a command",
			in: cat(greeting3(3, 0, "CURVE", false), command("HELLO", curveHello), command("WELCOME", curveWelcome),
				anyCommand("INITIATE", curveInit), frame(0, curveMsgBody), frame(flagCommand, curveMsgBody)),
			want: []Event{
				wantGreeting(0, 3, 0, "CURVE"),
				curveHelloEv, curveWelcomeEv, curveInitEv, curveMsg, &curveCmdMsg,
			},
		},
		{
			name: "CURVE server: READY, data frame that is not a MESSAGE",
			in:   cat(greeting3(3, 0, "CURVE", true), command("READY", curveReadyV), frame(0, []byte("\x07MESSAG"))),
			want: []Event{
				&Greeting{Header: Header{Len: 64}, Major: 3, Mechanism: "CURVE", AsServer: true},
				withCurve(cmdOf(64, "READY", curveReadyV), curveReadyV[:8], 20),
				msgOf(64+2+6+28, 9, fr(7, "\x07MESSAG", false)),
			},
		},
		{
			name:    "CURVE HELLO of 199 bytes",
			in:      cat(greeting3(3, 0, "CURVE", false), command("HELLO", curveHello[1:])),
			want:    []Event{wantGreeting(0, 3, 0, "CURVE")},
			wantErr: ErrMalformedCommand, errOff: 64,
			errText: "RFC 26 wants 200",
		},
		{
			name:    "CURVE WELCOME of 167 bytes",
			in:      cat(greeting3(3, 0, "CURVE", false), command("WELCOME", curveWelcome[1:])),
			want:    []Event{wantGreeting(0, 3, 0, "CURVE")},
			wantErr: ErrMalformedCommand, errOff: 64,
		},
		{
			name:    "CURVE INITIATE too short",
			in:      cat(greeting3(3, 0, "CURVE", false), command("INITIATE", curveInit[:200])),
			want:    []Event{wantGreeting(0, 3, 0, "CURVE")},
			wantErr: ErrMalformedCommand, errOff: 64,
		},
		{
			name:    "CURVE READY too short",
			in:      cat(greeting3(3, 0, "CURVE", false), command("READY", curveReadyV[:23])),
			want:    []Event{wantGreeting(0, 3, 0, "CURVE")},
			wantErr: ErrMalformedCommand, errOff: 64,
		},
		{
			name:    "CURVE MESSAGE command too short",
			in:      cat(greeting3(3, 0, "CURVE", false), command("MESSAGE", curveMsgBody[8:32])),
			want:    []Event{wantGreeting(0, 3, 0, "CURVE")},
			wantErr: ErrMalformedCommand, errOff: 64,
		},

		// Other mechanisms: commands by name and size, then frames.
		{
			name: "GSSAPI handshake commands by name and size",
			in:   cat(greeting3(3, 0, "GSSAPI", false), command("HELLO", []byte("tok")), command("INITIATE", []byte("x")), pushOne),
			want: []Event{
				wantGreeting(0, 3, 0, "GSSAPI"),
				cmdOf(64, "HELLO", []byte("tok")),
				cmdOf(64+11, "INITIATE", []byte("x")),
				msgOf(64+11+12, 3, fr(1, "1", false)),
			},
		},
	}
}
