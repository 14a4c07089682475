package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/segment"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// newEvents are the events added for ZMTP 1.0/2.0, 3.1 commands, PLAIN,
// CURVE and the connection summary.
func newEvents() []zmtp.Event {
	key := bytes.Repeat([]byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}, 4)
	nonce := []byte{0, 0, 0, 0, 0, 0, 0, 1}
	return []zmtp.Event{
		&zmtp.Greeting{Major: 2, Revision: 1, Mechanism: "NULL", SocketType: "PUSH"},
		&zmtp.Greeting{Major: 2, Revision: 3, Downgraded: true, Mechanism: "NULL", SocketType: "PULL"},
		&zmtp.Greeting{Major: 1, Mechanism: "NULL"},
		&zmtp.Identity{Size: 3, Data: []byte("abc")},
		&zmtp.Identity{},
		&zmtp.Command{Kind: zmtp.KindPing, Name: "PING", Size: 7, TTL: 30, Context: []byte("ab")},
		&zmtp.Command{Kind: zmtp.KindPong, Name: "PONG", Size: 7, Context: []byte("ab")},
		&zmtp.Command{Kind: zmtp.KindSubscribe, Name: "SUBSCRIBE", Size: 15, Topic: []byte("topic")},
		plainHello(),
		&zmtp.Command{Kind: zmtp.KindHello, Name: "HELLO", Mechanism: "CURVE", Size: 200, CurveVersion: [2]byte{1, 0}, Key: key, Nonce: nonce, BoxSize: 80},
		&zmtp.Command{Kind: zmtp.KindInitiate, Name: "INITIATE", Mechanism: "CURVE", Size: 263, Cookie: make([]byte, 96), Nonce: nonce, BoxSize: 150, Encrypted: true},
		&zmtp.Message{Frames: []zmtp.Frame{{Size: 6, Data: []byte("\x01topic")}}, Bytes: 6, Subscription: zmtp.Subscribe, Topic: []byte("topic")},
		&zmtp.Message{Frames: []zmtp.Frame{{Size: 33}}, Bytes: 33, Encrypted: true, Mechanism: "CURVE", Nonce: nonce, BoxSize: 17},
		&zmtp.Connection{End: segment.Finished, Sides: [2]zmtp.Side{
			{Greeted: true, Major: 3, Minor: 1, Mechanism: "NULL", SocketType: "PUSH", Messages: 3, MessageBytes: 3, StreamBytes: 98},
			{Greeted: true, Major: 3, Minor: 0, Mechanism: "NULL", SocketType: "PULL", Identity: []byte("id"), Err: errors.New("boom")},
		}},
	}
}

// plainHello is a PLAIN HELLO as the decoder makes it: Username and
// Password point into Data.
func plainHello() *zmtp.Command {
	data := []byte("\x05admin\x06secret")
	return &zmtp.Command{Kind: zmtp.KindHello, Name: "HELLO", Mechanism: "PLAIN", Size: 19, Data: data, Username: data[1:6], Password: data[7:]}
}

// TestPlainPasswordHidden: whatever the body mode, text shows the password
// only with secrets, and -X dumps it as stars without.
func TestPlainPasswordHidden(t *testing.T) {
	for _, body := range []Body{BodyQuotedHex, BodyText, BodyHexDump} {
		for _, secrets := range []bool{false, true} {
			var buf bytes.Buffer
			p := NewText(&buf, Options{Location: ts.Location(), Body: body, ShowSecrets: secrets})
			if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, plainHello()); err != nil {
				t.Fatal(err)
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			shown := strings.Contains(out, "secret") || strings.Contains(strings.Join(strings.Fields(out), ""), "736563726574")
			if shown != secrets {
				t.Errorf("body %d, secrets %v: password shown %v:\n%s", body, secrets, shown, out)
			}
			if !strings.Contains(out, `username "admin"`) {
				t.Errorf("body %d, secrets %v: no user name:\n%s", body, secrets, out)
			}
			if body == BodyHexDump && !secrets && !strings.Contains(out, "0561 646d 696e 062a 2a2a 2a2a 2a         .admin.******") {
				t.Errorf("-X: the password not dumped as stars:\n%s", out)
			}
		}
	}
	// A HELLO of a connection joined after its greeting: the mechanism is
	// not known, the data has PLAIN's shape.
	joined := plainHello()
	joined.Mechanism, joined.Username, joined.Password = "", nil, nil
	var buf bytes.Buffer
	p := NewText(&buf, Options{Location: ts.Location()})
	if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, joined); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	if want := `HELLO: "\x05admin\x06******" 05 61 64 6d 69 6e 06 2a 2a 2a 2a 2a 2a (size 19)`; !strings.HasSuffix(strings.TrimSpace(buf.String()), want) {
		t.Errorf("joined HELLO: got %q, want it to end with %q", buf.String(), want)
	}
}

