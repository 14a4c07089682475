package loader

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// checkRef checks the reference walk of a whole stream (walkRef: heads,
// stopping at stop) against the decoder: the commands, identities and
// messages the decoder reports before its first error are those the walk
// found, at the same offsets; and where the walk refuses a header, the
// decoder reports an error there or before.
func checkRef(t *testing.T, stream []byte, heads []refHead, stop uint64) {
	t.Helper()
	var got [3][]uint64 // commands, identities, messages
	errAt := uint64(math.MaxUint64)
	d := zmtp.NewDecoder(zmtp.Options{MaxBody: framingKeep})
	d.Feed(stream, func(ev zmtp.Event) {
		switch e := ev.(type) {
		case *zmtp.Command:
			got[0] = append(got[0], e.Offset)
		case *zmtp.Identity:
			got[1] = append(got[1], e.Offset)
		case *zmtp.Message:
			got[2] = append(got[2], e.Offset)
		case *zmtp.Error:
			errAt = min(errAt, e.Offset)
		}
	})
	end := min(errAt, uint64(len(stream)))
	var want [3][]uint64
	open := uint64(0)
	for _, h := range heads {
		if h.end == 0 || h.end > end {
			break
		}
		switch {
		case h.cmd:
			want[0] = append(want[0], uint64(h.off))
		case h.ident:
			want[1] = append(want[1], uint64(h.off))
		default:
			if h.msgStart {
				open = uint64(h.off)
			}
			if h.last {
				want[2] = append(want[2], open)
			}
		}
	}
	for k, what := range []string{"commands", "identities", "messages"} {
		if !slices.Equal(got[k], want[k]) {
			t.Fatalf("reference walk: %s at %v, the decoder's at %v (decoder error at %d)", what, want[k], got[k], errAt)
		}
	}
	if stop < uint64(len(stream)) && errAt > stop {
		t.Fatalf("reference walk refuses the header at %d, the decoder does not (error at %d)", stop, errAt)
	}
}

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
// a byte the decoder needs. It also checks the records' marks: each marked
// offset is a frame header of the stream, the first the walk walked in its
// record, with the frames and messages before it (walkRef, itself checked
// against the decoder), and no record holding a header's start goes
// unmarked. The same stream runs through a program that walks for marks
// only (Config.Marks), which must keep every byte. The first input byte
// picks the greeting and the packet size.
func FuzzKernelFraming(f *testing.F) {
	if os.Geteuid() != 0 {
		skip.Unavailable(f, "needs root (BPF_PROG_TEST_RUN)")
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
	// A command between the frames of a message, MORE on a command, a
	// size of 2^63.
	f.Add([]byte{0x40, 0x01, 0x01, 'a', 0x04, 0x07, 0x04, 'P', 'I', 'N', 'G', 0, 0, 0x00, 0x01, 'b'})
	f.Add([]byte{0x22, 0x00, 0x01, 'a', 0x05, 0x01, 'x', 0x00, 0x00})
	f.Add([]byte{0x50, 0x00, 0x00, 0x02, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00})

	p := loadTestProgram(f, Config{Ports: []uint16{7001}, FrameKeep: framingKeep}, true, 14, 1, 1<<22)
	q := loadTestProgram(f, Config{Ports: []uint16{7001}, Marks: true}, true, 14, 1, 1<<22)

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 || len(data) > 64<<10 {
			return
		}
		var (
			stream []byte
			heads  []refHead
			stop   uint64
		)
		if data[0]&1 == 0 {
			stream = append(greeting3(), data[1:]...)
			heads, stop = walkRef(stream, 64, false, false, false)
		} else {
			stream = append([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 1, 8}, data[1:]...)
			heads, stop = walkRef(stream, 12, true, true, false)
		}
		checkRef(t, stream, heads, stop)
		size := 1 + int(data[0]>>1)*11 // 1 to 1398 bytes a packet
		if len(stream)/size > 20000 {
			return // the 4 MiB rings would overflow: records lost, not a bug
		}
		var frames [][]byte
		frames = append(frames, buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.SYN, seq: framingISN}))
		for from := 0; from < len(stream); from += size {
			end := min(len(stream), from+size)
			frames = append(frames, buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.ACK | segment.PSH,
				seq: framingISN + 1 + uint32(from), payload: string(stream[from:end])}))
		}
		for _, fr := range frames {
			for _, prog := range []*testProgram{p, q} {
				if _, err := prog.objs.CaptureIngress.Run(&ebpf.RunOptions{Data: fr}); err != nil {
					t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
				}
			}
		}
		whole := q.records(t, time.Millisecond)
		for i, h := range kept(t, whole, stream) {
			if !h {
				t.Fatalf("walking for marks only: byte %d left out", i)
			}
		}
		if len(whole) != len(frames) {
			t.Fatalf("walking for marks only: %d records for %d packets", len(whole), len(frames))
		}
		checkMarks(t, whole, heads, framingISN)
		segs := p.records(t, time.Millisecond)
		kept(t, segs, stream)
		checkMarks(t, segs, heads, framingISN)
		all := decodeAll(func(d *zmtp.Decoder, emit func(zmtp.Event)) { d.Feed(stream, emit) })
		framed := decodeAll(func(d *zmtp.Decoder, emit func(zmtp.Event)) {
			for _, s := range segs {
				if s.Has(segment.SYN) {
					continue
				}
				d.Feed(s.Payload, emit)
				d.Skip(uint64(s.PayloadLen-len(s.Payload)), emit)
			}
		})
		if strings.Join(all, "\n") != strings.Join(framed, "\n") {
			t.Fatalf("events differ\nwhole stream:\n%s\nrecords:\n%s", strings.Join(all, "\n"), strings.Join(framed, "\n"))
		}
	})
}
