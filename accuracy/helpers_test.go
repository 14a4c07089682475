package accuracy

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Tests of the harness's own helpers, on made-up packets and events.

const (
	cli = "10.0.0.2:40000"
	srv = "10.0.0.1:7001"
	c2s = cli + ">" + srv
	s2c = srv + ">" + cli
)

func TestStreamMap(t *testing.T) {
	for _, tc := range []struct {
		isn, seq uint32
		want     int64
	}{
		{1000, 1001, 0},
		{1000, 1065, 64},
		{0xfffffff0, 0xfffffff1, 0},
		{0xfffffff0, 0x00000005, 20}, // across the wrap of sequence space
		{0xffffffff, 0x00000000, 0},
	} {
		if got := (streamMap{tc.isn}).offset(tc.seq); got != tc.want {
			t.Errorf("isn %#x: offset(%#x) = %d, want %d", tc.isn, tc.seq, got, tc.want)
		}
	}
}

// conversation is a made-up connection: handshake, the client's 64-byte
// greeting in two segments, the server's, then 3 segments of 100 bytes
// from the client, the middle one with its ACK from the server after it.
// The client's ISN is near the wrap of sequence space.
func conversation() *capture {
	ci, si := uint32(0xffffffc0), uint32(5000)
	return &capture{packets: []packet{
		{dir: c2s, seq: ci, syn: true},                                    // 0
		{dir: s2c, seq: si, ack: ci + 1, syn: true, ackFlag: true},        // 1
		{dir: c2s, seq: ci + 1, ack: si + 1, ackFlag: true},               // 2
		{dir: c2s, seq: ci + 1, payload: 10, ackFlag: true},               // 3: offsets 0-10
		{dir: c2s, seq: ci + 11, payload: 54, ackFlag: true},              // 4: 10-64
		{dir: s2c, seq: si + 1, payload: 64, ackFlag: true},               // 5: 0-64
		{dir: c2s, seq: ci + 65, payload: 100, ackFlag: true},             // 6: 64-164
		{dir: c2s, seq: ci + 165, payload: 100, ackFlag: true},            // 7: 164-264
		{dir: s2c, seq: si + 65, ack: ci + 265, ackFlag: true},            // 8
		{dir: c2s, seq: ci + 265, payload: 100, ackFlag: true},            // 9: 264-364
		{dir: c2s, seq: ci + 365, payload: 5, rst: true, ackFlag: true},   // 10: not data
		{dir: s2c, seq: si + 65, ack: ci + 365, ackFlag: true, rst: true}, // 11
	}}
}

func keepFrom(n, i int, drop ...int) []bool {
	keep := make([]bool, n)
	for j := i; j < n; j++ {
		keep[j] = !slices.Contains(drop, j)
	}
	return keep
}