func TestTextNewEvents(t *testing.T) {
	for _, secrets := range []bool{false, true} {
		var buf bytes.Buffer
		p := NewText(&buf, Options{Location: ts.Location(), ShowSecrets: secrets})
		for _, ev := range newEvents() {
			if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		prefix := "12:13:35.584123 127.0.0.1:47563 > [::1]:7001: "
		var got []string
		for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			got = append(got, strings.TrimPrefix(l, prefix))
		}
		password := `password (6 bytes, hidden)`
		if secrets {
			password = `password "secret"`
		}
		want := []string{
			`greeting: ZMTP 2.0 (revision 1), socket-type PUSH`,
			`greeting: ZMTP 2.0 (downgraded from 3), socket-type PULL`,
			`greeting: ZMTP 1.0 (no greeting, identity frame first)`,
			`identity: "abc" 61 62 63`,
			`identity: anonymous`,
			`PING: ttl 3.0s, context "ab" (size 7)`,
			`PONG: context "ab" (size 7)`,
			`SUBSCRIBE: "topic" 74 6f 70 69 63 (size 15)`,
			`HELLO (PLAIN): username "admin", ` + password + ` (size 19)`,
			`HELLO (CURVE): version 1.0, client key HelloWorldHelloWorldHelloWorldHelloWorld, nonce 0000000000000001, box 80 bytes (size 200)`,
			`INITIATE (CURVE): cookie (96 bytes), nonce 0000000000000001, box 150 bytes (encrypted) (size 263)`,
			`message: subscribe "topic" 74 6f 70 69 63`,
			`message (encrypted, CURVE): nonce 0000000000000001, box 17 bytes`,
			`connection closed: 127.0.0.1:47563 (PUSH) -> [::1]:7001 (PULL, identity "id"), ZMTP 3.1/3.0 NULL, 3 messages 3 bytes ->, 0 messages <-`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("secrets %v: lines (-want +got):\n%s", secrets, diff)
		}
	}
}

func TestJSONNewEvents(t *testing.T) {
	for _, secrets := range []bool{false, true} {
		var buf bytes.Buffer
		p := NewJSONOptions(&buf, Options{ShowSecrets: secrets})
		for _, ev := range newEvents() {
			if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(); err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("invalid JSON %q: %v", l, err)
			}
			got = append(got, m)
		}
		check := func(i int, key string, want any) {
			t.Helper()
			if v, ok := got[i][key]; !ok || !cmp.Equal(v, want) {
				t.Errorf("secrets %v: event %d %q = %#v, want %#v", secrets, i, key, v, want)
			}
		}
		check(0, "version", "2.0")
		check(0, "socket_type", "PUSH")
		check(1, "downgraded", true)
		check(2, "version", "1.0")
		check(3, "event", "identity")
		check(3, "identity_hex", "616263")
		check(5, "ttl", 3.0)
		check(5, "context_hex", "6162")
		check(6, "context_hex", "6162")
		check(7, "topic_hex", "746f706963")
		check(8, "username", "admin")
		check(8, "password_length", 6.0)
		if _, ok := got[8]["password"]; ok != secrets {
			t.Errorf("secrets %v: password shown: %v", secrets, got[8])
		}
		if secrets {
			check(8, "data_hex", "0561646d696e06736563726574")
			check(8, "password", "secret")
		} else {
			check(8, "data_hex", "0561646d696e062a2a2a2a2a2a")
			check(8, "redacted", "password")
		}
		check(9, "client_key_z85", "HelloWorldHelloWorldHelloWorldHelloWorld")
		check(9, "nonce_hex", "0000000000000001")
		check(9, "box_size", 80.0)
		check(10, "box_size", 150.0)
		check(11, "subscription", map[string]any{"action": "subscribe", "topic_hex": "746f706963"})
		check(12, "encrypted", true)
		check(12, "box_size", 17.0)
		check(13, "event", "connection")
		check(13, "version", "3.0")
		check(13, "src_socket_type", "PUSH")
		check(13, "dst_identity_hex", "6964")
		check(13, "src_to_dst", map[string]any{"messages": 3.0, "bytes": 3.0, "commands": 0.0, "stream_bytes": 98.0, "resyncs": 0.0})
		check(13, "dst_to_src", map[string]any{"messages": 0.0, "bytes": 0.0, "commands": 0.0, "stream_bytes": 0.0, "resyncs": 0.0, "error": "boom"})
	}
}
