package e2e

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// Joining connections already open: zmtpdump starts 2 s (or a little
// more) after a libzmq
// sender began sending one message every 100 ms. Every message sent 1 s or
// more after zmtpdump started must be decoded, in order, none twice and
// none that was never sent, after a resync event that says where decoding
// picked the stream up; the connection summary says it was joined.

// joinSent is how many messages each sender sends, one every joinInterval:
// 15 s, so that eight zmtpdumps starting at once on a loaded machine are
// all listening well before the senders stop.
const (
	joinSent     = 150
	joinInterval = 100 * time.Millisecond
	joinAfter    = 2 * time.Second // zmtpdump starts this long after the first message
	joinSettle   = time.Second     // from then on every message must be decoded
)

// joinCase is one conversation joined mid-stream. The sender always
// connects and the receiver binds, so messages go to the server.
type joinCase struct {
	name       string
	recv, send func(ep string) []string
	prefix     string // of every body
	curve      bool   // the bodies are encrypted: count them
	text       bool   // check the text output instead of JSON
}

func joinCases(t *testing.T) []joinCase {
	n, iv := fmt.Sprint(joinSent), joinInterval.String()
	pushPull := joinCase{
		name: "pushpull",
		recv: func(ep string) []string { return []string{"-type", "pull", "-bind", ep, "-count", n} },
		send: func(ep string) []string {
			return []string{"-type", "push", "-connect", ep, "-count", n, "-interval", iv}
		},
	}
	text := pushPull
	text.name, text.text = "pushpull-text", true
	pair := curveKeys(t)
	return []joinCase{
		pushPull,
		text,
		{
			// ZMTP 3.1 on both sides: the subscription went as a SUBSCRIBE
			// command, before zmtpdump started. The PUB waits for it.
			name: "pubsub",
			recv: func(ep string) []string {
				return []string{"-type", "sub", "-bind", ep, "-subscribe", "t.", "-count", n}
			},
			send: func(ep string) []string {
				return []string{"-type", "pub", "-connect", ep, "-prefix", "t.", "-count", n, "-interval", iv, "-wait", "500ms"}
			},
			prefix: "t.",
		},
		{
			name: "curve",
			recv: func(ep string) []string {
				return []string{"-type", "pull", "-bind", ep, "-count", n, "-curve-server", "-curve-secret", pair[1]}
			},
			send: func(ep string) []string {
				return []string{"-type", "push", "-connect", ep, "-count", n, "-interval", iv, "-curve-serverkey", pair[0]}
			},
			curve: true,
		},
	}
}

// curveKeys makes a CURVE keypair: public, secret (Z85).
func curveKeys(t *testing.T) [2]string {
	t.Helper()
	keys, err := exec.Command(built.peer, "-curve-keygen").Output()
	if err != nil {
		t.Fatalf("zmqpeer -curve-keygen: %v", err)
	}
	f := strings.Fields(string(keys))
	if len(f) != 2 {
		t.Fatalf("zmqpeer -curve-keygen printed %q", keys)
	}
	return [2]string{f[0], f[1]}
}

// TestJoinMidStream joins PUSH/PULL (JSON and text), PUB/SUB and CURVE
// connections mid-stream, on both backends. The eight conversations and
// their zmtpdumps run at the same time (each is seconds of idle waiting),
// then each is checked in its own subtest.
func TestJoinMidStream(t *testing.T) {
	requireLive(t)
	var runs []*joinRun
	for _, backend := range []string{"tcx", "socket"} {
		for _, c := range joinCases(t) {
			runs = append(runs, startJoinConversation(t, c, backend))
		}
	}
	var latest time.Time
	for _, r := range runs {
		r.recv.waitCount(t, 1, 10*time.Second)
		if at := r.recv.Messages()[0].At; at.After(latest) {
			latest = at
		}
	}
	time.Sleep(time.Until(latest.Add(joinAfter)))
	for _, r := range runs {
		r.startLo = time.Now()
		r.dump = launchDump(t, r.args...)
	}
	for _, r := range runs {
		r.dump.waitCapturing(t)
		r.startHi = time.Now()
	}
	for _, r := range runs {
		r.recv.wait(t, 40*time.Second)
		waitPeer(t, r.send, 10*time.Second)
	}
	for _, r := range runs {
		r.out, r.errOut = r.dump.stop(t)
	}
	for _, r := range runs {
		t.Run(r.c.name+"/"+r.backend, func(t *testing.T) { checkJoin(t, r) })
	}
}

// joinRun is one joined conversation and what it left behind.
type joinRun struct {
	c                joinCase
	backend          string
	srv              string
	args             []string // zmtpdump's
	recv             *recvLog
	send             *exec.Cmd
	dump             *dump
	startLo, startHi time.Time // before zmtpdump was started, after it said it was listening
	out, errOut      string
}