func TestDecoderBase(t *testing.T) {
	c := conversation()
	maps := streamMaps(c)
	if len(maps) != 2 || maps[c2s].isn != 0xffffffc0 || maps[s2c].isn != 5000 {
		t.Fatalf("streamMaps = %v", maps)
	}
	n := len(c.packets)
	for _, tc := range []struct {
		name string
		keep []bool
		dir  string
		want int64
		ok   bool
	}{
		{"whole", nil, c2s, 0, true},
		{"whole", nil, s2c, 0, true},
		{"first data dropped", keepFrom(n, 0, 3), c2s, 0, true},
		{"no SYN: the SYN-ACK starts it", keepFrom(n, 1), c2s, 0, true},
		{"cut before data", keepFrom(n, 2), c2s, 0, true},
		{"cut at the 2nd segment", keepFrom(n, 4), c2s, 10, true},
		{"cut mid-stream", keepFrom(n, 7), c2s, 164, true},
		{"cut mid-stream, first kept dropped", keepFrom(n, 7, 7), c2s, 264, true},
		{"cut: other direction's ACK only", keepFrom(n, 7), s2c, 0, false},
		{"only a RST with data", keepFrom(n, 10), c2s, 0, false},
	} {
		got, ok := decoderBase(c, tc.keep, tc.dir, maps[tc.dir])
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s, %s: decoderBase = %d, %v; want %d, %v", tc.name, tc.dir, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSpans(t *testing.T) {
	s := makeSpans([]span{{50, 60}, {0, 10}, {10, 20}, {30, 40}, {35, 45}, {70, 70}, {5, 8}})
	if got, want := s.String(), "{[0,20) [30,45) [50,60)}"; got != want {
		t.Fatalf("makeSpans = %s, want %s", got, want)
	}
	if s.size() != 20+15+10 {
		t.Errorf("size = %d", s.size())
	}
	for _, tc := range []struct {
		lo, hi int64
		want   bool
	}{
		{0, 20, true}, {0, 21, false}, {5, 15, true}, {19, 20, true}, {20, 21, false},
		{25, 30, false}, {30, 45, true}, {29, 31, false}, {44, 51, false}, {59, 60, true},
		{60, 61, false}, {-1, 1, false}, {100, 200, false}, {7, 7, true},
	} {
		if got := s.covers(tc.lo, tc.hi); got != tc.want {
			t.Errorf("covers(%d, %d) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
	if (spans{}).covers(0, 1) {
		t.Error("an empty set covers [0,1)")
	}
}

func TestCapturedBytes(t *testing.T) {
	c := conversation()
	m := streamMaps(c)[c2s]
	n := len(c.packets)
	for _, tc := range []struct {
		name string
		keep []bool
		from int64
		want string
	}{
		{"whole", nil, 0, "{[0,364)}"},
		{"a segment dropped", keepFrom(n, 0, 6), 0, "{[0,64) [164,364)}"},
		{"cut", keepFrom(n, 7), 164, "{[164,364)}"},
		{"clipped at the base", nil, 100, "{[100,364)}"},
	} {
		if got := capturedBytes(c, tc.keep, c2s, m, tc.from).String(); got != tc.want {
			t.Errorf("%s: capturedBytes = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestWireLen(t *testing.T) {
	for _, tc := range []struct {
		sizes []int64
		want  int64
	}{
		{[]int64{1}, 3},
		{[]int64{0}, 2},
		{[]int64{255}, 257},
		{[]int64{256}, 265},
		{[]int64{5, 300}, 7 + 309},
		{[]int64{70000}, 70009},
	} {
		var fs []frame
		for _, s := range tc.sizes {
			fs = append(fs, frame{Size: s})
		}
		if got := wireLen(fs); got != tc.want {
			t.Errorf("wireLen(%v) = %d, want %d", tc.sizes, got, tc.want)
		}
	}
}

func off(n int64) *int64 { return &n }

// refEvents is a clean decode of conversation(): greetings, then from the
// client a 100-byte frame at 64, a 98-byte one at 164 and two frames (5
// and 91 bytes) at 264.
func refEvents() []event {
	return []event{
		{Src: cli, Dst: srv, Event: "greeting", Offset: off(0)},
		{Src: srv, Dst: cli, Event: "greeting", Offset: off(0)},
		{Src: cli, Dst: srv, Event: "message", Offset: off(64), Frames: []frame{{Size: 98, DataHex: "31"}}},
		{Src: cli, Dst: srv, Event: "message", Offset: off(164), Frames: []frame{{Size: 98, DataHex: "32"}}},
		{Src: cli, Dst: srv, Event: "message", Offset: off(264),
			Frames: []frame{{Size: 5, DataHex: "68656c6c6f", More: true}, {Size: 91, DataHex: "33"}}},
		{Src: cli, Dst: srv, Event: "connection"},
	}
}

func TestMakeReference(t *testing.T) {
	ref, err := makeReference(refEvents())
	if err != nil {
		t.Fatal(err)
	}
	if ref.total != 3 || ref.mainDir() != c2s || ref.messages[c2s][2].end != 364 {
		t.Errorf("reference: %d messages, main %s, last ends at %d", ref.total, ref.mainDir(), ref.messages[c2s][2].end)
	}
	if _, ok := ref.find(c2s, 164, []frame{{Size: 98, DataHex: "32"}}); !ok {
		t.Error("find: the message at 164 not found")
	}
	if _, ok := ref.find(c2s, 164, []frame{{Size: 98, DataHex: "33"}}); ok {
		t.Error("find: other content found")
	}

	bad := refEvents()
	bad[3].Offset = off(165)
	if _, err := makeReference(bad); err == nil || !strings.Contains(err.Error(), "ends at 164") {
		t.Errorf("a message whose frames do not reach the next event: err = %v", err)
	}
	gap := append(refEvents(), event{Src: cli, Dst: srv, Event: "gap", Offset: off(364)})
	if _, err := makeReference(gap); err == nil {
		t.Error("a reference with a gap: no error")
	}
}

func TestScoreVariant(t *testing.T) {
	c := conversation()
	maps := streamMaps(c)
	ref, err := makeReference(refEvents())
	if err != nil {
		t.Fatal(err)
	}
	n := len(c.packets)
	msg := func(o int64, frames ...frame) event {
		return event{Src: cli, Dst: srv, Event: "message", Offset: off(o), Frames: frames}
	}
	m1, m2 := frame{Size: 98, DataHex: "31"}, frame{Size: 98, DataHex: "32"}
	m3 := []frame{{Size: 5, DataHex: "68656c6c6f", More: true}, {Size: 91, DataHex: "33"}}
	for _, tc := range []struct {
		name   string
		keep   []bool
		events []event
		want   score
	}{
		{"whole", nil, refEvents(), score{wholly: 3, decoded: 3}},
		{"whole, nothing decoded", nil, nil, score{wholly: 3}},
		{"segment 7 lost, resync after", keepFrom(n, 0, 7),
			[]event{msg(64, m1), {Src: cli, Dst: srv, Event: "gap", Offset: off(164)}, msg(264, m3...)},
			score{wholly: 2, decoded: 2, gaps: 1}},
		{"segment 7 lost, message 2 made up from its head", keepFrom(n, 0, 7),
			[]event{msg(64, m1), msg(164, m2), msg(264, m3...)},
			score{wholly: 2, decoded: 2, partial: 1}},
		{"cut at 7: offsets from the cut", keepFrom(n, 7),
			[]event{{Src: cli, Dst: srv, Event: "resync", Offset: off(0)}, msg(0, m2), msg(100, m3...)},
			score{wholly: 2, decoded: 2, resyncs: 1}},
		{"cut at 7: reference offsets are wrong ones", keepFrom(n, 7),
			[]event{msg(164, m2), msg(264, m3...)},
			score{wholly: 2, phantoms: 2}},
		{"wrong content", nil, []event{msg(64, frame{Size: 98, DataHex: "39"})},
			score{wholly: 3, phantoms: 1}},
		{"a frame boundary missed", nil, []event{msg(264, m3[1])}, score{wholly: 3, phantoms: 1}},
		{"decoded twice", nil, []event{msg(64, m1), msg(64, m1)}, score{wholly: 3, decoded: 1, phantoms: 1}},
		{"the other direction", nil,
			[]event{{Src: srv, Dst: cli, Event: "message", Offset: off(64), Frames: []frame{m1}}},
			score{wholly: 3, phantoms: 1}},
		{"an unknown connection", nil,
			[]event{{Src: "10.9.9.9:1", Dst: srv, Event: "message", Offset: off(64), Frames: []frame{m1}}},
			score{wholly: 3, phantoms: 1}},
	} {
		got := scoreVariant(c, maps, ref, tc.keep, tc.events)
		got.examples = nil
		if got.wholly != tc.want.wholly || got.decoded != tc.want.decoded || got.partial != tc.want.partial ||
			got.phantoms != tc.want.phantoms || got.resyncs != tc.want.resyncs || got.gaps != tc.want.gaps {
			t.Errorf("%s: score %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestDropData(t *testing.T) {
	c := conversation()
	for i := 0; i < 200; i++ { // enough data segments that 2% is more than one
		c.packets = append(c.packets, packet{dir: c2s, payload: 10})
	}
	data := 0
	for i := range c.packets {
		if isData(&c.packets[i]) {
			data++
		}
	}
	keep, n := dropData(c, nil, 1, 0.02)
	again, _ := dropData(c, nil, 1, 0.02)
	other, _ := dropData(c, nil, 2, 0.02)
	if n != 4 || data != 206 {
		t.Fatalf("dropped %d of %d data segments, want 4 of 206", n, data)
	}
	if !slices.Equal(keep, again) {
		t.Error("the same seed dropped other segments")
	}
	if slices.Equal(keep, other) {
		t.Error("seeds 1 and 2 dropped the same segments")
	}
	for i, k := range keep {
		if !k && !isData(&c.packets[i]) {
			t.Errorf("packet %d dropped: not a data segment", i)
		}
	}
	cut := cutAt(c, 100)
	keep, n = dropData(c, cut, 3, 0.02)
	for i := 0; i < 100; i++ {
		if keep[i] {
			t.Fatalf("packet %d before the cut kept", i)
		}
	}
	if dropped := slices.Index(keep[100:], false); n != 2 || dropped < 0 {
		t.Errorf("after a cut at 100: dropped %d (first at %d), want 2 of the 112 left", n, dropped)
	}
}

// TestCaptureRoundTrip checks that a variant written reads back as the
// packets kept, unchanged.
func TestCaptureRoundTrip(t *testing.T) {
	c, err := readCapture(filepath.Join("..", "testdata", "lossy", "pubsub31.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	keep, _ := dropData(c, cutAt(c, 10), 7, 0.1)
	path := filepath.Join(t.TempDir(), "v.pcap")
	if err := c.write(path, keep); err != nil {
		t.Fatal(err)
	}
	back, err := readCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []packet
	for i, p := range c.packets {
		if keep[i] {
			want = append(want, p)
		}
	}
	if len(back.packets) != len(want) || back.linkType != c.linkType {
		t.Fatalf("read back %d packets (link type %v), want %d (%v)", len(back.packets), back.linkType, len(want), c.linkType)
	}
	for i := range want {
		g, w := back.packets[i], want[i]
		if g.dir != w.dir || g.seq != w.seq || g.payload != w.payload || !g.ci.Timestamp.Equal(w.ci.Timestamp) ||
			string(g.data) != string(w.data) {
			t.Fatalf("packet %d read back as %+v, want %+v", i, g, w)
		}
	}
}
