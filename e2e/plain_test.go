package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// plainUser and plainPassword are the credentials of the live PLAIN
// conversation: a UTF-8 user name, a password no note could contain.
const (
	plainUser     = "José"
	plainPassword = "Tr0ub4dor-e2e"
)

// passwordShown says how s shows the password: as text, quoted as the text
// printer quotes, or in hex (spaced or not); "" when it does not.
func passwordShown(s string) string {
	h := hex.EncodeToString([]byte(plainPassword))
	dumpHex, dumpText := dumpColumns(s)
	switch {
	case strings.Contains(s, plainPassword):
		return "as text"
	case strings.Contains(strings.Join(strings.Fields(s), ""), h):
		return "in hex"
	case strings.Contains(dumpText, plainPassword):
		return "as text in a -X dump"
	case strings.Contains(dumpHex, h):
		return "in hex in a -X dump"
	}
	return ""
}

// hexDumpTextCol is where the text column of a -X dump line starts (see
// output.appendHexDump).
const hexDumpTextCol = len("\t0x0000: ") + 42

// dumpColumns returns the hex and the text columns of every -X dump line
// of out, each joined (so that what a line end cuts is whole again).
func dumpColumns(out string) (hexCol, textCol string) {
	var h, t strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "\t0x") && len(l) > hexDumpTextCol {
			h.WriteString(strings.Join(strings.Fields(l[len("\t0x0000:"):hexDumpTextCol]), ""))
			t.WriteString(l[hexDumpTextCol:])
		}
	}
	return h.String(), t.String()
}

// dumpText returns the text columns of the -X dump under the line of out
// that contains event, joined.
func dumpText(out, event string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(l, event):
			in = true
		case in && strings.HasPrefix(l, "\t0x") && len(l) > hexDumpTextCol:
			b.WriteString(l[hexDumpTextCol:])
		case in:
			return b.String()
		}
	}
	return b.String()
}

// TestLivePlain captures a real libzmq PLAIN conversation (a ZAP handler
// accepts the user) as text, JSON and -X at once: each shows the user name
// and the password's length and marks it hidden, and none shows the
// password, as text or in hex.
func TestLivePlain(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	modes := [][]string{nil, {"--json"}, {"-X"}, {"--explain"}}
	dumps := make([]*dump, len(modes))
	for i, m := range modes {
		dumps[i] = launchDump(t, append([]string{"-i", "lo", "--port", fmt.Sprint(port)}, m...)...)
	}
	for _, d := range dumps {
		d.waitCapturing(t)
	}
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", "2", "-plain-server", "-zap-user", plainUser, "-zap-pass", plainPassword},
		[]string{"-type", "push", "-connect", ep, "-count", "2", "-interval", "20ms", "-plain-user", plainUser, "-plain-pass", plainPassword})
	outs := make([]string, len(modes))
	for i, d := range dumps {
		out, errOut := d.stop(t)
		outs[i] = out
		for what, s := range map[string]string{"stdout": out, "stderr": errOut} {
			if how := passwordShown(s); how != "" {
				t.Errorf("zmtpdump %v: the password is on %s %s:\n%s", modes[i], what, how, s)
			}
		}
	}

	text, jsonOut, dumped, explained := outs[0], outs[1], outs[2], outs[3]
	hello := fmt.Sprintf(`HELLO (PLAIN): username "Jos\xc3\xa9", password (%d bytes, hidden)`, len(plainPassword))
	if got := livetest.Lines(text, hello); len(got) != 1 {
		t.Errorf("want one %q, got %q:\n%s", hello, got, text)
	}
	if got := livetest.Lines(text, "message: "); len(got) != 2 {
		t.Errorf("want the 2 messages of the accepted client, got %q:\n%s", got, text)
	}
	if got := dumpText(dumped, hello); len(livetest.Lines(dumped, hello)) != 1 || !strings.HasSuffix(got, "."+strings.Repeat("*", len(plainPassword))) {
		t.Errorf("-X: want %q and the password dumped as stars, got the dump %q:\n%s", hello, got, dumped)
	}
	if got := livetest.Lines(explained, "[security handshake] PLAIN starts with the client's HELLO"); len(got) != 1 {
		t.Errorf("--explain: no PLAIN HELLO note:\n%s", explained)
	}

	var hellos int
	for _, l := range strings.Split(strings.TrimSpace(jsonOut), "\n") {
		var e struct {
			Name           string  `json:"name"`
			Username       string  `json:"username"`
			PasswordLength int     `json:"password_length"`
			Password       *string `json:"password"`
			DataHex        string  `json:"data_hex"`
			Redacted       string  `json:"redacted"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("invalid JSON %q: %v", l, err)
		}
		if e.Name != "HELLO" {
			continue
		}
		hellos++
		if e.Username != plainUser || e.PasswordLength != len(plainPassword) || e.Password != nil || e.Redacted != "password" {
			t.Errorf("JSON HELLO %+v: want username %q, password_length %d, no password, redacted", e, plainUser, len(plainPassword))
		}
		data, err := hex.DecodeString(e.DataHex)
		if err != nil || !strings.HasSuffix(string(data), strings.Repeat("*", len(plainPassword))) {
			t.Errorf("JSON HELLO data_hex %q (%v): want the password as stars", e.DataHex, err)
		}
	}
	if hellos != 1 {
		t.Errorf("want one HELLO in the JSON, got %d:\n%s", hellos, jsonOut)
	}
}

// TestLivePlainShowSecrets: with --show-secrets the same conversation shows
// the password, as documented.
func TestLivePlainShowSecrets(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "--show-secrets")
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", "1", "-plain-server", "-zap-user", plainUser, "-zap-pass", plainPassword},
		[]string{"-type", "push", "-connect", ep, "-count", "1", "-plain-user", plainUser, "-plain-pass", plainPassword})
	out, _ := d.stop(t)
	if want := `password "` + plainPassword + `"`; len(livetest.Lines(out, want)) != 1 {
		t.Errorf("--show-secrets: no %q:\n%s", want, out)
	}
}