// startJoinConversation starts the receiver and the sender of c.
func startJoinConversation(t *testing.T, c joinCase, backend string) *joinRun {
	port := freePort(t)
	r := &joinRun{c: c, backend: backend, srv: fmt.Sprintf("127.0.0.1:%d", port)}
	ep := "tcp://" + r.srv
	// -timeout: the peers' time limit, well beyond the 15 s they need.
	r.recv = startReceiver(t, "", append(c.recv(ep), "-timeout", "45s")...)
	time.Sleep(100 * time.Millisecond) // let it bind
	r.send = startPeer(t, "", "", append(c.send(ep), "-timeout", "45s")...)
	r.args = []string{"-i", "lo", "--backend", backend, "--port", fmt.Sprint(port), "-B", "1024"}
	if c.text {
		r.args = append(r.args, "--stats-file", statsFile(t))
	} else {
		r.args = append(r.args, "--json")
	}
	return r
}

func checkJoin(t *testing.T, r *joinRun) {
	if before := r.recv.Between(time.Time{}, r.startLo); len(before) < 5 {
		t.Fatalf("only %d messages arrived before zmtpdump started: the test would not join mid-stream", len(before))
	}
	if strings.Contains(r.out, "capture started mid-connection") {
		t.Errorf("zmtpdump gave up on the connection it joined:\n%s", firstLines(r.out, 6))
	}
	// Once the search found the boundary, zmtpdump wrote it into the
	// kernel, which then walked the connection: the exit statistics say so.
	if r.dump.stats(t).Joined == 0 {
		t.Errorf("the kernel did not join the connection (exit statistics):\n%s", r.errOut)
	}
	c := r.c
	switch {
	case c.text:
		checkJoinText(t, r)
	case c.curve:
		checkJoinCurve(t, r)
	default:
		checkJoinJSON(t, r, c.prefix)
	}
}

// required returns the messages every joined capture must decode: those
// that arrived joinSettle or more after zmtpdump said it was listening. A
// message arrives after it is sent, so every message sent from then on is
// among them.
func (r *joinRun) required(t *testing.T) []livetest.Message {
	t.Helper()
	req := r.recv.Between(r.startHi.Add(joinSettle), time.Now().Add(time.Hour))
	if len(req) < 10 {
		t.Fatalf("only %d messages arrived %v or more after zmtpdump started: the test proves little", len(req), joinSettle)
	}
	return req
}

// checkDecodedBodies checks the bodies decoded toward the server: prefix
// and consecutive counters, starting after the first message (sent before
// zmtpdump started), every one sent after zmtpdump was started and every
// required one there.
func (r *joinRun) checkDecodedBodies(t *testing.T, bodies []string, prefix string) {
	t.Helper()
	if len(bodies) == 0 {
		t.Fatalf("no message to %s decoded:\n%s", r.srv, firstLines(r.out, 10))
	}
	first, last := counters(t, bodies, prefix, joinSent)
	if first == 1 {
		t.Fatalf("message %s decoded, but it was sent before zmtpdump started: the capture did not join mid-stream", label(prefix, 1))
	}
	for _, b := range bodies {
		if at, ok := r.recv.ReceivedAt(b); !ok {
			t.Errorf("message %q decoded, but the receiver never got it", b)
		} else if at.Before(r.startLo) {
			t.Errorf("message %q decoded, but it reached the receiver before zmtpdump was started", b)
		}
	}
	req := r.required(t)
	reqFirst, _ := counters(t, []string{req[0].Body}, prefix, joinSent)
	reqLast, _ := counters(t, []string{req[len(req)-1].Body}, prefix, joinSent)
	if reqFirst < first || reqLast > last {
		t.Errorf("decoded messages %s to %s; every message from %s (sent %v or more after zmtpdump started) to %s must be there",
			label(prefix, first), label(prefix, last), label(prefix, reqFirst), joinSettle, label(prefix, reqLast))
	}
}

// checkJoinJSON checks the JSON of a joined conversation of counters.
func checkJoinJSON(t *testing.T, r *joinRun, prefix string) {
	evs := parseEvents(t, r.out)
	toSrv := r.towardServer(t, evs)
	var bodies []string
	for _, e := range toSrv {
		if e.Event != "message" {
			continue
		}
		b, ok := e.body()
		if !ok {
			t.Fatalf("not a one-frame message shown whole: %s", e.line)
		}
		bodies = append(bodies, b)
	}
	r.checkDecodedBodies(t, bodies, prefix)
}

