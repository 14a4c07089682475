package flows

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// manyConns returns n copies of segs, each from its own client port, the
// copies interleaved segment by segment.
func manyConns(segs []segment.Segment, n int) []segment.Segment {
	var out []segment.Segment
	client := segs[0].Src
	for i := range segs {
		for c := range n {
			s := segs[i]
			port := netip.AddrPortFrom(client.Addr(), uint16(20000+c))
			if s.Src == client {
				s.Src = port
			} else {
				s.Dst = port
			}
			out = append(out, s)
		}
	}
	return out
}

// TestSharded checks that connections spread over shards get the streams a
// single Assembler gives, their Consumers each called from one goroutine.
func TestSharded(t *testing.T) {
	orig := readCapture(t, "push_pull_large.pcap")
	want := assemble(t, Config{}, slices.Clone(orig))
	segs := manyConns(orig, 50)
	for _, sc := range []ShardConfig{{}, {Shards: 3, BatchSegments: 7, BatchBytes: 9000, Queue: 1}} {
		t.Run(fmt.Sprint(sc), func(t *testing.T) {
			var mu sync.Mutex
			var all []*streams
			s := NewSharded(Config{}, sc, func(c *Conn) Consumer {
				st := &streams{conn: c}
				mu.Lock()
				all = append(all, st)
				mu.Unlock()
				return st
			})
			defer s.Close()
			buf := make([]byte, 0, 1<<17)
			for i := range segs {
				seg := segs[i]
				buf = append(buf[:0], seg.Payload...)
				seg.Payload = buf // reused: Add must copy
				s.Add(&seg)
				clear(buf)
			}
			st := s.Stats()
			if st.Segments != uint64(len(segs)) || st.Flows != 50 || st.ActiveFlows != 0 || st.Gaps != 0 {
				t.Fatalf("stats %+v", st)
			}
			s.Flush(time.Now())
			if len(all) != 50 {
				t.Fatalf("%d connections", len(all))
			}
			for _, got := range all {
				for d := range 2 {
					if !bytes.Equal(got.data[d], want.data[d]) || len(got.gaps[d]) != 0 || got.reason != segment.Finished || got.closes != 1 {
						t.Fatalf("%v %v: %d bytes, gaps %v, %v", got.conn.Client, segment.Dir(d), len(got.data[d]), got.gaps[d], got.reason)
					}
				}
			}
		})
	}
}

// TestShardedLost checks that a growing kernel lost count reaches every
// shard, including those that get no segment after it.
func TestShardedLost(t *testing.T) {
	var mu sync.Mutex
	var log []string
	s := NewSharded(Config{}, ShardConfig{Shards: 4}, func(c *Conn) Consumer {
		return &lockedRecorder{mu: &mu, r: recorder{log: &log, conn: c}}
	})
	defer s.Close()
	other := netip.MustParseAddrPort("10.9.9.9:1")
	for _, sg := range []segment.Segment{
		seg(true, 1, segment.SYN, ""),
		seg(true, 2, 0, "ab"),
		seg(true, 6, 0, "ef"),
		lost(1, segment.Segment{Src: other, Dst: srv, Seq: 5, Flags: segment.SYN}),
	} {
		s.Add(&sg)
	}
	if st := s.Stats(); st.Gaps != 1 || st.LostBytes != 2 || st.Flows != 2 {
		t.Fatalf("stats %+v", st)
	}
	s.Flush(time.Unix(5, 0))
	mu.Lock()
	defer mu.Unlock()
	want := `127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<gap 2>ef" s2c="" capture ended`
	if !slices.Contains(log, want) {
		t.Fatalf("got %q", log)
	}
}

// TestShardedSkipped checks that the shards' skipped bytes add up.
func TestShardedSkipped(t *testing.T) {
	s := NewSharded(Config{}, ShardConfig{Shards: 4}, discardAll)
	defer s.Close()
	for c := range 20 {
		src := netip.AddrPortFrom(cli.Addr(), uint16(30000+c))
		for _, sg := range []segment.Segment{
			seg(true, 1, segment.SYN, ""),
			cut(10, seg(true, 2, 0, "ab")),
			cut(4, seg(true, 16, 0, "q")), // held behind a hole: skipped at the flush
		} {
			sg.Src = src
			s.Add(&sg)
		}
	}
	s.Flush(time.Unix(5, 0))
	if st := s.Stats(); st.SkippedBytes != 20*(8+3) || st.LostBytes != 20*4 || st.Gaps != 20 || st.Bytes != 20*3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStatsAdd checks that Stats.add sums every counter.
func TestStatsAdd(t *testing.T) {
	var one, sum Stats
	v := reflect.ValueOf(&one).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Uint64:
			f.SetUint(uint64(i + 1))
		case reflect.Int:
			f.SetInt(int64(i + 1))
		default:
			t.Fatalf("field %s: kind %v", v.Type().Field(i).Name, f.Kind())
		}
	}
	sum.add(one)
	sum.add(one)
	w := reflect.ValueOf(sum)
	for i := range w.NumField() {
		if got := fmt.Sprint(w.Field(i)); got != fmt.Sprint(2*(i+1)) {
			t.Errorf("%s: %s, want %d", w.Type().Field(i).Name, got, 2*(i+1))
		}
	}
}

type lockedRecorder struct {
	mu *sync.Mutex
	r  recorder
}

func (l *lockedRecorder) Data(d segment.Dir, p []byte, s *segment.Segment) { l.r.Data(d, p, s) }
func (l *lockedRecorder) Gap(d segment.Dir, n uint64, s *segment.Segment)  { l.r.Gap(d, n, s) }
func (l *lockedRecorder) Skip(d segment.Dir, n uint64, s *segment.Segment) { l.r.Skip(d, n, s) }
func (l *lockedRecorder) Stall(d segment.Dir, st bool, s *segment.Segment) {
	l.r.Stall(d, st, s)
}
func (l *lockedRecorder) Close(r segment.CloseReason, s *segment.Segment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.r.Close(r, s)
}
