package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// scrape returns the sum of the samples of /metrics at base whose line
// starts with name{ and holds every one of labels.
func scrape(t *testing.T, base, name string, labels ...string) (float64, string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `\{(.*)\} (\S+)$`)
next:
	for _, l := range strings.Split(string(body), "\n") {
		m := re.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		for _, w := range labels {
			if !strings.Contains(m[1], w) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	return sum, string(body)
}

// TestCountOnlySplitUnits (review T1, C1): count mode (-q --metrics) on
// what straddles packets and records: a SUB's subscriptions to long topics
// (commands or messages whose bodies run past their packet) with
// heartbeats (PING/PONG), and DEALER/ROUTER 1 KiB messages, whose
// directions ship their messages (their long headers split where the
// packets fall). zmtp_commands_total{command="SUBSCRIBE"}, the messages and
// frames are exactly what was sent: none counted twice.
func TestCountOnlySplitUnits(t *testing.T) {
	requireLive(t)
	const topics, msgs, trips, size = 40, 200, 300, 1024
	ps, dr, mport := freePort(t), freePort(t), freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", mport)
	d := startDump(t, "-i", "lo", "--port", strconv.Itoa(ps), "--port", strconv.Itoa(dr), "-q", "--status", "never",
		"--metrics", fmt.Sprintf("127.0.0.1:%d", mport))
	sub := []string{"-type", "sub", "-connect", fmt.Sprintf("tcp://127.0.0.1:%d", ps), "-count", strconv.Itoa(msgs),
		"-heartbeat-ivl", "50ms", "-timeout", "20s", "-hold", "300ms"}
	for i := 0; i < topics; i++ {
		sub = append(sub, "-subscribe", fmt.Sprintf("%03d", i)+strings.Repeat("t", 600))
	}
	topic := "000" + strings.Repeat("t", 600)
	runPeers(t,
		sub,
		[]string{"-type", "pub", "-bind", fmt.Sprintf("tcp://127.0.0.1:%d", ps), "-count", strconv.Itoa(msgs), "-prefix", topic,
			"-size", "100", "-wait", "1s", "-heartbeat-ivl", "50ms", "-hold", "300ms"})
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", dr)
	runPeers(t,
		[]string{"-type", "router", "-bind", ep, "-count", strconv.Itoa(trips)},
		[]string{"-type", "dealer", "-connect", ep, "-count", strconv.Itoa(trips), "-size", strconv.Itoa(size), "-wait", "0s"})
	psSvc := fmt.Sprintf(`server="127.0.0.1:%d"`, ps)
	drSvc := fmt.Sprintf(`server="127.0.0.1:%d"`, dr)
	subs, body := scrape(t, base, "zmtp_commands_total", psSvc, `command="SUBSCRIBE"`, `direction="to_server"`)
	pings, _ := scrape(t, base, "zmtp_commands_total", psSvc, `command="PING"`)
	pubMsgs, _ := scrape(t, base, "zmtp_messages_total", psSvc, `direction="to_client"`)
	drMsgs := [2]float64{}
	drFrames := [2]float64{}
	for i, dir := range []string{`direction="to_server"`, `direction="to_client"`} {
		drMsgs[i], _ = scrape(t, base, "zmtp_messages_total", drSvc, dir)
		drFrames[i], _ = scrape(t, base, "zmtp_frames_total", drSvc, dir)
	}
	out, errOut := d.stop(t)
	if !strings.Contains(errOut, "kernel counts messages (count mode)") {
		t.Fatalf("-q did not turn count mode on:\n%s", errOut)
	}
	t.Logf("SUBSCRIBE %v, PING %v, PUB messages %v; DEALER/ROUTER messages %v frames %v", subs, pings, pubMsgs, drMsgs, drFrames)
	if subs != topics {
		t.Errorf(`zmtp_commands_total{command="SUBSCRIBE"} %v, want %d`+"\n%s", subs, topics, body)
	}
	if pings == 0 {
		t.Errorf("no PING counted with heartbeats on")
	}
	if pubMsgs != msgs {
		t.Errorf("PUB messages %v, want %d", pubMsgs, msgs)
	}
	if drMsgs != [2]float64{trips, trips} {
		t.Errorf("DEALER/ROUTER messages %v, want %d each way", drMsgs, trips)
	}
	// Each way: the READY, then the messages' frames (the DEALER's an
	// empty delimiter and the body, as the ROUTER's replies: see the -q
	// table's exact figures below).
	rows := countRows(t, out)
	r, ok := rows["DEALER -> ROUTER"]
	if !ok || r.msgs != [2]uint64{trips, trips} || r.errors+r.gaps+r.resyncs != 0 {
		t.Errorf("DEALER -> ROUTER row %+v, want %d messages each way, no error, gap or resync\n%s", r, trips, out)
	}
	p, ok := rows["SUB -> PUB"]
	if !ok || p.msgs[1] != msgs || p.errors+p.gaps+p.resyncs != 0 {
		t.Errorf("SUB -> PUB row %+v, want %d messages to the SUB, no error, gap or resync\n%s", p, msgs, out)
	}
	for i, f := range drFrames {
		if per := (f - 1) / trips; per != float64(int(per)) || per < 1 {
			t.Errorf("DEALER/ROUTER frames %v (direction %d): not the READY and a whole number of frames a message", f, i)
		}
	}
}