// checkJoinCurve checks the JSON of a joined CURVE conversation: the
// bodies are encrypted, but each MESSAGE's short nonce counts up by one
// (libzmq's per-connection nonce counter), so holes still show; their
// number must lie between the messages that must be decoded and those
// that arrived after zmtpdump was started.
func checkJoinCurve(t *testing.T, r *joinRun) {
	evs := parseEvents(t, r.out)
	toSrv := r.towardServer(t, evs)
	var nonces []uint64
	for _, e := range toSrv {
		if e.Event != "message" {
			continue
		}
		n, err := hex.DecodeString(e.NonceHex)
		if !e.Encrypted || err != nil || len(n) != 8 {
			t.Fatalf("want a CURVE MESSAGE (encrypted, an 8-byte nonce), got %s", e.line)
		}
		nonces = append(nonces, binary.BigEndian.Uint64(n))
	}
	if len(nonces) == 0 {
		t.Fatalf("no encrypted message to %s decoded:\n%s", r.srv, firstLines(r.out, 10))
	}
	for i := 1; i < len(nonces); i++ {
		if nonces[i] != nonces[i-1]+1 {
			t.Errorf("CURVE MESSAGE nonce %d after %d: messages between them were not decoded (or one twice)", nonces[i], nonces[i-1])
		}
	}
	req := len(r.required(t))
	possible := len(r.recv.Between(r.startLo, time.Now().Add(time.Hour)))
	if got := len(nonces); got < req || got > possible {
		t.Errorf("%d encrypted messages decoded; %d were sent %v or more after zmtpdump started and %d after it was started",
			got, req, joinSettle, possible)
	}
}

// towardServer checks the events of the joined direction, the one toward
// the server, and of its connection, and returns the direction's events.
func (r *joinRun) towardServer(t *testing.T, evs []jsonEvent) []jsonEvent {
	t.Helper()
	var client string
	for _, e := range evs {
		if e.Dst == r.srv && e.Event != "connection" {
			client = e.Src
			break
		}
	}
	if client == "" {
		t.Fatalf("no event toward %s:\n%s\n%s", r.srv, firstLines(r.out, 10), r.errOut)
	}
	toSrv := direction(evs, client, r.srv)
	for _, e := range evs {
		if e.Event == "error" {
			t.Errorf("error event: %s", e.line)
		}
	}
	resyncs := 0
	for i, e := range toSrv {
		if e.Event != "resync" {
			if i == 0 {
				t.Errorf("the first event toward the server must be a resync (where decoding picked the stream up), got %s", e.line)
			}
			continue
		}
		resyncs++
		if i == 0 && e.Reason != "mid-stream" {
			t.Errorf(`the first resync must have "reason":"mid-stream": %s`, e.line)
		}
		if e.Reason != "mid-stream" && e.Reason != "gap" {
			t.Errorf(`resync "reason" must be "mid-stream" or "gap": %s`, e.line)
		}
		if e.Source != "kernel" && e.Source != "search" {
			t.Errorf(`resync "source" must be "kernel" or "search": %s`, e.line)
		}
		if e.Offset == nil || e.SkippedBytes == nil {
			t.Errorf(`resync without "offset" or "skipped_bytes": %s`, e.line)
		}
	}
	conns, dirs := connectionOf(evs, client, r.srv)
	if len(conns) != 1 {
		t.Fatalf("want one connection summary for %s - %s, got %d:\n%s", client, r.srv, len(conns), r.out)
	}
	if !conns[0].Joined {
		t.Errorf(`the connection summary lacks "joined":true: %s`, conns[0].line)
	}
	if conns[0].End != "closed" {
		t.Errorf(`the connection ended with FINs, its summary says "end":%q`, conns[0].End)
	}
	if d := dirs[0]; d == nil || d.Resyncs == nil || *d.Resyncs != uint64(resyncs) || resyncs == 0 {
		t.Errorf(`the summary's direction toward the server must count its %d resyncs ("resyncs"): %s`, resyncs, conns[0].line)
	}
	return toSrv
}

// textMessage is a text message line toward a server: its body.
var textMessage = regexp.MustCompile(`: message: "([^"]*)"`)

// checkJoinText checks the text output of a joined PUSH/PULL conversation.
func checkJoinText(t *testing.T, r *joinRun) {
	toSrv := livetest.Lines(r.out, "> "+r.srv+": ")
	if len(toSrv) == 0 || !strings.Contains(toSrv[0], "resync:") {
		t.Errorf("the first line toward %s must say where decoding picked the stream up (resync:):\n%s", r.srv, firstLines(r.out, 6))
	}
	var bodies []string
	for _, l := range toSrv {
		if m := textMessage.FindStringSubmatch(l); m != nil {
			bodies = append(bodies, m[1])
		}
	}
	r.checkDecodedBodies(t, bodies, "")
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	l := strings.SplitN(s, "\n", n+1)
	if len(l) > n {
		l[n] = "..."
	}
	return strings.Join(l, "\n")
}
