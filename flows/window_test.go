package flows

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
)

// ignored is what TestWindow checks of the Stats.
type ignored struct{ RST, FIN, Acks, Gaps uint64 }

// TestWindow checks that a RST, a FIN or an acknowledgment outside what a
// direction has seen, forged or stale, leaves a healthy connection alone,
// and that the real ones still count.
func TestWindow(t *testing.T) {
	const (
		syn = segment.SYN
		fin = segment.FIN
		rst = segment.RST
	)
	// into returns the conversation with extra segments after its first n.
	into := func(n int, extra ...segment.Segment) []segment.Segment {
		s := conversation()
		return append(s[:n:n], append(extra, s[n:]...)...)
	}
	// After the first 5 segments the client delivered "hello " (next
	// isnC+7, the furthest byte seen too), the server "wrap".
	const next = isnC + 7
	const resetAfterWrap = `127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="hello " s2c="wrap" reset`
	tests := []struct {
		name string
		in   []segment.Segment
		want []string
		ign  ignored
	}{
		{"RST 2^30 away", into(5, seg(false, isnS+5+1<<30, rst, "")), []string{clean}, ignored{RST: 1}},
		{"RST 2^30 away, with ACK", into(5, seg(true, next+1<<30, rst, "", isnS+5)), []string{clean}, ignored{RST: 1}},
		{"RST before the bytes delivered", into(5, seg(true, isnC+3, rst, "")), []string{clean}, ignored{RST: 1}},
		{"RST just beyond the bound", into(5, seg(true, next+maxAhead+1, rst, "")), []string{clean}, ignored{RST: 1}},
		{"RST at the bound", into(5, seg(true, next+maxAhead, rst, "")), []string{resetAfterWrap}, ignored{}},
		{"RST in the window", into(5, seg(true, next, rst, "")), []string{resetAfterWrap}, ignored{}},
		{"RST of the server in the window", into(5, seg(false, isnS+5, rst, "")), []string{resetAfterWrap}, ignored{}},
		{"RST answering a SYN", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(false, 0, rst, "", 2),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="" s2c="" reset`}, ignored{}},
		{"RST answering a SYN, its sender started", []segment.Segment{
			seg(true, 100, syn, ""),
			seg(false, 900, syn, ""),
			seg(true, 0, rst, "", 901),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="" s2c="" reset`}, ignored{}},
		{"RST not answering the SYN", []segment.Segment{
			seg(true, 100, syn, ""),
			seg(false, 900, syn, ""),
			seg(true, 0, rst, "", 905),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="" s2c="" capture ended`}, ignored{RST: 1}},
		{"FIN before the bytes delivered", into(5, seg(true, isnC+3, fin, "", isnS+5)), []string{clean}, ignored{FIN: 1}},
		{"FIN 2^30 away", into(5, seg(true, next+1<<30, fin, "")), []string{clean}, ignored{FIN: 1}},
		{"FIN ahead of a hole", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 8, fin, ""),
			seg(true, 4, 0, "cd"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="abcd<gap 2>" s2c="" capture ended`}, ignored{Gaps: 1}},
		{"ACK of bytes never sent", into(5, seg(false, isnS+5, 0, "", next+1000)), []string{clean}, ignored{Acks: 1}},
		{"ACK 2^29 away", into(5, seg(false, isnS+5, 0, "", next+1<<29)), []string{clean}, ignored{Acks: 1}},
		{"ACK beyond the bytes seen, a hole before them", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 6, 0, "ef"),
			seg(false, 500, 0, "x", 100), // "cd" acknowledged: lost
			seg(true, 4, 0, "cd"),
			seg(true, 8, 0, "gh"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="ab<gap 2>efgh" s2c="x" capture ended`}, ignored{Acks: 1, Gaps: 1}},
		{"acknowledged hole", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 6, 0, "ef"),
			seg(false, 500, 0, "x", 6),
			seg(true, 4, 0, "cd"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="ab<gap 2>ef" s2c="x" capture ended`}, ignored{Gaps: 1}},
		{"ACK of a FIN", []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 6, fin, ""),
			seg(false, 500, 0, "x", 7),
			seg(true, 4, 0, "cd"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="ab<gap 2>" s2c="x" capture ended`}, ignored{Gaps: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := runSegs(t, Config{}, tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tt.ign, ignored{st.IgnoredRST, st.IgnoredFIN, st.IgnoredAcks, st.Gaps}); diff != "" {
				t.Errorf("stats (-want +got)\n%s", diff)
			}
		})
	}
}

// TestAckedLossLater checks that bytes acknowledged before the capture saw
// anything after them are declared lost at the first acknowledgment after
// it has: not at the first one, not only at the close.
func TestAckedLossLater(t *testing.T) {
	var log []string
	a := New(Config{}, func(c *Conn) Consumer { return &recorder{log: &log, conn: c} })
	gapsAfter := func(s segment.Segment) uint64 {
		a.Add(&s)
		return a.Stats().Gaps
	}
	for i, step := range []struct {
		s    segment.Segment
		gaps uint64
	}{
		{seg(true, 1, segment.SYN, ""), 0},
		{seg(true, 2, 0, "ab"), 0},
		{seg(false, 500, 0, "x", 9), 0}, // "cdefg" never seen: not believed
		{seg(true, 9, 0, "z"), 0},       // "cdefg" now a hole
		{seg(false, 501, 0, "", 10), 1}, // acknowledged: lost
		{seg(true, 10, 0, "y"), 1},
	} {
		if got := gapsAfter(step.s); got != step.gaps {
			t.Fatalf("after segment %d: %d gaps, want %d", i, got, step.gaps)
		}
	}
	a.Flush(time.Unix(2, 0))
	want := []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="ab<gap 5>zy" s2c="x" capture ended`}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
