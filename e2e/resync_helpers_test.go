package e2e

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// This file holds what the tests of decoding that never goes blind share
// (join_test.go, gapresume_test.go, rst_test.go): a receiving peer whose
// messages are timed as they reach the application, and zmtpdump's JSON
// events parsed.

// recvLog is a receiving zmqpeer started with -print: it records when each
// message reached the application, in the test's clock (see
// livetest.Receiver).
type recvLog struct {
	*livetest.Receiver
}

// startReceiver starts zmqpeer with args and -print, inside network
// namespace ns unless ns is "".
func startReceiver(t *testing.T, ns string, args ...string) *recvLog {
	t.Helper()
	argv := append([]string{built.peer, "-print"}, args...)
	if ns != "" {
		argv = append([]string{"ip", "netns", "exec", ns}, argv...)
	}
	r, err := livetest.StartReceiver(exec.Command(argv[0], argv[1:]...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Kill)
	return &recvLog{r}
}

// waitCount waits until n messages arrived, failing the test after limit.
func (r *recvLog) waitCount(t *testing.T, n int, limit time.Duration) {
	t.Helper()
	if err := r.WaitCount(n, limit); err != nil {
		t.Fatal(err)
	}
}

// wait waits for the receiver to exit cleanly.
func (r *recvLog) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	if err := r.Wait(limit); err != nil {
		t.Fatal(err)
	}
}

// waitPeer waits for a peer started with startPeer to exit cleanly.
func waitPeer(t *testing.T, c *exec.Cmd, limit time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.Args, err, peerOutput(c))
		}
	case <-time.After(limit):
		c.Process.Kill()
		<-done
		t.Fatalf("%v did not finish within %v\n%s", c.Args, limit, peerOutput(c))
	}
}

// jsonEvent holds the members of zmtpdump's JSON events these tests read.
type jsonEvent struct {
	line string

	Event  string `json:"event"`
	Src    string `json:"src"`
	Dst    string `json:"dst"`
	Reason string `json:"reason"`
	// resync
	Offset       *uint64 `json:"offset"`
	SkippedBytes *uint64 `json:"skipped_bytes"`
	Source       string  `json:"source"`
	// gap (and message: its body size)
	Bytes    *uint64 `json:"bytes"`
	Messages *uint64 `json:"messages"`
	// message
	Frames []struct {
		Size    uint64 `json:"size"`
		DataHex string `json:"data_hex"`
	} `json:"frames"`
	Encrypted bool   `json:"encrypted"`
	NonceHex  string `json:"nonce_hex"`
	// connection
	End      string         `json:"end"`
	Joined   bool           `json:"joined"`
	SrcToDst *jsonDirection `json:"src_to_dst"`
	DstToSrc *jsonDirection `json:"dst_to_src"`
}

type jsonDirection struct {
	Messages uint64  `json:"messages"`
	Resyncs  *uint64 `json:"resyncs"`
	Error    string  `json:"error"`
}

// parseEvents parses zmtpdump's JSON Lines, failing on a line that is not
// JSON; the exit statistics' line is not an event.
func parseEvents(t *testing.T, out string) []jsonEvent {
	t.Helper()
	var evs []jsonEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), `{"event":"stats",`) {
			continue
		}
		var e jsonEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		e.line = sc.Text()
		evs = append(evs, e)
	}
	return evs
}

// body returns a one-frame message's body as text.
func (e *jsonEvent) body() (string, bool) {
	if e.Event != "message" || len(e.Frames) != 1 {
		return "", false
	}
	b, err := hex.DecodeString(e.Frames[0].DataHex)
	if err != nil || uint64(len(b)) != e.Frames[0].Size {
		return "", false
	}
	return string(b), true
}

// direction returns the events sent from src to dst (ZMTP events; the
// connection summary goes under whichever way it is keyed).
func direction(evs []jsonEvent, src, dst string) []jsonEvent {
	var out []jsonEvent
	for _, e := range evs {
		if e.Src == src && e.Dst == dst && e.Event != "connection" {
			out = append(out, e)
		}
	}
	return out
}

// connectionOf returns the connection summaries between a and b, and for
// each the summary of the direction a to b.
func connectionOf(evs []jsonEvent, a, b string) (conns []jsonEvent, ab []*jsonDirection) {
	for _, e := range evs {
		if e.Event != "connection" {
			continue
		}
		switch {
		case e.Src == a && e.Dst == b:
			conns, ab = append(conns, e), append(ab, e.SrcToDst)
		case e.Src == b && e.Dst == a:
			conns, ab = append(conns, e), append(ab, e.DstToSrc)
		}
	}
	return conns, ab
}

// counters checks that bodies are prefix followed by consecutive decimal
// counters between 1 and sent, and returns the first and the last.
func counters(t *testing.T, bodies []string, prefix string, sent int) (first, last int) {
	t.Helper()
	for i, b := range bodies {
		n, err := strconv.Atoi(strings.TrimPrefix(b, prefix))
		if !strings.HasPrefix(b, prefix) || err != nil || n < 1 || n > sent {
			t.Fatalf("message %d decoded as %q: never sent (the bodies are %s to %s)", i+1, b, label(prefix, 1), label(prefix, sent))
		}
		if i == 0 {
			first = n
		} else if n != last+1 {
			t.Fatalf("message %q decoded after %s: not the next one (messages decoded: %s)", b, label(prefix, last), summarize(bodies))
		}
		last = n
	}
	return first, last
}

// label is the body of message n, quoted.
func label(prefix string, n int) string { return strconv.Quote(prefix + strconv.Itoa(n)) }

// summarize shows a long list of bodies by its ends.
func summarize(bodies []string) string {
	if len(bodies) <= 12 {
		return fmt.Sprintf("%q", bodies)
	}
	return fmt.Sprintf("%q ... %q (%d in all)", bodies[:6], bodies[len(bodies)-6:], len(bodies))
}
