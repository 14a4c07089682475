package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// pushPull runs the libzmq PULL (bind) and PUSH (connect) peers on port,
// sending "1".."n".
func pushPull(t *testing.T, port, n int) {
	t.Helper()
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	count := fmt.Sprint(n)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", count},
		[]string{"-type", "push", "-connect", ep, "-count", count, "-interval", "20ms"})
}

func TestLiveText(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port))
	pushPull(t, port, 3)
	out, errOut := d.stop(t)

	srv := fmt.Sprintf("127.0.0.1:%d", port)
	if got := livetest.Lines(out, "greeting: ZMTP 3.1, mechanism NULL, as-server 0"); len(got) != 2 {
		t.Errorf("want 2 greetings (one each way), got %d:\n%s", len(got), out)
	}
	push := livetest.Lines(out, `READY: Socket-Type="PUSH" 50 55 53 48`, "> "+srv)
	pull := livetest.Lines(out, `READY: Socket-Type="PULL" 50 55 4c 4c`, srv+" > ")
	if len(push) != 1 || len(pull) != 1 {
		t.Errorf("want READY PUSH from the client and READY PULL from the server, got %q and %q:\n%s", push, pull, out)
	}
	msgs := livetest.Lines(out, "message: ")
	want := []string{`message: "1" 31`, `message: "2" 32`, `message: "3" 33`}
	if len(msgs) != len(want) {
		t.Fatalf("want %d messages, got %d:\n%s", len(want), len(msgs), out)
	}
	for i, m := range msgs {
		if !strings.HasSuffix(m, want[i]) || !strings.Contains(m, "> "+srv+": ") {
			t.Errorf("message %d: got %q, want it to end with %q and go to %s", i, m, want[i], srv)
		}
	}
	line := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} \S+ > \S+: `)
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !line.MatchString(l) {
			t.Errorf("line not in the form TIME SRC > DST: ...: %q", l)
		}
	}
	for _, w := range []string{"packets captured", "0 packets dropped by kernel", "7 ZMTP events decoded"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("exit statistics lack %q:\n%s", w, errOut)
		}
	}
}

func TestLiveJSON(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--json", fmt.Sprintf("port %d", port))
	pushPull(t, port, 3)
	out, _ := d.stop(t)

	type frame struct {
		Size      *uint64 `json:"size"`
		DataHex   *string `json:"data_hex"`
		Truncated *bool   `json:"truncated"`
	}
	type event struct {
		TS         string `json:"ts"`
		Src        string `json:"src"`
		Dst        string `json:"dst"`
		Event      string `json:"event"`
		Version    string `json:"version"`
		Mechanism  string `json:"mechanism"`
		AsServer   *bool  `json:"as_server"`
		Name       string `json:"name"`
		Properties []struct {
			Name     string `json:"name"`
			ValueHex string `json:"value_hex"`
		} `json:"properties"`
		Frames []frame `json:"frames"`
	}
	var greetings, messages int
	ready := map[string]string{}
	tsForm := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d)$`)
	all := strings.Split(strings.TrimSpace(out), "\n")
	if last := all[len(all)-1]; !strings.HasPrefix(last, `{"event":"stats",`) {
		t.Errorf("the last line is not the exit statistics: %q", last)
	} else {
		all = all[:len(all)-1]
	}
	for _, l := range all {
		var e event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		if !tsForm.MatchString(e.TS) || e.Src == "" || e.Dst == "" || e.Event == "" {
			t.Errorf("missing or malformed ts/src/dst/event: %q", l)
		}
		switch e.Event {
		case "greeting":
			greetings++
			if e.Version != "3.1" || e.Mechanism != "NULL" || e.AsServer == nil || *e.AsServer {
				t.Errorf("greeting: %q", l)
			}
		case "command":
			if e.Name == "READY" && len(e.Properties) == 1 && e.Properties[0].Name == "Socket-Type" {
				ready[e.Src] = e.Properties[0].ValueHex
			}
		case "message":
			messages++
			if len(e.Frames) != 1 || e.Frames[0].Size == nil || *e.Frames[0].Size != 1 || e.Frames[0].DataHex == nil ||
				*e.Frames[0].DataHex != fmt.Sprintf("%x", fmt.Sprint(messages)) || e.Frames[0].Truncated == nil || *e.Frames[0].Truncated {
				t.Errorf("message %d: %q", messages, l)
			}
			if e.Dst != fmt.Sprintf("127.0.0.1:%d", port) {
				t.Errorf("message to %s, want the PULL side", e.Dst)
			}
		}
	}
	if greetings != 2 || messages != 3 {
		t.Errorf("%d greetings and %d messages, want 2 and 3:\n%s", greetings, messages, out)
	}
	if ready[fmt.Sprintf("127.0.0.1:%d", port)] != "50554c4c" || len(ready) != 2 {
		t.Errorf("READY Socket-Type by sender: %v, want PULL (50554c4c) from the server and PUSH from the client", ready)
	}
	for _, v := range ready {
		if v != "50554c4c" && v != "50555348" {
			t.Errorf("unexpected Socket-Type %s", v)
		}
	}
}

