package zmtp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// BenchmarkDecodeSmall decodes 8-byte single-frame messages, 4096 per Feed
// call. One op is one message.
func BenchmarkDecodeSmall(b *testing.B) {
	const perFeed = 4096
	msg := frame(0, []byte("12345678"))
	buf := bytes.Repeat(msg, perFeed)
	d := NewDecoder(Options{})
	var n int
	emit := func(Event) { n++ }
	d.Feed(prefix(), emit)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for left := b.N; left > 0; left -= perFeed {
		in := buf
		if left < perFeed {
			in = buf[:left*len(msg)]
		}
		d.Feed(in, emit)
	}
	b.StopTimer()
	if n != 2+b.N || d.Err() != nil {
		b.Fatalf("%d events (err %v), want %d", n, d.Err(), 2+b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkDecodeLarge decodes 1 MiB single-frame messages fed in 64 KiB
// segments. One op is one message.
func BenchmarkDecodeLarge(b *testing.B) {
	const size = 1 << 20
	msg := cat(binary.BigEndian.AppendUint64([]byte{flagLong}, size), make([]byte, size))
	segs := chunked(msg, 64<<10)
	d := NewDecoder(Options{})
	var n int
	emit := func(Event) { n++ }
	d.Feed(prefix(), emit)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, seg := range segs {
			d.Feed(seg, emit)
		}
	}
	b.StopTimer()
	if n != 2+b.N || d.Err() != nil {
		b.Fatalf("%d events (err %v), want %d", n, d.Err(), 2+b.N)
	}
}
