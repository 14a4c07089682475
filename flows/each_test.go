package flows

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestEach: Each visits every open connection once, after the segments
// added so far, on the goroutine that owns it, and not those closed; for an
// Assembler and for shards alike.
func TestEach(t *testing.T) {
	orig := readCapture(t, "push_pull_large.pcap")
	segs := manyConns(orig, 20)
	open := segs[:len(segs)-20*4] // before the FINs of the last connections
	for _, shards := range []int{0, 3} {
		t.Run(fmt.Sprint("shards=", shards), func(t *testing.T) {
			var r Reassembler
			factory := func(c *Conn) Consumer { return &streams{conn: c} }
			if shards == 0 {
				r = New(Config{}, factory)
			} else {
				r = NewSharded(Config{}, ShardConfig{Shards: shards, BatchSegments: 5}, factory)
			}
			defer r.Close()
			for i := range open {
				r.Add(&open[i])
			}
			var mu sync.Mutex
			seen := map[*streams]int{}
			bytes := 0
			r.Each(func(c Consumer) {
				st := c.(*streams)
				mu.Lock()
				defer mu.Unlock()
				seen[st]++
				bytes += len(st.data[0]) // the owner's data: race-free under -race
			})
			if len(seen) != 20 {
				t.Errorf("%d connections visited, want 20", len(seen))
			}
			for st, n := range seen {
				if n != 1 || st.closes != 0 {
					t.Errorf("%v visited %d times, closed %d", st.conn.Client, n, st.closes)
				}
			}
			if bytes == 0 {
				t.Error("visited before the segments were handled")
			}
			r.Flush(time.Now())
			n := 0
			r.Each(func(Consumer) { n++ })
			if n != 0 {
				t.Errorf("%d closed connections visited", n)
			}
		})
	}
}
