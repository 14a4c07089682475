package zmtp

import (
	"bytes"
	"encoding/hex"
	"strings"
)

// hx decodes space-separated hex octets.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// The libzmq 4.3 PUSH side of a NULL connection, as ZMTP.md shows it,
// split the way libzmq writes it.
var (
	pushSignature = hx("ff 00 00 00 00 00 00 00 01 7f") // 10
	pushMajor     = hx("03")                            // 1
	pushRest      = cat(hx("01 4e 55 4c 4c"), make([]byte, 48))
	pushReady     = hx("04 1a 05 52 45 41 44 59 0b 53 6f 63 6b 65 74 2d 54 79 70 65 00 00 00 04 50 55 53 48")
	pushOne       = hx("00 01 31")
	pushHello     = hx("01 05 68 65 6c 6c 6f")
	pushLong      = cat(hx("02 00 00 00 00 00 00 01 2c"), bytes.Repeat([]byte{'x'}, 300))
)

// pushStream is the whole PUSH -> PULL direction: greeting (0-63), READY
// (64-91), "1" (92-94), "hello" + 300-byte long frame (95-410).
func pushStream() []byte {
	return cat(pushSignature, pushMajor, pushRest, pushReady, pushOne, pushHello, pushLong)
}

// afterReady is the offset of the first byte after the PUSH greeting and
// READY.
const afterReady = 92

// pushEvents are the events of pushStream.
func pushEvents() []Event {
	return []Event{
		wantGreeting(0, 3, 1, "NULL"),
		&Command{
			Header:     Header{Offset: 64, Len: 28},
			Name:       "READY",
			Size:       26,
			Data:       pushReady[8:],
			Properties: []Property{prop("Socket-Type", "PUSH")},
		},
		&Message{Header: Header{Offset: 92, Len: 3}, Frames: []Frame{fr(1, "1", false)}, Bytes: 1},
		&Message{
			Header: Header{Offset: 95, Len: 7 + 9 + 300},
			Frames: []Frame{fr(5, "hello", true), fr(300, strings.Repeat("x", DefaultMaxBody), false)},
			Bytes:  305,
		},
	}
}

// rfcDealerReady is the READY of RFC 23's worked example: Socket-Type
// DEALER and an empty Identity, 41 body octets.
var rfcDealerReady = cat(hx("04 29 05"), []byte("READY"),
	hx("0b"), []byte("Socket-Type"), hx("00 00 00 06"), []byte("DEALER"),
	hx("08"), []byte("Identity"), hx("00 00 00 00"))

// prefix is a libzmq greeting and READY, after which frame tests start at
// offset afterReady.
func prefix(rest ...[]byte) []byte {
	return cat(append([][]byte{pushSignature, pushMajor, pushRest, pushReady}, rest...)...)
}

// prefixEvents are the events of prefix followed by more.
func prefixEvents(more ...Event) []Event {
	return append(pushEvents()[:2], more...)
}
