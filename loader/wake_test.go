package loader

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// TestWake: Wake, from another goroutine, makes a Next waiting on an
// empty ring return os.ErrDeadlineExceeded at once, long before its
// deadline, and with none set; a Wake between reads makes the next Next
// that finds the ring empty return, once.
func TestWake(t *testing.T) {
	requireBPF(t)
	c, err := Open(Config{Interfaces: []string{"lo"}, Ports: []uint16{9}, RingSize: 1 << 16, Backend: Socket})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var seg segment.Segment
	for _, deadline := range []time.Time{time.Now().Add(time.Minute), {}} {
		c.SetDeadline(deadline)
		start := time.Now()
		go func() {
			time.Sleep(50 * time.Millisecond)
			c.Wake()
		}()
		if err := c.Next(&seg); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Next: %v, want os.ErrDeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second || d < 40*time.Millisecond {
			t.Errorf("Next returned after %v, want about 50ms (the Wake)", d)
		}
	}
	c.Wake()
	c.SetDeadline(time.Now().Add(time.Minute))
	if err := c.Next(&seg); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Next after a Wake: %v", err)
	}
	start := time.Now()
	c.SetDeadline(start.Add(200 * time.Millisecond))
	if err := c.Next(&seg); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Next: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("a second Next returned after %v: one Wake woke it twice", d)
	}
}
