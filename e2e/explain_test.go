package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestLiveExplain follows a real libzmq PUSH/PULL conversation with
// --explain, in text and in JSON at once: the notes of every stage appear
// (the greeting, libzmq sending it in steps, the NULL handshake and its
// metadata, the messages, the teardown), each once per connection, under
// the events they explain.
func TestLiveExplain(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	text := launchDump(t, "-i", "lo", "--port", fmt.Sprint(port), "--explain")
	js := launchDump(t, "-i", "lo", "--port", fmt.Sprint(port), "--explain", "--json")
	text.waitCapturing(t)
	js.waitCapturing(t)
	pushPull(t, port, 3)
	out, _ := text.stop(t)
	jsonOut, _ := js.stop(t)

	for _, want := range []string{
		"    [version negotiation] A ZMTP 3 greeting is 64 bytes",
		// libzmq 4.3 writes its greeting in steps (FINDINGS: 10, 1, 53
		// bytes); on lo the steps may be merged into fewer segments.
		"    [version negotiation] This greeting came in ",
		"    [security handshake] Under NULL (no authentication, no encryption)",
		"    [metadata] READY carries the sender's connection metadata",
		"    [messages] A message carries application data in one or more frames.",
		"    [teardown] Both sides sent FIN",
	} {
		if got := livetest.Lines(out, want); len(got) != 1 {
			t.Errorf("want one note line %q, got %d:\n%s", want, len(got), out)
		}
	}
	if !regexp.MustCompile(`came in [23] TCP segments \((10\+1\+53|10\+54|11\+53) bytes\)`).MatchString(out) {
		t.Errorf("the greeting-split note does not give libzmq's steps:\n%s", out)
	}
	// The notes follow their events: the greeting note right after a
	// greeting line, the message note after the first message.
	ls := strings.Split(out, "\n")
	for i, l := range ls {
		if strings.HasPrefix(l, "    [messages] A message carries") && (i == 0 || !strings.Contains(ls[i-1], `message: "1" 31`)) {
			t.Errorf("the message note does not follow the first message: %q before it", ls[max(i-1, 0)])
		}
	}

	keys := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(jsonOut), "\n") {
		var e struct {
			Notes []struct {
				Key, Stage, Text, RFC string
			} `json:"notes"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("invalid JSON %q: %v", l, err)
		}
		for _, n := range e.Notes {
			keys[n.Key]++
			if n.Text == "" || n.Stage == "" || n.RFC == "" {
				t.Errorf("note %q lacks text, stage or RFC: %+v", n.Key, n)
			}
		}
	}
	for _, k := range []string{"greeting", "greeting.split", "greeting.as-server", "null.ready", "ready.metadata", "message", "teardown.fin"} {
		if keys[k] != 1 {
			t.Errorf("JSON note %q shown %d times, want once: %v", k, keys[k], keys)
		}
	}
}
