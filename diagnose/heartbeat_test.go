package diagnose

import (
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// TestHeartbeatHealthy: heartbeats that are slow but in time make no
// heartbeat-timeout (review of issue 16): every PONG 150 ms after its PING
// on a 100 ms interval with a 2 s TTL (a slow link), and one answer 1.1 s
// late on a 5 s interval, each followed by a normal close.
func TestHeartbeatHealthy(t *testing.T) {
	const c2s, s2c = segment.ClientToServer, segment.ServerToClient
	ms := time.Millisecond
	var slow []step
	for i := range 10 {
		at := time.Duration(i) * 100 * ms
		slow = append(slow, ev(at, c2s, ping(20, "")), ev(at+150*ms, s2c, pong("")))
	}
	lateOnce := []step{
		ev(0, c2s, ping(0, "")), ev(ms, s2c, pong("")),
		ev(5*time.Second, c2s, ping(0, "")), ev(6100*ms, s2c, pong("")),
		ev(10*time.Second, c2s, ping(0, "")), ev(10*time.Second+ms, s2c, pong("")),
	}
	for name, tc := range map[string]struct {
		steps   []step
		closeAt time.Duration
	}{
		"slow link":     {slow, 1200 * ms},
		"one late PONG": {lateOnce, 11 * time.Second},
	} {
		steps := join(nullHandshake("PUSH", "PULL"), tc.steps)
		if ps, _ := run(t, Config{}, steps, segment.Finished, tc.closeAt, false); len(ps) != 0 {
			t.Errorf("%s: problems %s", name, kinds(ps))
		}
	}
	// Unanswered for more than two intervals, then the close: a timeout.
	var stopped []step
	for i := range 10 {
		at := time.Duration(i) * 100 * ms
		stopped = append(stopped, ev(at, c2s, ping(10, "")))
		if i < 3 {
			stopped = append(stopped, ev(at+ms, s2c, pong("")))
		}
	}
	ps, _ := run(t, Config{}, join(nullHandshake("PUSH", "PULL"), stopped), segment.Finished, 1100*ms, false)
	if len(ps) != 1 || ps[0].Kind != HeartbeatTimeout {
		t.Errorf("a stopped peer: problems %s", kinds(ps))
	}
}
