package output

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/diagnose"
	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// testProblem is a problem with a field of every value type, and wire
// text that must be escaped.
func testProblem() *diagnose.Problem {
	return &diagnose.Problem{
		Kind: diagnose.ConnectRefused, Text: "reconnect loop: 45 attempts in 1.5 s, no listener on [::1]:7001\x1b[2J",
		Time: ts, Client: src, Server: dst, From: segment.ClientToServer,
		Fields: []diagnose.Field{
			{Key: "attempts", Value: int64(45)},
			{Key: "port", Value: uint64(7001)},
			{Key: "rate", Value: 30.5},
			{Key: "first", Value: true},
			{Key: "duration", Value: 1500 * time.Millisecond},
			{Key: "socket_type", Value: "PUSH"},
			{Key: "status_text", Value: "no \"access\"\n"},
			{Key: "kind", Value: "forged"}, // a reserved key: left out of JSON
		},
	}
}

func TestProblemText(t *testing.T) {
	for _, tt := range []struct {
		color bool
		want  string
	}{
		{false, `12:13:35.584123 127.0.0.1:47563 > [::1]:7001: problem: connect-refused: reconnect loop: 45 attempts in 1.5 s, no listener on [::1]:7001\x1b[2J` +
			` (attempts=45 port=7001 rate=30.5 first=true duration=1.5s socket_type=PUSH status_text="no \"access\"\x0a" kind=forged)` + "\n"},
		{true, "12:13:35.584123 \x1b[36m127.0.0.1:47563 > [::1]:7001\x1b[0m: \x1b[31mproblem: connect-refused: reconnect loop: 45 attempts in 1.5 s, no listener on [::1]:7001\\x1b[2J\x1b[0m" +
			` (attempts=45 port=7001 rate=30.5 first=true duration=1.5s socket_type=PUSH status_text="no \"access\"\x0a" kind=forged)` + "\n"},
	} {
		var buf bytes.Buffer
		p := NewText(&buf, Options{Location: time.UTC, Color: tt.color})
		if err := p.Event(&Line{From: segment.ClientToServer, Time: ts, Src: src, Dst: dst}, testProblem()); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != tt.want {
			t.Errorf("color %v:\n got %q\nwant %q", tt.color, got, tt.want)
		}
	}
}

