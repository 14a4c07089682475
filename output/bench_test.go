package output

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/zmtp"
)

// benchMessage prints a one-frame 64-byte message, with its connection's
// owners, b.N times: the cost of one line of the small-message workload.
func benchMessage(b *testing.B, p Printer) {
	src, dst := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:7001")
	m := &zmtp.Message{Frames: []zmtp.Frame{{Size: 64, Data: bytes.Repeat([]byte("x"), 64)}}, Bytes: 64}
	t := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	l := &Line{Time: t, Src: src, Dst: dst, Owners: &Owners{Src: &Process{PID: 4242, Comm: "zmqpeer"}, Dst: &Process{PID: 4240, Comm: "zmqpeer"}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Event(l, m); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Flush(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkJSONMessage(b *testing.B) { benchMessage(b, NewJSONOptions(io.Discard, Options{})) }

func BenchmarkTextMessage(b *testing.B) { benchMessage(b, NewText(io.Discard, Options{})) }

// The body formatters on a 64-byte body: --json's hex, text's spaced hex
// and quoted text.
func BenchmarkHex64(b *testing.B) {
	p := bytes.Repeat([]byte("x"), 64)
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = appendHex(buf[:0], p)
	}
}

func BenchmarkHexSpaced64(b *testing.B) {
	p := bytes.Repeat([]byte("x"), 64)
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = AppendHexSpaced(buf[:0], p)
	}
}

func BenchmarkQuoted64(b *testing.B) {
	p := bytes.Repeat([]byte("x"), 64)
	buf := make([]byte, 0, 512)
	for b.Loop() {
		buf = AppendQuoted(buf[:0], p)
	}
}
