package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/zmtp"
)

// retitle retitles a terminal, rings it and clears the screen.
const retitle = "\x1b]0;PWNED\x07\x1b[2J"

// TestNotesEscaped: a note holding wire bytes unquoted (as the Identity
// note once held a READY's Socket-Type) prints them escaped.
func TestNotesEscaped(t *testing.T) {
	var buf bytes.Buffer
	p := NewText(&buf, Options{Location: ts.Location()})
	notes := []Note{{Key: "k", Stage: "stage" + retitle, Text: "text " + retitle + " \xc2\x9b\xff", Cite: "RFC " + retitle}}
	if err := p.Event(&Line{Time: ts, Src: src, Dst: dst, Notes: notes}, &zmtp.Gap{Bytes: 1}); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	if c := livetest.RawControl(buf.String()); c >= 0 {
		t.Errorf("raw %#x in the notes:\n%q", c, buf.String())
	}
	if !strings.Contains(buf.String(), `\x1b]0;PWNED\x07\x1b[2J`) {
		t.Errorf("the escaped bytes are not shown:\n%s", buf.String())
	}
}

// TestJSONUTF8: text from the wire reads back as it was sent when it is
// UTF-8 ("José", not "JosÃ©"); other bytes read back as \xNN, with the exact
// bytes beside them in hex.
func TestJSONUTF8(t *testing.T) {
	data := []byte("\x05Jos\xc3\xa9\x02pw")
	var buf bytes.Buffer
	p := NewJSON(&buf)
	for _, ev := range []zmtp.Event{
		&zmtp.Command{Kind: zmtp.KindHello, Name: "HELLO", Mechanism: "PLAIN", Size: 15, Data: data, Username: data[1:6], Password: data[7:]},
		&zmtp.Command{Kind: zmtp.KindError, Name: "ERROR", Size: 20, Reason: []byte("Grüße \xff\x1b \xc2\x9b")},
		&zmtp.Command{Kind: zmtp.KindReady, Name: "READY", Size: 20, Properties: []zmtp.Property{{Name: []byte("X-Ünï\xfe"), Value: []byte("v")}}},
	} {
		if err := p.Event(&Line{Time: ts, Src: src, Dst: dst}, ev); err != nil {
			t.Fatal(err)
		}
	}
	p.Flush()
	out := buf.String()
	if !utf8.ValidString(out) || strings.ContainsAny(out, "\x1b\u009b") {
		t.Errorf("JSON output not clean UTF-8:\n%q", out)
	}
	type event struct {
		Username    string  `json:"username"`
		UsernameHex *string `json:"username_hex"`
		Reason      string  `json:"reason"`
		ReasonHex   string  `json:"reason_hex"`
		Properties  []struct {
			Name    string `json:"name"`
			NameHex string `json:"name_hex"`
		} `json:"properties"`
	}
	var got []event
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("invalid JSON %q: %v", l, err)
		}
		got = append(got, e)
	}
	if got[0].Username != "José" || got[0].UsernameHex != nil {
		t.Errorf("username %q (hex %v), want \"José\" and no hex", got[0].Username, got[0].UsernameHex)
	}
	if want := "Grüße \\xff\x1b \u009b"; got[1].Reason != want {
		t.Errorf("reason %q, want %q", got[1].Reason, want)
	}
	if got[1].ReasonHex != "4772c3bcc39f6520ff1b20c29b" {
		t.Errorf("reason_hex %q", got[1].ReasonHex)
	}
	if pr := got[2].Properties[0]; pr.Name != `X-Ünï\xfe` || pr.NameHex != "582dc39c6ec3affe" {
		t.Errorf("property name %q (hex %q)", pr.Name, pr.NameHex)
	}
}

// FuzzJSONString: any bytes make a JSON string that decodes, is UTF-8 with
// no raw control, and reads back as the bytes with each one that is not
// UTF-8 written \xNN.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "José", retitle, "\xff\xfe", "\xc2\x9b", "\u2028", "a\"b\\c", "\xed\xa0\x80", "\xf0\x9f\x98"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		out := appendJSONString(nil, string(p))
		if !utf8.Valid(out) {
			t.Fatalf("%q: not UTF-8: %q", p, out)
		}
		for _, r := range string(out) {
			if r < 0x20 || r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 {
				t.Fatalf("%q: raw %U in %q", p, r, out)
			}
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: %q does not decode: %v", p, out, err)
		}
		var want strings.Builder
		for s := string(p); s != ""; {
			r, n := utf8.DecodeRuneInString(s)
			if r == utf8.RuneError && n == 1 {
				want.WriteString(`\x` + string(hexDigits[s[0]>>4]) + string(hexDigits[s[0]&0xf]))
			} else {
				want.WriteString(s[:n])
			}
			s = s[n:]
		}
		if got != want.String() {
			t.Fatalf("%q decodes to %q, want %q", p, got, want.String())
		}
	})
}