func TestProblemJSON(t *testing.T) {
	var buf bytes.Buffer
	p := NewJSON(&buf)
	l := &Line{Time: ts, Src: src, Dst: dst, Notes: []Note{{Key: "problem.connect-refused", Stage: StageTeardown, Text: "rule"}}}
	if err := p.Event(l, testProblem()); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"ts":"2026-11-27T12:13:35.584123456Z","src":"127.0.0.1:47563","dst":"[::1]:7001","event":"problem","kind":"connect-refused",` +
		`"text":"reconnect loop: 45 attempts in 1.5 s, no listener on [::1]:7001\u001b[2J",` +
		`"attempts":45,"port":7001,"rate":30.5,"first":true,"duration_us":1500000,"socket_type":"PUSH","status_text":"no \"access\"\u000a",` +
		`"notes":[{"key":"problem.connect-refused","stage":"teardown","text":"rule","rfc":""}]}` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
}

func testHealth() *diagnose.Health {
	return &diagnose.Health{
		Latency:           &diagnose.Latency{Count: 10, P50: 1200 * time.Microsecond, P90: 2 * time.Millisecond, P99: 3400 * time.Microsecond, Max: 5 * time.Millisecond},
		HeartbeatInterval: time.Second,
		Stalled:           1500 * time.Millisecond,
		Subscriptions:     []string{"weather", "a\x00b"},
	}
}

func testConnection() *zmtp.Connection {
	return &zmtp.Connection{End: segment.Finished, Sides: [2]zmtp.Side{
		{Greeted: true, Major: 3, Minor: 1, Mechanism: "NULL", SocketType: "REQ", Messages: 10, MessageBytes: 40},
		{Greeted: true, Major: 3, Minor: 1, Mechanism: "NULL", SocketType: "REP", Messages: 10, MessageBytes: 40},
	}}
}

// TestConnectionHealth: the figures follow the summary, and a connection
// without any prints exactly what it printed before.
func TestConnectionHealth(t *testing.T) {
	print := func(json bool, h *diagnose.Health) string {
		var buf bytes.Buffer
		var p Printer = NewText(&buf, Options{Location: time.UTC})
		if json {
			p = NewJSON(&buf)
		}
		if err := p.Event(&Line{Time: ts, Src: src, Dst: dst, Health: h}, testConnection()); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	const text = "12:13:35.584123 127.0.0.1:47563 > [::1]:7001: connection closed: 127.0.0.1:47563 (REQ) -> [::1]:7001 (REP), ZMTP 3.1 NULL, 10 messages 40 bytes ->, 10 messages 40 bytes <-"
	for _, h := range []*diagnose.Health{nil, {}, {Latency: &diagnose.Latency{}}} {
		if got := print(false, h); got != text+"\n" {
			t.Errorf("health %+v: text\n got %q\nwant %q", h, got, text+"\n")
		}
		if got, plain := print(true, h), print(true, nil); got != plain {
			t.Errorf("health %+v: JSON\n got %s\nwant %s", h, got, plain)
		}
	}
	if got, want := print(false, testHealth()), text+", latency p50 1.2ms p99 3.4ms (10 replies), stalled 1.5s, heartbeat every 1s, subscribed to \"weather\" \"a\\x00b\"\n"; got != want {
		t.Errorf("text\n got %q\nwant %q", got, want)
	}
	got := print(true, testHealth())
	want := `,"latency":{"count":10,"p50_us":1200,"p90_us":2000,"p99_us":3400,"max_us":5000},"heartbeat_interval_ms":1000,"stalled_ms":1500,"subscriptions":["weather","a\u0000b"]}` + "\n"
	if !strings.HasSuffix(got, want) {
		t.Errorf("JSON\n got %s\nwant it to end %s", got, want)
	}
	if got := LatencyText(testHealth()); got != "p50 1.2ms p99 3.4ms (10 replies)" {
		t.Errorf("LatencyText = %q", got)
	}
}

func testKinds() []diagnose.KindCount {
	c := diagnose.Touched{Client: src, Server: dst}
	o := diagnose.Touched{Client: netip.MustParseAddrPort("10.0.0.2:5000"), Server: dst}
	return []diagnose.KindCount{
		{Kind: diagnose.AuthFailed, Count: 2, Connections: []diagnose.Touched{c}},
		{Kind: diagnose.Stalled, Count: 13, Connections: []diagnose.Touched{c, o}, More: 3},
	}
}

func TestProblemsSummary(t *testing.T) {
	var stderr, stdout bytes.Buffer
	text := "problems: 2 auth-failed (1 connection: 127.0.0.1:47563 > [::1]:7001), 13 stalled (2 connections: 127.0.0.1:47563 > [::1]:7001, 10.0.0.2:5000 > [::1]:7001, and 3 more problems on connections not named)\n"
	p := NewText(&stdout, Options{Stderr: &stderr})
	if err := p.Problems(testKinds()); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if stderr.String() != text || stdout.Len() != 0 {
		t.Errorf("text: stderr %q stdout %q, want stderr %q", stderr.String(), stdout.String(), text)
	}
	stderr.Reset()
	j := NewJSONOptions(&stdout, Options{Stderr: &stderr})
	if err := j.Problems(testKinds()); err != nil {
		t.Fatal(err)
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"event":"problems","by_kind":{"auth-failed":{"count":2,"connections":["127.0.0.1:47563 > [::1]:7001"]},` +
		`"stalled":{"count":13,"connections":["127.0.0.1:47563 > [::1]:7001","10.0.0.2:5000 > [::1]:7001"],"more":3}}}` + "\n"
	if stdout.String() != want || stderr.String() != text {
		t.Errorf("JSON: stdout\n got %s\nwant %s\nstderr %q", stdout.String(), want, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	for _, pr := range []Printer{NewText(&stdout, Options{Stderr: &stderr}), NewJSONOptions(&stdout, Options{Stderr: &stderr})} {
		if err := pr.Problems(nil); err != nil {
			t.Fatal(err)
		}
		if err := pr.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if stdout.Len()+stderr.Len() != 0 {
		t.Errorf("no problem printed %q, %q", stdout.String(), stderr.String())
	}
}

// TestConversationsHealth: the -q table lists latency and stalls below
// its rows, and only when a connection has them.
func TestConversationsHealth(t *testing.T) {
	c := NewConversation(src, dst, ts, ts.Add(time.Second), testConnection())
	var plain bytes.Buffer
	if err := WriteConversations(&plain, []Conversation{c}); err != nil {
		t.Fatal(err)
	}
	c.Health = &diagnose.Health{}
	var empty bytes.Buffer
	if err := WriteConversations(&empty, []Conversation{c}); err != nil {
		t.Fatal(err)
	}
	if empty.String() != plain.String() || strings.Contains(plain.String(), "Latency") {
		t.Errorf("no figures: table changed:\n%s\nvs\n%s", empty.String(), plain.String())
	}
	c.Health = testHealth()
	var got bytes.Buffer
	if err := WriteConversations(&got, []Conversation{c}); err != nil {
		t.Fatal(err)
	}
	want := plain.String() + "Health (latency, stalls, heartbeats, subscriptions at the end):\n  127.0.0.1:47563 > [::1]:7001: latency p50 1.2ms p99 3.4ms (10 replies), stalled 1.5s, heartbeat every 1s, subscribed to \"weather\" \"a\\x00b\"\n"
	if got.String() != want {
		t.Errorf("\n got %q\nwant %q", got.String(), want)
	}
}

// TestProblemTextEscapesOnce: a problem's text comes with the wire bytes it
// quotes already escaped by diagnose (\x0d); the text line prints those
// escapes as they are, not doubled, and still escapes a raw control byte.
func TestProblemTextEscapesOnce(t *testing.T) {
	var buf bytes.Buffer
	p := NewText(&buf, Options{Location: time.UTC})
	pr := &diagnose.Problem{Kind: diagnose.AuthFailed, Text: `the server sent ERROR "bad\x0d" ` + "\x07", Time: ts, Client: src, Server: dst}
	if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, pr); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	if want := `problem: auth-failed: the server sent ERROR "bad\x0d" \x07` + "\n"; !strings.HasSuffix(buf.String(), want) {
		t.Errorf("got %q, want it to end %q", buf.String(), want)
	}
}

// TestProblemsSummaryNames: connections with names (ipc ends) are named
// so, an escaped name kept as it is (not escaped twice), in text and JSON.
func TestProblemsSummaryNames(t *testing.T) {
	c := diagnose.Touched{Client: src, Server: dst, ClientName: "pid 1 (a)", ServerName: `pid 2 (b) /x\x1b.ipc`}
	kinds := []diagnose.KindCount{{Kind: diagnose.HeartbeatTimeout, Count: 1, Connections: []diagnose.Touched{c}}}
	var stderr bytes.Buffer
	if err := WriteProblemsText(&stderr, kinds); err != nil {
		t.Fatal(err)
	}
	if want := `problems: 1 heartbeat-timeout (1 connection: pid 1 (a) > pid 2 (b) /x\x1b.ipc)` + "\n"; stderr.String() != want {
		t.Errorf("text %q, want %q", stderr.String(), want)
	}
	got := string(AppendProblemsJSON(nil, kinds))
	if want := `{"event":"problems","by_kind":{"heartbeat-timeout":{"count":1,"connections":["pid 1 (a) > pid 2 (b) /x\\x1b.ipc"]}}}`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
}
