package flows

import (
	"fmt"
	"math/rand"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/capture"
)

// recorder is a Consumer that writes what it receives as text.
type recorder struct {
	log  *[]string
	conn *Conn
	data [2]strings.Builder
}

func (r *recorder) Data(d Dir, p []byte, _ *capture.Segment) { r.data[d].Write(p) }
func (r *recorder) Gap(d Dir, n uint64, _ *capture.Segment) {
	fmt.Fprintf(&r.data[d], "<gap %d>", n)
}
func (r *recorder) Close(reason CloseReason, _ *capture.Segment) {
	*r.log = append(*r.log, fmt.Sprintf("%v>%v mid=%v c2s=%q s2c=%q %v",
		r.conn.Client, r.conn.Server, r.conn.MidStream, r.data[0].String(), r.data[1].String(), reason))
}

var (
	cli = netip.MustParseAddrPort("127.0.0.1:40000")
	srv = netip.MustParseAddrPort("127.0.0.1:7001")
)

// seg builds a segment; from the client when c2s.
func seg(c2s bool, seq uint32, flags uint8, payload string) capture.Segment {
	s := capture.Segment{Src: cli, Dst: srv, Seq: seq, Flags: flags, Payload: []byte(payload), PayloadLen: len(payload), Time: time.Unix(1, 0)}
	if !c2s {
		s.Src, s.Dst = srv, cli
	}
	return s
}

func run(t *testing.T, cfg Config, segs []capture.Segment) ([]string, Stats) {
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
func conversation() []capture.Segment {
	return []capture.Segment{
		seg(true, isnC, capture.SYN, ""),
		seg(false, isnS, capture.SYN|capture.ACK, ""),
		seg(true, isnC+1, capture.ACK, ""),
		seg(true, isnC+1, capture.ACK|capture.PSH, "hello "),
		seg(false, isnS+1, capture.ACK|capture.PSH, "wrap"),
		seg(true, isnC+7, capture.ACK|capture.PSH, "world"),
		seg(false, isnS+5, capture.ACK|capture.PSH, "ped!"),
		seg(true, isnC+12, capture.ACK|capture.FIN, ""),
		seg(false, isnS+9, capture.ACK|capture.FIN, ""),
	}
}

func TestAssembler(t *testing.T) {
	clean := []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="hello world" s2c="wrapped!" closed`}
	swap := func(s []capture.Segment, i, j int) []capture.Segment { s[i], s[j] = s[j], s[i]; return s }
	tests := []struct {
		name string
		cfg  Config
		segs []capture.Segment
		want []string
	}{
		{"in order", Config{}, conversation(), clean},
		{"reordered", Config{}, swap(conversation(), 3, 5), clean},
		{"duplicated", Config{}, func() []capture.Segment {
			s := conversation()
			return append(s[:6:6], append([]capture.Segment{s[3], s[5]}, s[6:]...)...)
		}(), clean},
		{"overlapping retransmission", Config{}, func() []capture.Segment {
			s := conversation()
			extra := seg(true, isnC+4, capture.ACK, "lo world")
			return append(s[:6:6], append([]capture.Segment{extra}, s[6:]...)...)
		}(), clean},
		{"lost segment, closed", Config{}, append(conversation()[:3], conversation()[5:]...),
			[]string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="<gap 6>world" s2c="<gap 4>ped!" closed`}},
		{"hole over the buffer bound", Config{MaxBufferedPerDir: 4}, []capture.Segment{
			seg(true, 1, capture.SYN, ""),
			seg(true, 2, capture.ACK, "ab"),
			seg(true, 6, capture.ACK, "ef"),
			seg(true, 8, capture.ACK, "gh"),
			seg(true, 10, capture.ACK, "ij"),
			seg(true, 4, capture.ACK, "cd"), // too late: already declared lost
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<gap 2>efghij" s2c="" capture ended`}},
		{"mid-stream", Config{}, []capture.Segment{
			seg(false, 500, capture.ACK, "xyz"),
			seg(true, 77, capture.ACK, "abc"),
			seg(false, 503, capture.RST, ""),
		}, []string{`127.0.0.1:7001>127.0.0.1:40000 mid=true c2s="xyz" s2c="abc" reset`}},
		{"cut payload", Config{}, []capture.Segment{
			seg(true, 1, capture.SYN, ""),
			func() capture.Segment { s := seg(true, 2, capture.ACK, "abc"); s.PayloadLen = 10; return s }(),
			seg(true, 12, capture.ACK, "z"),
		}, []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="abc<gap 7>z" s2c="" capture ended`}},
		{"tail of an unknown connection", Config{}, []capture.Segment{seg(true, 5, capture.FIN|capture.ACK, "")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := run(t, tt.cfg, tt.segs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestShuffled feeds the data segments of a conversation in random orders:
// within the buffer bound the result never changes.
func TestShuffled(t *testing.T) {
	want, _ := run(t, Config{}, conversation())
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		s := conversation()
		data := s[3:7]
		r.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
		got, st := run(t, Config{}, s)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("order %d (-want +got)\n%s", i, diff)
		}
		if st.Gaps != 0 || st.Bytes != uint64(len("hello worldwrapped!")) {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestExpire(t *testing.T) {
	var log []string
	a := New(Config{IdleTimeout: time.Second}, func(c *Conn) Consumer { return &recorder{log: &log, conn: c} })
	s := seg(true, 1, capture.SYN, "")
	a.Add(&s)
	a.Expire(time.Unix(1, 0).Add(500 * time.Millisecond))
	if len(log) != 0 {
		t.Fatalf("expired too early: %v", log)
	}
	a.Expire(time.Unix(3, 0))
	if len(log) != 1 || !strings.HasSuffix(log[0], " idle") || a.Stats().ActiveFlows != 0 {
		t.Fatalf("not expired: %v", log)
	}
}
