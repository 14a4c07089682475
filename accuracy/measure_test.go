package accuracy

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Variant kinds.
const (
	kindWhole = "whole" // the capture untouched: checks the harness
	kindDrop  = "drop"  // dropFraction of the data segments dropped
	kindCut   = "cut"   // everything before a cut point dropped
	kindBoth  = "both"  // a cut, then dropFraction of the rest dropped
)

// dropFraction is the share of the segments carrying data that a drop
// variant loses.
const dropFraction = 0.02

// Seeds of the random drops: each seed is one drop variant, and each
// (cut point, seed) pair of bothSeeds one "both" variant.
var (
	dropSeeds = []uint64{1, 2, 3, 4, 5}
	bothSeeds = []uint64{1, 2}
)

// variant is a lossy copy of a capture: the packets it keeps.
type variant struct {
	kind, name string
	keep       []bool // by packet index; nil keeps everything
	dropped    int    // data segments dropped at random
	cut        int    // packets dropped before the cut point
}

// isData reports whether p carries stream bytes.
func isData(p *packet) bool { return p.payload > 0 && !p.rst }

// dropData drops, at random with seed, frac of the data segments that keep
// keeps (at least one): it returns the new keep and how many it dropped.
func dropData(c *capture, keep []bool, seed uint64, frac float64) ([]bool, int) {
	out := make([]bool, len(c.packets))
	var data []int
	for i := range c.packets {
		out[i] = keep == nil || keep[i]
		if out[i] && isData(&c.packets[i]) {
			data = append(data, i)
		}
	}
	n := max(1, int(math.Round(frac*float64(len(data)))))
	n = min(n, len(data))
	rng := rand.New(rand.NewPCG(seed, 0x5a4d5450)) // "ZMTP"
	for _, j := range rng.Perm(len(data))[:n] {
		out[data[j]] = false
	}
	return out, n
}

// cutAt keeps the packets from index i on.
func cutAt(c *capture, i int) []bool {
	keep := make([]bool, len(c.packets))
	for j := i; j < len(keep); j++ {
		keep[j] = true
	}
	return keep
}

// packetAt is the index of the first data packet of dir that holds the byte
// at reference offset off.
func packetAt(c *capture, dir string, m streamMap, off int64) (int, bool) {
	for i := range c.packets {
		p := &c.packets[i]
		if p.dir != dir || !isData(p) || p.syn {
			continue
		}
		if lo := m.offset(p.seq); lo <= off && off < lo+int64(p.payload) {
			return i, true
		}
	}
	return 0, false
}

// cutPoint is where a mid-connection variant starts: it keeps packets from
// index on.
type cutPoint struct {
	name  string
	index int
}

// largeFrame is the size from which a message counts as large: the cut
// points include one inside the first such message.
const largeFrame = 65536

// cutPoints are the cut points of a capture: right after the handshake (at
// the segment carrying the first message of the main direction), at a
// third and at two thirds of the packets (the first segment of the main
// direction from there), and inside the first message of 64 KiB or more
// (the segment holding its middle byte).
func cutPoints(c *capture, maps map[string]streamMap, ref *reference) ([]cutPoint, error) {
	dir := ref.mainDir()
	ms := ref.messages[dir]
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no messages to cut before", c.name)
	}
	m := maps[dir]
	var cuts []cutPoint
	add := func(name string, i int) {
		for _, x := range cuts {
			if x.index == i {
				return
			}
		}
		cuts = append(cuts, cutPoint{name, i})
	}
	i, ok := packetAt(c, dir, m, ms[0].offset)
	if !ok {
		return nil, fmt.Errorf("%s: no segment holds offset %d of %s", c.name, ms[0].offset, dir)
	}
	add("after-handshake", i)
	for _, f := range []struct {
		name string
		num  int
	}{{"one-third", 1}, {"two-thirds", 2}} {
		for j := f.num * len(c.packets) / 3; j < len(c.packets); j++ {
			if p := &c.packets[j]; p.dir == dir && isData(p) {
				add(f.name, j)
				break
			}
		}
	}
	for _, msg := range ms {
		if msg.end-msg.offset < largeFrame {
			continue
		}
		if i, ok := packetAt(c, dir, m, msg.offset+(msg.end-msg.offset)/2); ok {
			add("in-large-frame", i)
		}
		break
	}
	return cuts, nil
}

