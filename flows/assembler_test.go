package flows

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
)

// recorder is a Consumer that writes what it receives as text: the streams
// with gaps as <gap N> and skips as <skip N>, a line per conflict and one
// at Close.
type recorder struct {
	log  *[]string
	conn *Conn
	data [2]strings.Builder
}

func (r *recorder) Data(d segment.Dir, p []byte, _ *segment.Segment) { r.data[d].Write(p) }
func (r *recorder) Gap(d segment.Dir, n uint64, _ *segment.Segment) {
	fmt.Fprintf(&r.data[d], "<gap %d>", n)
}
func (r *recorder) Skip(d segment.Dir, n uint64, _ *segment.Segment) {
	fmt.Fprintf(&r.data[d], "<skip %d>", n)
}
func (r *recorder) Conflict(d segment.Dir, off uint64, n int, _ *segment.Segment) {
	*r.log = append(*r.log, fmt.Sprintf("conflict %s@%d+%d", [...]string{"c2s", "s2c"}[d], off, n))
}
func (r *recorder) Stall(segment.Dir, bool, *segment.Segment) {} // see stall_test.go
func (r *recorder) Close(reason segment.CloseReason, _ *segment.Segment) {
	*r.log = append(*r.log, fmt.Sprintf("%v>%v mid=%v c2s=%q s2c=%q %v",
		r.conn.Client, r.conn.Server, r.conn.MidStream, r.data[0].String(), r.data[1].String(), reason))
}

var (
	cli = netip.MustParseAddrPort("127.0.0.1:40000")
	srv = netip.MustParseAddrPort("127.0.0.1:7001")
)

// seg builds a segment, from the client when c2s, with an open window and
// no window scale; an ack, if given, sets ACK and the acknowledgment
// number.
func seg(c2s bool, seq uint32, flags uint8, payload string, ack ...uint32) segment.Segment {
	s := segment.Segment{Src: cli, Dst: srv, Seq: seq, Flags: flags, Window: 512, WScale: -1,
		Payload: []byte(payload), PayloadLen: len(payload), Time: time.Unix(1, 0)}
	if !c2s {
		s.Src, s.Dst = srv, cli
	}
	if len(ack) > 0 {
		s.Flags |= segment.ACK
		s.Ack = ack[0]
	}
	return s
}

// at returns s seen at second sec.
func at(sec float64, s segment.Segment) segment.Segment {
	s.Time = time.Unix(0, int64(sec*1e9))
	return s
}

// cut returns s with a payload length of n: the bytes past its payload were
// not captured.
func cut(n int, s segment.Segment) segment.Segment {
	s.PayloadLen = n
	return s
}

// lost returns s captured after the kernel lost n records.
func lost(n uint64, s segment.Segment) segment.Segment {
	s.KernelLost = n
	return s
}

func runSegs(t *testing.T, cfg Config, segs []segment.Segment) ([]string, Stats) {
	t.Helper()
	var log []string
	a := New(cfg, func(c *Conn) Consumer { return &recorder{log: &log, conn: c} })
	for i := range segs {
		a.Add(&segs[i])
	}
	a.Flush(time.Unix(2, 0))
	return log, a.Stats()
}

const isnC = 1000

// isnS makes the server's sequence numbers wrap at 2^32.
var isnS uint32 = 0xfffffffa

// conversation is a small exchange with a handshake and a clean close.
// Each segment acknowledges what its sender had received when it sent it.
func conversation() []segment.Segment {
	return []segment.Segment{
		seg(true, isnC, segment.SYN, ""),
		seg(false, isnS, segment.SYN, "", isnC+1),
		seg(true, isnC+1, 0, "", isnS+1),
		seg(true, isnC+1, segment.PSH, "hello ", isnS+1),
		seg(false, isnS+1, segment.PSH, "wrap", isnC+1),
		seg(true, isnC+7, segment.PSH, "world", isnS+1),
		seg(false, isnS+5, segment.PSH, "ped!", isnC+12),
		seg(true, isnC+12, segment.FIN, "", isnS+9),
		seg(false, isnS+9, segment.FIN, "", isnC+13),
		seg(true, isnC+13, 0, "", isnS+10),
	}
}

const clean = `127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="hello world" s2c="wrapped!" closed`

