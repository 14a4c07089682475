package session

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/loader"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/unixcap"
)

// fakeRing is a TCP ring holding recs; Next waits for a record, its
// deadline or a Wake, as loader.Capture's does.
type fakeRing struct {
	mu       sync.Mutex
	recs     []segment.Segment
	deadline time.Time
	woken    chan struct{}
}

func newFakeRing(n int) *fakeRing {
	r := &fakeRing{woken: make(chan struct{}, 1)}
	for range n {
		r.recs = append(r.recs, segment.Segment{Ifindex: 7})
	}
	return r
}

func (r *fakeRing) Next(seg *segment.Segment) error {
	for {
		r.mu.Lock()
		if len(r.recs) > 0 {
			*seg = r.recs[0]
			r.recs = r.recs[1:]
			r.mu.Unlock()
			return nil
		}
		d := r.deadline
		r.mu.Unlock()
		if !d.IsZero() && !time.Now().Before(d) {
			return os.ErrDeadlineExceeded
		}
		select {
		case <-r.woken:
			return os.ErrDeadlineExceeded
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (r *fakeRing) SetDeadline(t time.Time) { r.mu.Lock(); r.deadline = t; r.mu.Unlock() }

func (r *fakeRing) Wake() {
	select {
	case r.woken <- struct{}{}:
	default:
	}
}

func (r *fakeRing) Stats() (loader.Stats, error)                       { return loader.Stats{}, nil }
func (r *fakeRing) CheckInterfaces() ([]loader.InterfaceChange, error) { return nil, nil }

// gatedIPC is an ipc capture whose records come after a delay (after),
// endlessly (endless), one per every at most (every), or only once ctx is
// done (late).
type gatedIPC struct {
	mu      sync.Mutex
	n       int // records left to give
	after   time.Time
	endless bool
	every   time.Duration
	late    context.Context
	woken   atomic.Bool
}

func (g *gatedIPC) Read(seg *segment.Segment, deadline time.Time) error {
	g.mu.Lock()
	ready := (g.n > 0 || g.endless) && time.Now().After(g.after) && (g.late == nil || g.late.Err() != nil)
	if ready {
		g.n--
		g.after = time.Now().Add(g.every)
		g.mu.Unlock()
		*seg = segment.Segment{Ifindex: IPCIfindex, Payload: []byte("x")}
		return nil
	}
	g.mu.Unlock()
	time.Sleep(min(time.Until(deadline), 2*time.Millisecond))
	if time.Now().Before(deadline) && !g.woken.Swap(false) {
		return g.Read(seg, deadline)
	}
	return os.ErrDeadlineExceeded
}

func (g *gatedIPC) Stats() unixcap.Stats { return unixcap.Stats{} }

func (g *gatedIPC) Sweep() {}

func (g *gatedIPC) Wake() { g.woken.Store(true) }

// nextWithin runs src.next on its own goroutine and returns what it
// returned, failing the test if that took longer than d.
func nextWithin(t *testing.T, src *liveSource, d time.Duration) (segment.Segment, error) {
	t.Helper()
	type res struct {
		seg segment.Segment
		err error
	}
	ch := make(chan res, 1)
	go func() {
		var seg segment.Segment
		err := src.next(&seg)
		ch <- res{seg, err}
	}()
	select {
	case r := <-ch:
		return r.seg, r.err
	case <-time.After(d):
		t.Fatalf("next did not return within %v", d)
		return segment.Segment{}, nil
	}
}

// TestLiveIPCWakesTCPRead: an ipc segment that comes while the loop waits
// on an idle TCP ring is handed over at once (the feed wakes the read),
// not at the TCP read's deadline a minute later.
func TestLiveIPCWakesTCPRead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ring := newFakeRing(0)
	feed := newIPCFeed(ctx, &gatedIPC{n: 1, after: time.Now().Add(50 * time.Millisecond)}, nil)
	feed.wake = ring.Wake
	feed.start()
	defer feed.stop()
	src := &liveSource{p: &Pipeline{}, c: ring, ipc: feed, stderr: io.Discard, nextHousekeeping: time.Now().Add(time.Minute), rearm: true}
	seg, err := nextWithin(t, src, 10*time.Second)
	if err != nil || seg.Ifindex != IPCIfindex {
		t.Fatalf("next: %v, segment of interface %d; want the ipc segment", err, seg.Ifindex)
	}
}

// TestLiveNoStarving: while ipc segments keep coming (batches the feed
// handed over, waiting), the TCP ring's records still get their turn:
// one after each batch at most.
func TestLiveNoStarving(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ring := newFakeRing(10)
	feed := newIPCFeed(ctx, &gatedIPC{}, nil) // not started: the batches are ours
	for range ipcBatches {
		b := <-feed.free
		for b.n = 0; b.n < ipcBatchLen; b.n++ {
			b.segs[b.n] = segment.Segment{Ifindex: IPCIfindex}
		}
		feed.ready <- b
	}
	src := &liveSource{p: &Pipeline{}, c: ring, ipc: feed, stderr: io.Discard, nextHousekeeping: time.Now().Add(time.Minute), rearm: true}
	var order []bool // true: TCP
	for range ipcBatches*ipcBatchLen + 10 {
		seg, err := nextWithin(t, src, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, seg.Ifindex == 7)
	}
	for i := 0; i < ipcBatches; i++ {
		if at := i*(ipcBatchLen+1) + ipcBatchLen; !order[at] {
			t.Errorf("segment %d is ipc, want a TCP record after each batch of %d ipc segments", at, ipcBatchLen)
		}
	}
}

// TestLiveScrapeWakesIPCAlone: with --ipc alone, a scrape waiting for the
// loop wakes its wait, and the loop answers it at once (errIdle).
func TestLiveScrapeWakesIPCAlone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := newIPCFeed(ctx, &gatedIPC{}, nil)
	feed.start()
	defer feed.stop()
	met := &pipeMetrics{req: make(chan chan struct{}, 1)}
	src := &liveSource{p: &Pipeline{met: met}, ipc: feed, stderr: io.Discard, nextHousekeeping: time.Now().Add(time.Minute), rearm: true}
	go func() {
		time.Sleep(50 * time.Millisecond)
		met.req <- make(chan struct{})
		feed.wakeLoop()
	}()
	if _, err := nextWithin(t, src, 10*time.Second); !errors.Is(err, errIdle) {
		t.Fatalf("next: %v, want errIdle for the scrape", err)
	}
}

// TestLiveDrainAtInterrupt: records still in the ipc ring when the
// capture is interrupted are decoded before the end, not dropped.
func TestLiveDrainAtInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	const n = 100 // more than the feed's batches hold
	feed := newIPCFeed(ctx, &gatedIPC{n: n, late: ctx}, nil)
	feed.start()
	defer feed.stop()
	src := &liveSource{p: &Pipeline{}, ipc: feed, stderr: io.Discard, nextHousekeeping: time.Now().Add(time.Minute), rearm: true}
	cancel()
	got := 0
	for {
		_, err := nextWithin(t, src, 10*time.Second)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got++
	}
	if got != n {
		t.Errorf("%d segments before the end, want the %d the ring held", got, n)
	}
}

// TestLiveStopsUnderTraffic: an interrupted capture ends while records
// keep coming: a trickle (one each 20 ms: the feed must see that it is to
// stop although a record comes before every wait ends) and a sender
// faster than the drain (bounded by ipcDrainMax).
func TestLiveStopsUnderTraffic(t *testing.T) {
	for _, every := range []time.Duration{20 * time.Millisecond, 0} {
		t.Run(every.String(), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			feed := newIPCFeed(ctx, &gatedIPC{endless: true, every: every}, nil)
			feed.start()
			defer feed.stop()
			src := &liveSource{p: &Pipeline{}, ipc: feed, stderr: io.Discard, nextHousekeeping: time.Now().Add(time.Minute), rearm: true}
			for range 3 {
				if _, err := nextWithin(t, src, 10*time.Second); err != nil && !errors.Is(err, errIdle) {
					t.Fatal(err)
				}
			}
			cancel()
			stopped := time.Now()
			for {
				_, err := nextWithin(t, src, 10*time.Second)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil && !errors.Is(err, errIdle) {
					t.Fatal(err)
				}
				if time.Since(stopped) > 20*time.Second {
					t.Fatal("still reading 20 s after the interrupt")
				}
			}
		})
	}
}