// variants builds every variant of c.
func variants(c *capture, cuts []cutPoint) []variant {
	vs := []variant{{kind: kindWhole, name: "whole"}}
	for _, seed := range dropSeeds {
		keep, n := dropData(c, nil, seed, dropFraction)
		vs = append(vs, variant{kind: kindDrop, name: fmt.Sprintf("drop-seed%d", seed), keep: keep, dropped: n})
	}
	for _, cut := range cuts {
		vs = append(vs, variant{kind: kindCut, name: "cut-" + cut.name, keep: cutAt(c, cut.index), cut: cut.index})
	}
	for _, cut := range cuts {
		for _, seed := range bothSeeds {
			keep, n := dropData(c, cutAt(c, cut.index), seed, dropFraction)
			vs = append(vs, variant{kind: kindBoth, name: fmt.Sprintf("both-%s-seed%d", cut.name, seed),
				keep: keep, dropped: n, cut: cut.index})
		}
	}
	return vs
}

// score is what a variant's decode got right and wrong.
type score struct {
	// wholly counts the reference messages wholly captured in the
	// variant; decoded those of them decoded at the right offset with the
	// right frames.
	wholly, decoded int
	// partial counts messages decoded right though not wholly captured
	// (the first bytes of each frame suffice at -s 64).
	partial int
	// phantoms counts messages decoded that the sender never sent: none
	// at that offset with those frames, a direction the decoder never
	// started, or a message decoded twice.
	phantoms int
	// resyncs, gaps and errors count those events.
	resyncs, gaps, errors int
	// examples describe the first few phantoms.
	examples []string
}

// maxExamples is how many phantoms a score describes.
const maxExamples = 5

// add sums scores.
func (s *score) add(o score) {
	s.wholly += o.wholly
	s.decoded += o.decoded
	s.partial += o.partial
	s.phantoms += o.phantoms
	s.resyncs += o.resyncs
	s.gaps += o.gaps
	s.errors += o.errors
	s.examples = append(s.examples, o.examples...)
}

// ratio is decoded / wholly captured (1 when nothing was).
func (s *score) ratio() float64 {
	if s.wholly == 0 {
		return 1
	}
	return float64(s.decoded) / float64(s.wholly)
}

// scoreVariant compares the events of a variant's decode (the packets of
// c that keep marks) with the reference.
func scoreVariant(c *capture, maps map[string]streamMap, ref *reference, keep []bool, events []event) score {
	var s score
	type dirState struct {
		base    int64
		started bool
		wholly  []bool
		seen    []bool
	}
	dirs := map[string]*dirState{}
	state := func(dir string) *dirState {
		if st, ok := dirs[dir]; ok {
			return st
		}
		st := &dirState{}
		dirs[dir] = st
		m, ok := maps[dir]
		if !ok {
			return st // no SYN in the whole capture: not a direction of it
		}
		st.base, st.started = decoderBase(c, keep, dir, m)
		ms := ref.messages[dir]
		st.wholly, st.seen = make([]bool, len(ms)), make([]bool, len(ms))
		if !st.started {
			return st
		}
		have := capturedBytes(c, keep, dir, m, st.base)
		for i, msg := range ms {
			if have.covers(msg.offset, msg.end) {
				st.wholly[i] = true
				s.wholly++
			}
		}
		return st
	}
	for dir := range ref.messages {
		state(dir)
	}
	phantom := func(format string, args ...any) {
		s.phantoms++
		if len(s.examples) < maxExamples {
			s.examples = append(s.examples, fmt.Sprintf(format, args...))
		}
	}
	for _, e := range events {
		switch e.Event {
		case "resync":
			s.resyncs++
		case "gap":
			s.gaps++
		case "error":
			s.errors++
		}
		if e.Event != "message" {
			continue
		}
		dir := e.dir()
		st := state(dir)
		if !st.started || e.Offset == nil {
			phantom("%s: a message at offset %v of a direction never started", dir, offsetOf(e))
			continue
		}
		off := st.base + *e.Offset
		i, ok := ref.find(dir, off, e.Frames)
		switch {
		case !ok:
			phantom("%s: a message at decoder offset %d (reference %d), %d frame(s) of %d bytes: none sent there",
				dir, *e.Offset, off, len(e.Frames), e.Bytes)
		case st.seen[i]:
			phantom("%s: the message at reference offset %d decoded twice", dir, off)
		case st.wholly[i]:
			st.seen[i] = true
			s.decoded++
		default:
			st.seen[i] = true
			s.partial++
		}
	}
	return s
}
