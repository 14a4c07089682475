package flows

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// discard is a Consumer that keeps nothing.
type discard struct{}

func (discard) Data(segment.Dir, []byte, *segment.Segment)  {}
func (discard) Gap(segment.Dir, uint64, *segment.Segment)   {}
func (discard) Skip(segment.Dir, uint64, *segment.Segment)  {}
func (discard) Stall(segment.Dir, bool, *segment.Segment)   {}
func (discard) Close(segment.CloseReason, *segment.Segment) {}

func discardAll(*Conn) Consumer { return discard{} }

// workload returns flows connections, each a handshake then segs client
// segments of size bytes, the connections interleaved. When window > 1 each
// connection's data segments are shuffled within it.
func workload(flows, segs, size, window int) []segment.Segment {
	r := rand.New(rand.NewPCG(1, 2))
	payload := make([]byte, size)
	server := netip.MustParseAddrPort("10.0.0.1:17001")
	per := make([][]segment.Segment, flows)
	for f := range per {
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(f >> 8), byte(f)}), uint16(30000+f%1000))
		isnC, isnS := r.Uint32(), r.Uint32()
		t := time.Unix(1000, 0)
		s := []segment.Segment{
			{Time: t, Src: client, Dst: server, Seq: isnC, Flags: segment.SYN, Window: 64240, WScale: 7},
			{Time: t, Src: server, Dst: client, Seq: isnS, Ack: isnC + 1, Flags: segment.SYN | segment.ACK, Window: 65160, WScale: 7},
		}
		for i := range segs {
			s = append(s, segment.Segment{Time: t, Src: client, Dst: server, Seq: isnC + 1 + uint32(i*size), Ack: isnS + 1,
				Flags: segment.ACK | segment.PSH, Window: 502, WScale: -1, Payload: payload, PayloadLen: size})
		}
		if window > 1 {
			data := s[2:]
			perm := shuffleWindow(r, len(data), window)
			shuffled := make([]segment.Segment, len(data))
			for i, j := range perm {
				shuffled[i] = data[j]
			}
			copy(data, shuffled)
		}
		per[f] = s
	}
	var out []segment.Segment
	for i := range segs + 2 {
		for f := range per {
			out = append(out, per[f][i])
		}
	}
	return out
}

func benchAssembler(b *testing.B, window int) {
	segs := workload(1000, 64, 1000, window)
	b.SetBytes(int64(64 * 1000 * 1000))
	b.ReportAllocs()
	for b.Loop() {
		a := New(Config{}, discardAll)
		for i := range segs {
			a.Add(&segs[i])
		}
		a.Flush(time.Unix(2000, 0))
	}
	b.ReportMetric(float64(len(segs)*b.N)/b.Elapsed().Seconds(), "segs/s")
}

// BenchmarkInOrder: 1,000 connections of 64 segments of 1,000 bytes, in
// order, interleaved.
func BenchmarkInOrder(b *testing.B) { benchAssembler(b, 1) }

// BenchmarkShuffled: the same, each connection's segments shuffled within
// a window of 8.
func BenchmarkShuffled(b *testing.B) { benchAssembler(b, 8) }

// BenchmarkSharded: the in-order workload through Sharded, one shard per
// CPU, the payloads copied in batches.
func BenchmarkSharded(b *testing.B) {
	segs := workload(1000, 64, 1000, 1)
	b.SetBytes(int64(64 * 1000 * 1000))
	b.ReportAllocs()
	for b.Loop() {
		s := NewSharded(Config{}, ShardConfig{}, discardAll)
		for i := range segs {
			s.Add(&segs[i])
		}
		s.Flush(time.Unix(2000, 0))
		s.Close()
	}
	b.ReportMetric(float64(len(segs)*b.N)/b.Elapsed().Seconds(), "segs/s")
}

// BenchmarkIdleFlowMemory measures the heap an established, idle connection
// costs the Assembler (its Consumer aside): 100,000 connections, each with
// a handshake and a segment each way.
func BenchmarkIdleFlowMemory(b *testing.B) {
	const n = 100_000
	for _, window := range []int{0, 256} {
		b.Run(map[int]string{0: "default", 256: "ConflictWindow=256"}[window], func(b *testing.B) {
			segs := workload(n, 1, 100, 1)
			// A reply from each server, after its SYN-ACK.
			for i := range n {
				s := segs[n+i]
				s.Seq++
				s.Flags = segment.ACK | segment.PSH
				s.Payload, s.PayloadLen = make([]byte, 100), 100
				segs = append(segs, s)
			}
			var perFlow float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				a := New(Config{ConflictWindow: window}, discardAll)
				for i := range segs {
					a.Add(&segs[i])
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if a.Stats().ActiveFlows != n {
					b.Fatalf("%d flows", a.Stats().ActiveFlows)
				}
				perFlow = float64(after.HeapAlloc-before.HeapAlloc) / n
				runtime.KeepAlive(a)
			}
			b.ReportMetric(perFlow, "bytes/flow")
		})
	}
}
