package loader

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/capture"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// decodeAll decodes one direction's stream, fed as chunks of kept bytes
// and counts of bytes left out, and returns its events as text.
func decodeAll(feed func(d *zmtp.Decoder, emit func(zmtp.Event))) []string {
	var out []string
	d := zmtp.NewDecoder(zmtp.Options{MaxBody: framingKeep})
	emit := func(ev zmtp.Event) { out = append(out, fmt.Sprintf("%T %+v", ev, ev)) }
	feed(d, emit)
	d.Stop(errors.New("end"), emit)
	return out
}

// FuzzKernelFraming runs the capture program with kernel-side framing on a
// ZMTP stream (a 3.1 or 2.0 greeting, then the fuzzer's bytes) cut into
// packets, and checks that the records cover the stream in order with true
// bytes, and that decoding them (the bytes left out passed over with Skip)
// gives exactly the events of the whole stream: the walk never leaves out
// a byte the decoder needs. The first input byte picks the greeting and
// the packet size.
func FuzzKernelFraming(f *testing.F) {
	if os.Geteuid() != 0 {
		f.Skip("needs root (BPF_PROG_TEST_RUN)")
	}
	z := v3Stream()
	f.Add(append([]byte{0x10}, z.b[64:]...))
	f.Add(append([]byte{0x91}, z.b[64:]...))
	v2 := &zmtpStream{}
	v2.frame(0, []byte("id"))
	v2.frame(1, pattern(700, 3))
	v2.frame(0, pattern(20, 4))
	f.Add(append([]byte{0x07}, v2.b...))
	f.Add([]byte{0x20, 0x04, 0x02, 0, 0, 0, 0, 0, 0, 0x10, 0})
	f.Add([]byte{0x30, 0x02, 0, 0, 0, 0, 0, 0, 0x03, 0})

	p := loadTestProgram(f, Config{Ports: []uint16{7001}, FrameKeep: framingKeep}, true, 14, 1, 1<<22)

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 || len(data) > 64<<10 {
			return
		}
		var stream []byte
		if data[0]&1 == 0 {
			stream = append(greeting3(), data[1:]...)
		} else {
			stream = append([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 8}, data[1:]...)
		}
		size := 1 + int(data[0]>>1)*11 // 1 to 1398 bytes a packet
		var frames [][]byte
		frames = append(frames, buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: capture.SYN, seq: framingISN}))
		for from := 0; from < len(stream); from += size {
			end := min(len(stream), from+size)
			frames = append(frames, buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: capture.ACK | capture.PSH,
				seq: framingISN + 1 + uint32(from), payload: string(stream[from:end])}))
		}
		for _, fr := range frames {
			if _, err := p.objs.CaptureIngress.Run(&ebpf.RunOptions{Data: fr}); err != nil {
				t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
			}
		}
		segs := p.records(t, time.Millisecond)
		kept(t, segs, stream)
		whole := decodeAll(func(d *zmtp.Decoder, emit func(zmtp.Event)) { d.Feed(stream, emit) })
		framed := decodeAll(func(d *zmtp.Decoder, emit func(zmtp.Event)) {
			for _, s := range segs {
				if s.Has(capture.SYN) {
					continue
				}
				d.Feed(s.Payload, emit)
				d.Skip(uint64(s.PayloadLen-len(s.Payload)), emit)
			}
		})
		if strings.Join(whole, "\n") != strings.Join(framed, "\n") {
			t.Fatalf("events differ\nwhole stream:\n%s\nrecords:\n%s", strings.Join(whole, "\n"), strings.Join(framed, "\n"))
		}
	})
}