func TestLiveVerbose(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-v", "-i", "lo", "--port", fmt.Sprint(port))
	pushPull(t, port, 2)
	out, _ := d.stop(t)
	srv := fmt.Sprintf("127.0.0.1:%d", port)
	if syn := livetest.Lines(out, "> "+srv+": tcp SYN,"); len(syn) != 1 {
		t.Errorf("want one SYN to the server, got %q:\n%s", syn, out)
	}
	if synack := livetest.Lines(out, srv+" > ", ": tcp SYN ACK,"); len(synack) != 1 {
		t.Errorf("want one SYN ACK from the server, got %q", synack)
	}
	if fin := livetest.Lines(out, ": tcp FIN"); len(fin) < 2 {
		t.Errorf("want a FIN each way, got %q", fin)
	}
	if p := livetest.Lines(out, "payload 3"); len(p) < 2 {
		t.Errorf("want the 3-byte message packets, got %q", p)
	}
	if m := livetest.Lines(out, "message: "); len(m) != 2 {
		t.Errorf("want 2 messages among the packets, got %q", m)
	}
}

// TestLiveGSO sends a message larger than 64 KiB: on lo it crosses as GSO
// super-packets whose payloads must arrive whole.
func TestLiveGSO(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "--snap", "4")
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", "2"},
		[]string{"-type", "push", "-connect", ep, "-count", "2", "-size", "200000"})
	out, errOut := d.stop(t)
	m := livetest.Lines(out, `message: "xxxx" 78 78 78 78 ... (200000 bytes, 4 shown)`)
	if len(m) != 2 {
		t.Errorf("want 2 messages of 200000 bytes, got:\n%s\n%s", out, errOut)
	}
	if g := livetest.Lines(out, "gap"); len(g) != 0 {
		t.Errorf("unexpected gaps: %q", g)
	}
}

func TestUnknownInterface(t *testing.T) {
	requireLive(t)
	out, err := exec.Command(built.zmtpdump, "-i", "nosuchif0", "--port", "7001").CombinedOutput()
	if err == nil {
		t.Fatalf("no error for an unknown interface: %s", out)
	}
	if s := strings.TrimSpace(string(out)); !strings.HasPrefix(s, `zmtpdump: unknown interface "nosuchif0"`) || strings.Count(s, "\n") != 0 {
		t.Errorf("want one clear line, got %q", s)
	}
}

func TestNotRoot(t *testing.T) {
	requireLive(t)
	setpriv := lookSetpriv(t)
	out, err := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		built.zmtpdump, "-i", "lo", "--port", "7001").CombinedOutput()
	if err == nil {
		t.Fatalf("no error without privileges: %s", out)
	}
	s := strings.TrimSpace(string(out))
	if !strings.Contains(s, "permission denied: run as root, or with CAP_BPF and CAP_NET_ADMIN") || strings.Count(s, "\n") != 0 {
		t.Errorf("want one clear line about privileges, got %q", s)
	}
}

// TestLiveIPv6 captures a conversation over [::1].
func TestLiveIPv6(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	d := startDump(t, "-i", "lo", "--json", "--port", fmt.Sprint(port))
	ep := fmt.Sprintf("tcp://[::1]:%d", port)
	runPeers(t,
		[]string{"-type", "pull", "-bind", ep, "-count", "2"},
		[]string{"-type", "push", "-connect", ep, "-count", "2"})
	out, _ := d.stop(t)
	dst := fmt.Sprintf(`"dst":"[::1]:%d","event":"message"`, port)
	if m := livetest.Lines(out, dst); len(m) != 2 {
		t.Errorf("want 2 messages to [::1]:%d, got %d:\n%s", port, len(m), out)
	}
	if g := livetest.Lines(out, `"event":"greeting"`, `"src":"[::1]:`); len(g) != 2 {
		t.Errorf("want 2 greetings with IPv6 endpoints, got %d", len(g))
	}
}
