package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// outputModes are the ways zmtpdump prints a capture, each a set of flags.
var outputModes = [][]string{
	nil, {"-v"}, {"-X"}, {"-A"}, {"-s", "0"}, {"-X", "-s", "0"}, {"-X", "-v"},
	{"--explain"}, {"--explain=all"}, {"--explain", "-X"}, {"--ladder"}, {"--ladder", "-X"}, {"-q"},
	{"--json"}, {"--json", "-v"}, {"--json", "-s", "0"}, {"--json", "--explain=all"},
}

// runOutputs runs zmtpdump args as a user would, text times in UTC, and
// returns what it printed on stdout and stderr.
func runOutputs(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := newRootCommand(&stdout, &stderr)
	cmd.SetArgs(args)
	utc := func(c *config) bool { c.loc = time.UTC; return true }
	cmd.SetContext(withConfigHook(context.Background(), utc))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("zmtpdump %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// isJSON reports a mode with --json.
func isJSON(mode []string) bool {
	for _, a := range mode {
		if a == "--json" {
			return true
		}
	}
	return false
}

// wrongKey is auth-failed's rule naming a wrong key, across a line break.
var wrongKey = regexp.MustCompile(`wrong\s+server\s+public`)

// leaks says where out shows password: as text, or in hex (spaced as
// the text lines and -X dumps space it, or in a JSON _hex field).
func leaks(out, password string) string {
	// "--show-secrets" is named in a note, and auth-failed's rule (its
	// --explain note, wrapped anywhere) says "the wrong server public key":
	// they are no password (plain_rejected's is "wrong").
	text := strings.ReplaceAll(out, "--show-secrets", "")
	text = wrongKey.ReplaceAllString(text, "")
	if strings.Contains(text, password) {
		return "as text"
	}
	h := hex.EncodeToString([]byte(password))
	if strings.Contains(strings.Join(strings.Fields(text), ""), h) {
		return "in hex"
	}
	// A -X dump line ends in its bytes as text, so the hex of a password
	// cut by a line end is interrupted: join the columns of the dump lines.
	const textCol = len("\t0x0000: ") + 42 // see output.appendHexDump
	var hexCol, textColumn strings.Builder
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "\t0x") && len(l) > textCol {
			hexCol.WriteString(strings.Join(strings.Fields(l[len("\t0x0000:"):textCol]), ""))
			textColumn.WriteString(l[textCol:])
		}
	}
	switch {
	case strings.Contains(textColumn.String(), password):
		return "as text in a -X dump"
	case strings.Contains(hexCol.String(), h):
		return "in hex in a -X dump"
	}
	return ""
}

// TestPlainPasswordHiddenEveryMode: in no output mode does a real PLAIN
// capture show the password, as text or in hex, while the user name shows
// and the hidden bytes are marked; with --show-secrets the password shows.
func TestPlainPasswordHiddenEveryMode(t *testing.T) {
	for _, c := range []struct{ file, user, password string }{
		{"../../testdata/plain_ok.pcap", "admin", "secret"},
		{"../../testdata/plain_rejected.pcap", "admin", "wrong"},
	} {
		for _, mode := range outputModes {
			name := strings.Join(append([]string{c.file[len("../../testdata/"):]}, mode...), " ")
			t.Run(name, func(t *testing.T) {
				out, errOut := runOutputs(t, append([]string{"-r", c.file}, mode...)...)
				for what, s := range map[string]string{"stdout": out, "stderr": errOut} {
					if how := leaks(s, c.password); how != "" {
						t.Errorf("the password %q is on %s %s:\n%s", c.password, what, how, s)
					}
				}
				switch {
				case len(mode) == 1 && mode[0] == "-q":
				case isJSON(mode):
					checkJSONHidden(t, out, c.user, c.password)
				case strings.Contains(name, "--ladder"):
					if !strings.Contains(out, `(PLAIN) user "`+c.user+`"`) {
						t.Errorf("the ladder does not show the user name:\n%s", out)
					}
				default:
					want := `HELLO (PLAIN): username "` + c.user + `", password (` + strconv.Itoa(len(c.password)) + ` bytes, hidden)`
					if !strings.Contains(out, want) {
						t.Errorf("no %q:\n%s", want, out)
					}
					if strings.Contains(name, "-X") && !strings.Contains(out, "."+c.user+"."+strings.Repeat("*", len(c.password))+"\n") {
						t.Errorf("-X does not dump the password as stars:\n%s", out)
					}
				}
			})
		}
		t.Run(c.file[len("../../testdata/"):]+" --show-secrets", func(t *testing.T) {
			out, _ := runOutputs(t, "-r", c.file, "--show-secrets", "-X")
			if !strings.Contains(out, `password "`+c.password+`"`) || !strings.Contains(out, "."+c.user+"."+c.password) {
				t.Errorf("--show-secrets -X does not show the password %q:\n%s", c.password, out)
			}
			out, _ = runOutputs(t, "-r", c.file, "--show-secrets", "--json")
			if !strings.Contains(out, `"password":"`+c.password+`"`) || !strings.Contains(out, hex.EncodeToString([]byte(c.password))) {
				t.Errorf("--show-secrets --json does not show the password %q:\n%s", c.password, out)
			}
			if strings.Contains(out, `"redacted"`) {
				t.Errorf("--show-secrets --json marks bytes hidden:\n%s", out)
			}
		})
	}
}

// checkJSONHidden checks the HELLO of JSON output: the user name, the
// password's length, data_hex with the password as stars, the marker.
func checkJSONHidden(t *testing.T, out, user, password string) {
	t.Helper()
	var hellos int
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e struct {
			Name           string  `json:"name"`
			DataHex        string  `json:"data_hex"`
			Username       string  `json:"username"`
			PasswordLength int     `json:"password_length"`
			Password       *string `json:"password"`
			Redacted       string  `json:"redacted"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("invalid JSON %q: %v", l, err)
		}
		if e.Name != "HELLO" {
			continue
		}
		hellos++
		data, err := hex.DecodeString(e.DataHex)
		want := string(rune(len(user))) + user + string(rune(len(password))) + strings.Repeat("*", len(password))
		if err != nil || string(data) != want || e.Redacted != "password" {
			t.Errorf("HELLO data %q (%v), redacted %q; want %q, \"password\"", data, err, e.Redacted, want)
		}
		if e.Username != user || e.PasswordLength != len(password) || e.Password != nil {
			t.Errorf("HELLO %+v: want user %q, password length %d, no password", e, user, len(password))
		}
	}
	if hellos != 1 {
		t.Errorf("%d HELLO commands, want 1:\n%s", hellos, out)
	}
}