func TestAssembler(t *testing.T) {
	swap := func(s []segment.Segment, i, j int) []segment.Segment { s[i], s[j] = s[j], s[i]; return s }
	insert := func(s []segment.Segment, i int, extra ...segment.Segment) []segment.Segment {
		return append(s[:i:i], append(extra, s[i:]...)...)
	}
	drop := func(s []segment.Segment, i int) []segment.Segment { return append(s[:i:i], s[i+1:]...) }
	const (
		syn = segment.SYN
		fin = segment.FIN
		rst = segment.RST
		psh = segment.PSH
	)
	tests := []struct {
		name string
		cfg  Config
		segs []segment.Segment
		want []string
	}{
		{"in order", Config{}, conversation(), []string{clean}},
		{"reordered", Config{}, swap(conversation(), 3, 5), []string{clean}},
		{"FIN ahead of data", Config{}, func() []segment.Segment {
			s := conversation()
			return append(s[:5:5], seg(true, isnC+12, segment.FIN, "", isnS+1), s[5], s[6], s[8], s[9])
		}(), []string{clean}},
		{"duplicated", Config{}, insert(conversation(), 6, conversation()[3], conversation()[5], conversation()[4]), []string{clean}},
		{"overlapping retransmission", Config{ConflictWindow: 64}, insert(conversation(), 6,
			seg(true, isnC+4, 0, "lo world", isnS+5)), []string{clean}},
		{"overlapping retransmission, other bytes", Config{ConflictWindow: 64}, insert(conversation(), 6,
			seg(true, isnC+4, 0, "lo wXYld", isnS+5)),
			[]string{"conflict c2s@7+2", clean}},
		{"other bytes beyond the window", Config{ConflictWindow: 2}, insert(conversation(), 6,
			seg(true, isnC+4, 0, "lo wXYld", isnS+5)), []string{clean}},
		{"other bytes, no window", Config{}, insert(conversation(), 6,
			seg(true, isnC+4, 0, "lo wXYld", isnS+5)), []string{clean}},
		{"held bytes win over a later copy", Config{}, func() []segment.Segment {
			s := conversation()
			return append(s[:3:3], s[4], seg(true, isnC+9, 0, "rlX", isnS+1), s[5], s[3], s[6], s[7], s[8], s[9])
		}(), []string{"conflict c2s@10+1", `127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="hello worlX" s2c="wrapped!" closed`}},
		{"lost segments, closed", Config{}, drop(drop(conversation(), 3), 3),
			[]string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="<gap 6>world" s2c="<gap 4>ped!" closed`}},
		{"lost last segment before FIN", Config{}, drop(conversation(), 6),
			[]string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="hello world" s2c="wrap<gap 4>" closed`}},
		{"acknowledged hole", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 6, 0, "ef"),
			seg(false, 500, 0, "x", 6), // the server got "cd"
			seg(true, 8, 0, "gh"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="ab<gap 2>efgh" s2c="x" capture ended`}},
		{"acknowledged tail", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(false, 500, 0, "x", 9),
			seg(true, 9, 0, "z"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="ab<gap 5>z" s2c="x" capture ended`}},
		{"acknowledged hole, NoAckLoss", Config{NoAckLoss: true}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 6, 0, "ef"),
			seg(false, 500, 0, "x", 6),
			seg(true, 4, 0, "cd"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="abcdef" s2c="x" capture ended`}},
		{"hole over the buffer bound", Config{MaxBufferedPerDir: 4}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 6, 0, "ef"),
			seg(true, 8, 0, "gh"),
			seg(true, 10, 0, "ij"),
			seg(true, 4, 0, "cd"), // too late: already declared lost
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<gap 2>efghij" s2c="" capture ended`}},
		{"holes over the bound", Config{MaxHolesPerDir: 2}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 4, 0, "c"),
			seg(true, 6, 0, "e"),
			seg(true, 8, 0, "g"),
			seg(true, 2, 0, "ab"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="<gap 2>c<gap 1>e<gap 1>g" s2c="" capture ended`}},
		{"holes filled out of order", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 8, 0, "gh"),
			seg(true, 4, 0, "c"),
			seg(true, 6, 0, "ef"),
			seg(true, 5, 0, "d"),
			seg(true, 3, 0, "bcdefghi"),
			seg(true, 2, 0, "a"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="abcdefghi" s2c="" capture ended`}},
		{"mid-stream", Config{}, []segment.Segment{
			seg(false, 500, 0, "", 77), // a pure ACK opens nothing
			seg(false, 500, psh, "xyz", 77),
			seg(true, 77, psh, "abc", 503),
			seg(false, 503, rst, ""),
		}, []string{`127.0.0.1:7001>127.0.0.1:40000 mid=true c2s="xyz" s2c="abc" reset`}},
		{"cut payload", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(10, seg(true, 2, 0, "abc")),
			seg(true, 12, 0, "z"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="abc<skip 7>z" s2c="" capture ended`}},
		{"cut payload held", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(5, seg(true, 4, 0, "cd")),
			seg(true, 9, 0, "hi"),
			seg(true, 2, 0, "abcdefg"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="abcd<skip 3>hi" s2c="" capture ended`}},
		{"cut payload held, then a hole", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(5, seg(true, 4, 0, "cd")), // "cd" then 3 bytes not captured: 4-8
			seg(true, 11, 0, "kl"),        // after a hole at 9-10
			seg(true, 2, 0, "ab"),
			seg(false, 500, 0, "x", 13), // the server got 9-10
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="abcd<skip 3><gap 2>kl" s2c="x" capture ended`}},
		{"cut payload, all of it", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(4, seg(true, 2, 0, "")),
			seg(true, 6, 0, "ef"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="<skip 4>ef" s2c="" capture ended`}},
		{"cut payloads in a row", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(4, seg(true, 2, 0, "a")),
			cut(4, seg(true, 6, 0, "e")),
			seg(true, 10, 0, "ij"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="a<skip 3>e<skip 3>ij" s2c="" capture ended`}},
		{"cut payloads held in a row", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(4, seg(true, 10, 0, "i")),
			cut(4, seg(true, 6, 0, "e")),
			cut(4, seg(true, 2, 0, "a")),
			seg(true, 14, 0, "mn"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="a<skip 3>e<skip 3>i<skip 3>mn" s2c="" capture ended`}},
		{"cut payload, then its whole copy", Config{ConflictWindow: 64}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(6, seg(true, 2, 0, "ab")),
			seg(true, 2, 0, "abXYZW"), // first copy wins: no conflict either
			seg(true, 8, 0, "gh"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<skip 4>gh" s2c="" capture ended`}},
		{"cut payload held, then its whole copy", Config{ConflictWindow: 64}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(6, seg(true, 4, 0, "cd")),
			seg(true, 4, 0, "cXefgh"), // "X" differs: the rest was not captured
			seg(true, 2, 0, "ab"),
			seg(true, 10, 0, "ij"),
		}, []string{"conflict c2s@3+1", `127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="abcd<skip 4>ij" s2c="" capture ended`}},
		{"cut payload, retransmitted across the skip", Config{ConflictWindow: 64}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(6, seg(true, 2, 0, "ab")),
			seg(true, 8, 0, "gh"),
			seg(true, 1, 0, "?bcdefgh"), // compared only past the skip
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<skip 4>gh" s2c="" capture ended`}},
		{"cut payload before a FIN", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			cut(6, seg(true, 2, fin, "ab")),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<skip 4>" s2c="" capture ended`}},
		{"tail of an unknown connection", Config{}, []segment.Segment{
			seg(true, 5, fin, "", 9), seg(true, 6, rst, ""), seg(false, 9, 0, "", 6),
		}, nil},
		{"SYN retransmitted", Config{}, insert(conversation(), 1, seg(true, isnC, syn, "")), []string{clean}},
		{"ports reused", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "old"),
			seg(true, 9000, syn, ""),
			seg(true, 9001, 0, "new"),
		}, []string{
			`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="old" s2c="" ports reused`,
			`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="new" s2c="" capture ended`,
		}},
		{"SYN overtaken by data", Config{}, []segment.Segment{
			seg(true, 2, 0, "ab"),
			seg(true, 1, syn, ""),
			seg(true, 4, 0, "cd"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="abcd" s2c="" capture ended`}},
		{"new connection after close", Config{}, append(conversation(),
			seg(true, isnC+7, 0, "world", isnS+5), // late retransmission: ignored
			seg(true, 5000, syn, ""),
			seg(true, 5001, 0, "again")),
			[]string{clean, `127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="again" s2c="" capture ended`}},
		{"data after FIN", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, fin, "ab"),
			seg(true, 4, 0, "cd"),
			seg(true, 2, 0, "abcd"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab" s2c="" capture ended`}},
		{"RST with a hole", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 6, 0, "ef"),
			seg(false, 77, rst, "diagnostic"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<gap 2>ef" s2c="" reset`}},
		{"simultaneous open", Config{}, []segment.Segment{
			seg(true, 100, syn, ""),
			seg(false, 900, syn, ""),
			seg(true, 100, syn, "", 901),
			seg(false, 900, syn, "", 101),
			seg(true, 101, 0, "a", 901),
			seg(false, 901, 0, "b", 102),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="a" s2c="b" capture ended`}},
		{"keepalive probes", Config{ConflictWindow: 16}, insert(conversation(), 7,
			seg(true, isnC+11, 0, "", isnS+9),
			seg(true, isnC+11, 0, "\x00", isnS+9),
			seg(false, isnS+8, 0, "?", isnC+12)),
			[]string{clean}},
		{"zero-window probe", Config{ConflictWindow: 16}, insert(drop(conversation(), 5), 5,
			seg(true, isnC+7, 0, "w", isnS+5),
			seg(true, isnC+7, 0, "world", isnS+5)),
			[]string{clean}},
		{"first segment seen is the SYN-ACK", Config{}, drop(drop(conversation(), 0), 2),
			[]string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="<gap 6>world" s2c="wrapped!" closed`}},
		{"kernel lost records", Config{}, []segment.Segment{
			seg(true, 1, syn, ""),
			seg(true, 2, 0, "ab"),
			seg(true, 6, 0, "ef"), // waits for "cd"
			seg(false, 99, syn, "", 2),
			lost(1, seg(false, 100, 0, "x", 2)), // the capture lost records: "cd" is gone
			lost(1, seg(true, 8, 0, "gh")),
			lost(1, seg(true, 12, 0, "kl")), // a hole after the loss waits
			lost(1, seg(true, 10, 0, "ij")),
			lost(1, seg(true, 16, 0, "op")),
			lost(2, seg(false, 103, 0, "z", 8)), // the capture lost records: "mn" is gone
			lost(2, seg(true, 14, 0, "mn")),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<gap 2>efghijkl<gap 2>op" s2c="x<gap 2>z" capture ended`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := runSegs(t, tt.cfg, tt.segs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestStats(t *testing.T) {
	s := conversation()
	s = append(s[:6:6], append([]segment.Segment{s[3], seg(true, isnC+1, 0, "hellO ", isnS+1), seg(true, isnC+13, 0, "x")}, s[6:]...)...)
	s[3], s[5] = s[5], s[3]
	_, got := runSegs(t, Config{ConflictWindow: 8}, s)
	// "x" comes before the FIN, at its sequence number: held, then dropped.
	want := Stats{Segments: 13, Bytes: 19, OutOfOrder: 2, Retransmits: 2, Conflicts: 1, Flows: 1, PeakBuffered: 5, Ignored: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestStatsSkipped checks that bytes not captured count as skipped, apart
// from the bytes lost, in order and held out of order alike.
func TestStatsSkipped(t *testing.T) {
	log, got := runSegs(t, Config{}, []segment.Segment{
		seg(true, 1, segment.SYN, ""),
		cut(10, seg(true, 2, 0, "abc")),           // 7 skipped, in order
		cut(5, seg(true, 16, 0, "pq")),            // 3 skipped once reached; 12-15 a hole
		seg(false, 500, 0, "x", 21),               // acknowledges the hole: 4 lost
		cut(100, seg(true, 21, segment.FIN, "u")), // 99 skipped before the FIN
	})
	want := []string{`127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="abc<skip 7><gap 4>pq<skip 3>u<skip 99>" s2c="x" capture ended`}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if got.SkippedBytes != 7+3+99 || got.Gaps != 1 || got.LostBytes != 4 || got.Bytes != 3+2+1+1 || got.OutOfOrder != 1 {
		t.Errorf("stats %+v", got)
	}
}

// TestShuffled feeds the data segments of a conversation in random orders:
// within the buffer bound the result never changes.
func TestShuffled(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		s := conversation()
		s = append(s[:3:3], causalOrder(s[3:], shuffleWindow(r, len(s)-3, len(s)))...)
		got, st := runSegs(t, Config{}, s)
		if diff := cmp.Diff([]string{clean}, got); diff != "" {
			t.Fatalf("order %d (-want +got)\n%s", i, diff)
		}
		if st.Gaps != 0 || st.Bytes != uint64(len("hello worldwrapped!")) {
			t.Fatalf("stats %+v", st)
		}
	}
}
