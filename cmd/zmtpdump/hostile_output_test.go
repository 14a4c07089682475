package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// terminalUnsafe returns a description of the first thing in out a
// terminal could obey: a C0 control byte other than the newline (a tab is
// allowed only where the -X dump indents its lines), DEL, a C1 control
// (U+0080 to U+009F) or a byte that is not UTF-8; "" when there is none.
func terminalUnsafe(out string) string {
	for n, l := range strings.Split(out, "\n") {
		l = strings.TrimLeft(l, "\t")
		for i := 0; i < len(l); {
			r, size := utf8.DecodeRuneInString(l[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				return fmt.Sprintf("byte %#x, not UTF-8, in line %d: %q", l[i], n+1, l)
			case r < 0x20 || r >= 0x7f && r <= 0x9f:
				return fmt.Sprintf("control %U in line %d: %q", r, n+1, l)
			}
			i += size
		}
	}
	return ""
}

// hostilePasswords are the PLAIN passwords of the hostile captures.
var hostilePasswords = map[string]string{
	"plain_user.pcap":   "pass\x1b[2Jword",
	"plain_utf8.pcap":   "s3cret-Ünï",
	"plain_joined.pcap": "joined-secret",
}

// sgr matches the colour sequences the text printer writes itself.
var sgr = regexp.MustCompile("\x1b\\[(0|1|2|3[1-6])m")

// TestHostileCapturesEveryMode: whatever a peer puts in its metadata,
// identity, user name, ERROR reason, mechanism or messages, no output mode
// lets a raw control byte through, on stdout or stderr; --color adds only
// its own colours; every JSON line is valid UTF-8 JSON.
func TestHostileCapturesEveryMode(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(hostileDir, "*.pcap"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no hostile captures in %s: %v", hostileDir, err)
	}
	for _, file := range files {
		for _, mode := range outputModes {
			name := strings.Join(append([]string{filepath.Base(file)}, mode...), " ")
			t.Run(name, func(t *testing.T) {
				args := append([]string{"-r", file}, mode...)
				out, errOut := runOutputs(t, args...)
				if out == "" {
					t.Fatalf("zmtpdump %s printed nothing", strings.Join(args, " "))
				}
				if pw, ok := hostilePasswords[filepath.Base(file)]; ok {
					for _, form := range []string{pw, strings.Trim(fmt.Sprintf("%+q", pw), `"`)} {
						if how := leaks(out+errOut, form); how != "" {
							t.Errorf("the password %q shows %s:\n%s", form, how, out)
						}
					}
				}
				for what, s := range map[string]string{"stdout": out, "stderr": errOut} {
					if u := terminalUnsafe(s); u != "" {
						t.Errorf("%s: %s", what, u)
					}
				}
				if isJSON(mode) {
					for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
						if !json.Valid([]byte(l)) {
							t.Errorf("invalid JSON line %q", l)
						}
					}
					return
				}
				colored, colorErr := runOutputs(t, append(args, "--color=always")...)
				if got := sgr.ReplaceAllString(colored, ""); got != out {
					t.Errorf("--color=always, its colours taken out, differs from the plain output:\n%q\nplain:\n%q", got, out)
				}
				if u := terminalUnsafe(colorErr); u != "" {
					t.Errorf("--color=always stderr: %s", u)
				}
			})
		}
	}
}

// TestHostileShownEscaped: the hostile strings are shown, escaped, where a
// reader looks for them.
func TestHostileShownEscaped(t *testing.T) {
	for _, c := range []struct {
		file string
		args []string
		want []string
	}{
		{"null_metadata.pcap", nil, []string{
			`READY: Socket-Type="\x1b]0;PWNED\x07\x1b[2J"`,
			`Identity="\x1b[31mid\x9b2J\xc2\x9b2J\x00\x08\x7f\xff\xfe"`,
			`"X-\x1b[2J\x07\x9b2J\xc2\x9b2J"="\x0d\x0a12:00:00.000000 fake\x1b[A`,
			`ERROR: reason "\x1b]0;PWNED\x07\x1b[2J\x9b2J\xc2\x9b2J"`,
			`"\x1b[2J\x07": "\x00\x08\x7f\xff\xfe"`,
			`127.0.0.1:40001 ("\x1b]0;PWNED\x07\x1b[2J", identity`,
		}},
		{"null_metadata.pcap", []string{"--explain"}, []string{
			`from a "\x1b]0;PWNED\x07\x1b[2J" here, so it is ignored.`,
		}},
		{"plain_user.pcap", nil, []string{
			`HELLO (PLAIN): username "\x1b]0;PWNED\x07\x1b[2J\x9b2J\xc2\x9b2J\x00\x08\x7f\xff\xfe", password (12 bytes, hidden)`,
		}},
		{"plain_user.pcap", []string{"--ladder"}, []string{
			`HELLO (PLAIN) user "\x1b]0;PWNED\x07\x1b`,
		}},
		{"mechanism.pcap", nil, []string{
			`mechanism "\x1b[2J\x07\x9b"`,
		}},
		{"zmtp20_zmtp10.pcap", nil, []string{
			`socket-type 0x1b`,
			`identity: "\x1b]0;PWNED\x07\x1b[2J"`,
		}},
	} {
		out, _ := runOutputs(t, append([]string{"-r", filepath.Join(hostileDir, c.file)}, c.args...)...)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s %v: no %q in\n%s", c.file, c.args, w, out)
			}
		}
	}
}

// TestJSONUTF8UserName: a UTF-8 user name and metadata read back from the
// JSON as sent ("José", not "JosÃ©"), and the password stays hidden.
func TestJSONUTF8UserName(t *testing.T) {
	out, _ := runOutputs(t, "-r", filepath.Join(hostileDir, "plain_utf8.pcap"), "--json")
	var user []string
	var prop []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Username   *string `json:"username"`
			Properties []struct {
				Name string `json:"name"`
			} `json:"properties"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("invalid JSON %q: %v", l, err)
		}
		if e.Username != nil {
			user = append(user, *e.Username)
		}
		for _, p := range e.Properties {
			prop = append(prop, p.Name)
		}
	}
	if len(user) != 1 || user[0] != "José" {
		t.Errorf("user names %q, want [\"José\"]", user)
	}
	if !strings.Contains(strings.Join(prop, ","), "X-Grüße") {
		t.Errorf("property names %q, want X-Grüße among them", prop)
	}
	if how := leaks(out, "s3cret-Ünï"); how != "" {
		t.Errorf("the password shows %s:\n%s", how, out)
	}
}
