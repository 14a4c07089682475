package zmtp_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/zmtpdump/zmtpdump/zmtp"
)

// feedStep is one call made to a decoder: n bytes of its stream fed, or
// (gap) n bytes of it lost.
type feedStep struct {
	n   int
	gap bool
}

// plan cuts a stream into random feeds and occasional gaps.
func plan(r *rand.Rand, size int) []feedStep {
	var steps []feedStep
	for off := 0; off < size; {
		s := feedStep{n: 1 + r.IntN(600)}
		if off > 64 && r.IntN(40) == 0 {
			s = feedStep{n: 1 + r.IntN(3000), gap: true}
		}
		s.n = min(s.n, size-off)
		steps = append(steps, s)
		off += s.n
	}
	return steps
}

// decodeRun feeds one decoder its steps from data and records its events
// as text; step i of the decoder runs when next reports it.
type decodeRun struct {
	d      *zmtp.Decoder
	data   []byte
	steps  []feedStep
	off, i int
	events []string
}

func (r *decodeRun) step() bool {
	if r.i == len(r.steps) {
		return false
	}
	s := r.steps[r.i]
	emit := func(e zmtp.Event) { r.events = append(r.events, fmt.Sprintf("%T %+v", e, e)) }
	if s.gap {
		r.d.Gap(uint64(s.n), emit)
	} else {
		r.d.Feed(r.data[r.off:r.off+s.n], emit)
	}
	r.off += s.n
	r.i++
	return true
}

// TestSharedWork: decoders share their work (frame arena, command buffer,
// greeting bytes, search) through a pool, holding one only while a unit is
// in progress. Fed interleaved at random, with gaps, each must emit
// exactly what it emits when fed the same calls alone.
func TestSharedWork(t *testing.T) {
	streams := captureStreams(t)
	for seed := range uint64(60) {
		r := rand.New(rand.NewPCG(seed, 15))
		var runs, alone []*decodeRun
		for range 6 {
			s := streams[r.IntN(len(streams))]
			steps := plan(r, len(s.data))
			runs = append(runs, &decodeRun{d: zmtp.NewDecoder(zmtp.Options{}), data: s.data, steps: steps})
			alone = append(alone, &decodeRun{d: zmtp.NewDecoder(zmtp.Options{}), data: s.data, steps: steps})
		}
		for _, a := range alone {
			for a.step() {
			}
		}
		for live := len(runs); live > 0; {
			if !runs[r.IntN(len(runs))].step() {
				live = 0
				for _, x := range runs {
					if x.i < len(x.steps) {
						live++
					}
				}
			}
		}
		for k := range runs {
			got, want := runs[k].events, alone[k].events
			if len(got) != len(want) {
				t.Fatalf("seed %d, decoder %d: %d events interleaved, %d alone", seed, k, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("seed %d, decoder %d, event %d:\ninterleaved %s\nalone       %s", seed, k, i, got[i], want[i])
				}
			}
		}
	}
}
