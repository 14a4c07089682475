package flows

// The lifecycle of connections: expiry, closes remembered, lost
// segments, the buffer and connection limits.

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
)

func TestExpire(t *testing.T) {
	var log []string
	a := New(Config{IdleTimeout: time.Second, CloseTimeout: 100 * time.Millisecond},
		func(c *Conn) Consumer { return &recorder{log: &log, conn: c} })
	add := func(s segment.Segment) { a.Add(&s) }
	add(at(1, seg(true, 1, segment.SYN, "")))
	add(at(1, seg(false, 1, segment.SYN, "", 2)))
	a.Expire(time.Unix(1, 0).Add(500 * time.Millisecond))
	if len(log) != 0 {
		t.Fatalf("expired too early: %v", log)
	}
	a.Expire(time.Unix(3, 0))
	if len(log) != 1 || !strings.HasSuffix(log[0], " idle") || a.Stats().ActiveFlows != 0 {
		t.Fatalf("not expired: %v", log)
	}

	// Both FINs seen, a hole before one: the close timeout applies.
	log = nil
	for _, s := range []segment.Segment{
		seg(true, 1, segment.SYN, ""),
		seg(true, 2, 0, "ab"),
		seg(true, 6, segment.FIN, "ef"),
		seg(false, 1, segment.FIN|segment.SYN, "", 2),
	} {
		add(at(10, s))
	}
	a.Expire(time.Unix(10, 50e6))
	if len(log) != 0 {
		t.Fatalf("expired too early: %v", log)
	}
	a.Expire(time.Unix(10, 200e6))
	want := []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<gap 2>ef" s2c="" closed`}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestCloseRemembered checks that a closed connection ignores its tail for
// the close timeout, then is forgotten.
func TestCloseRemembered(t *testing.T) {
	var log []string
	a := New(Config{CloseTimeout: time.Second}, func(c *Conn) Consumer { return &recorder{log: &log, conn: c} })
	for _, s := range conversation() {
		a.Add(&s)
	}
	late := seg(true, isnC+7, 0, "world", isnS+5)
	a.Add(&late)
	if st := a.Stats(); st.Ignored != 2 || st.ActiveFlows != 0 || len(a.conns) != 1 {
		t.Fatalf("stats %+v, %d conns", st, len(a.conns))
	}
	a.Expire(time.Unix(3, 0))
	if len(a.conns) != 0 {
		t.Fatalf("closed connection not forgotten")
	}
	a.Add(&late) // now taken for a connection picked up mid-stream
	a.Flush(time.Unix(4, 0))
	want := []string{clean, `127.0.0.1:40000>127.0.0.1:7001 mid=true c2s="world" s2c="" capture ended`}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestLostSegments(t *testing.T) {
	var log []string
	a := New(Config{}, func(c *Conn) Consumer { return &recorder{log: &log, conn: c} })
	for _, s := range []segment.Segment{
		seg(true, 1, segment.SYN, ""),
		seg(true, 2, 0, "ab"),
		seg(true, 6, 0, "ef"),
		seg(true, 10, 0, "ij"),
	} {
		a.Add(&s)
	}
	a.LostSegments(time.Unix(1, 0))
	s := seg(true, 8, 0, "gh") // too late
	a.Add(&s)
	a.Flush(time.Unix(2, 0))
	want := []string{`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="ab<gap 2>ef<gap 2>ij" s2c="" capture ended`}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// TestBufferedTotal checks that the total bound declares the holes of the
// connection that started buffering first lost.
func TestBufferedTotal(t *testing.T) {
	var log []string
	a := New(Config{MaxBufferedTotal: 5}, func(c *Conn) Consumer { return &recorder{log: &log, conn: c} })
	other := netip.MustParseAddrPort("127.0.0.1:40001")
	add := func(s segment.Segment, second bool) {
		if second {
			s.Src = other
		}
		a.Add(&s)
	}
	add(seg(true, 1, segment.SYN, ""), false)
	add(seg(true, 1, segment.SYN, ""), true)
	add(seg(true, 4, 0, "cde"), false) // waits for 2
	add(seg(true, 4, 0, "CD"), true)   // waits for 2
	if st := a.Stats(); st.Buffered != 5 || st.Gaps != 0 {
		t.Fatalf("stats %+v", st)
	}
	add(seg(true, 6, 0, "F"), true) // 6 bytes held: the first connection gives way
	if st := a.Stats(); st.Buffered != 3 || st.Gaps != 1 || st.PeakBuffered != 6 {
		t.Fatalf("stats %+v", st)
	}
	add(seg(true, 2, 0, "AB"), true)
	a.Flush(time.Unix(2, 0))
	want := []string{
		`127.0.0.1:40000>127.0.0.1:7001 mid=false c2s="<gap 2>cde" s2c="" capture ended`,
		`127.0.0.1:40001>127.0.0.1:7001 mid=false c2s="ABCDF" s2c="" capture ended`,
	}
	if diff := cmp.Diff(want, log); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

func TestKeyIPv6(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.0.1:1")
	mapped := netip.MustParseAddrPort("[::ffff:10.0.0.1]:1")
	peer := netip.MustParseAddrPort("10.0.0.2:2")
	peer6 := netip.MustParseAddrPort("[::ffff:10.0.0.2]:2")
	if makeKey(v4, peer) == makeKey(mapped, peer6) {
		t.Error("IPv4 and IPv4-mapped IPv6 share a key")
	}
	if makeKey(v4, peer) != makeKey(peer, v4) {
		t.Error("key depends on the direction")
	}
	a6 := netip.MustParseAddrPort("[2001:db8::1]:5555")
	b6 := netip.MustParseAddrPort("[2001:db8::2]:17001")
	if makeKey(a6, b6) != makeKey(b6, a6) || makeKey(a6, b6) == makeKey(a6, netip.AddrPortFrom(b6.Addr(), 17002)) {
		t.Error("IPv6 keys")
	}
}

// shuffleWindow returns a permutation of n indexes where each moves by less
// than w places.
func shuffleWindow(r *rand.Rand, n, w int) []int {
	keys := make([]float64, n)
	idx := make([]int, n)
	for i := range keys {
		keys[i] = float64(i) + r.Float64()*float64(w)
		idx[i] = i
	}
	for i := 1; i < n; i++ { // insertion sort by key
		for j := i; j > 0 && keys[idx[j]] < keys[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}

// causalOrder reorders segs as perm says, as far as a capture point can see
// them: never a segment acknowledging bytes (or a FIN) before the segment
// that carried them, if that one came first in segs. It returns a new slice.
// (Callers keep the handshake in place: data follows it, though no
// acknowledgment number says so.)
func causalOrder(segs []segment.Segment, perm []int) []segment.Segment {
	n := len(segs)
	// after[j] lists the segments that must come before j.
	before := make([][]int, n)
	for j, s := range segs {
		if !s.Has(segment.ACK) {
			continue
		}
		for i := 0; i < j; i++ {
			t := segs[i]
			if t.Src != s.Dst || t.Dst != s.Src {
				continue
			}
			l := uint32(t.PayloadLen)
			if t.Has(segment.SYN) {
				l++
			}
			if t.Has(segment.FIN) {
				l++
			}
			if l > 0 && !seqLess(s.Ack, t.Seq+l) {
				before[j] = append(before[j], i)
			}
		}
	}
	out := make([]segment.Segment, 0, n)
	done := make([]bool, n)
	for len(out) < n {
		for _, j := range perm {
			if done[j] {
				continue
			}
			ready := true
			for _, i := range before[j] {
				ready = ready && done[i]
			}
			if ready {
				done[j] = true
				out = append(out, segs[j])
				break
			}
		}
	}
	return out
}

// TestMaxFlows opens more connections than MaxFlows: the table never
// grows past the bound, the least recently active connections are the ones
// evicted, and the evicted are closed with reason Evicted.
func TestMaxFlows(t *testing.T) {
	var closed []segment.CloseReason
	a := New(Config{MaxFlows: 4}, func(c *Conn) Consumer {
		return closeRecorder{reasons: &closed}
	})
	base := time.Unix(100, 0)
	for i := 0; i < 20; i++ {
		s := segment.Segment{
			Src:   netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+i)),
			Dst:   netip.MustParseAddrPort("10.0.0.2:7001"),
			Flags: segment.SYN, Seq: 1, Time: base.Add(time.Duration(i) * time.Second),
		}
		a.Add(&s)
		if len(a.conns) > 4 {
			t.Fatalf("after %d connections the table holds %d, bound 4", i+1, len(a.conns))
		}
	}
	st := a.Stats()
	if st.Evicted != 16 || len(closed) != 16 {
		t.Fatalf("evicted %d, closed %d, want 16 each", st.Evicted, len(closed))
	}
	for _, r := range closed {
		if r != segment.Evicted {
			t.Fatalf("close reason %v, want Evicted", r)
		}
	}
	// With at most 4 in the table, the sample is the whole table: the
	// survivors are the 4 newest.
	for k, c := range a.conns {
		if p := c.info.Client.Port(); p < 40016 {
			t.Errorf("connection from port %d survived (%v), newer ones were evicted", p, k)
		}
	}
}

// closeRecorder records close reasons only.
type closeRecorder struct{ reasons *[]segment.CloseReason }

func (closeRecorder) Data(segment.Dir, []byte, *segment.Segment) {}
func (closeRecorder) Gap(segment.Dir, uint64, *segment.Segment)  {}
func (closeRecorder) Skip(segment.Dir, uint64, *segment.Segment) {}
func (closeRecorder) Stall(segment.Dir, bool, *segment.Segment)  {}
func (r closeRecorder) Close(cr segment.CloseReason, _ *segment.Segment) {
	*r.reasons = append(*r.reasons, cr)
}
