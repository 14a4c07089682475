package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCostTargets: the table's ns/msg is the capturer's CPU less its idle
// CPU over the messages sent, and the targets section says met or MISSED
// for each per-message target by that figure, the decoded count and the
// application's rate; a cell skipped says why.
func TestCostTargets(t *testing.T) {
	small := workloads(1)[0]
	caps := capturers(&bins{hasWrite: true})
	byName := map[string]capturer{}
	for _, c := range caps {
		byName[c.name] = c
	}
	q := byName["zmtpdump-q-metrics"]
	q.skip = "needs --metrics: zmtpdump has no --metrics flag yet"
	r := &report{caps: []capturer{byName["none"], byName["zmtpdump-q"], q, byName["zmtpdump-json-null"], byName["zmtpdump-text"]}}
	const n = 2_000_000
	run := func(c string, rate float64, cpu time.Duration, decoded int64) {
		r.add(small, byName[c], result{appRate: rate, capCPU: cpu, sent: n, decoded: decoded, drops: 0, packets: 1})
	}
	run("none", 1_000_000, 0, -1)
	// -q: 0.24 s idle, 0.28 s in all: 20 ns/msg, app at 96%: met.
	r.setIdle(byName["zmtpdump-q"], 240*time.Millisecond)
	run("zmtpdump-q", 960_000, 280*time.Millisecond, n)
	// --json: 0.24 s idle, 0.60 s: 180 ns/msg: missed.
	r.setIdle(byName["zmtpdump-json-null"], 240*time.Millisecond)
	run("zmtpdump-json-null", 800_000, 600*time.Millisecond, n)
	// text: 100 ns/msg but one message not decoded: missed.
	r.setIdle(byName["zmtpdump-text"], 240*time.Millisecond)
	run("zmtpdump-text", 800_000, 440*time.Millisecond, n-1)

	md := r.markdown()
	for _, want := range []string{
		"| ns/msg |",
		"| zmtpdump -q | 960,000 | 96.0% | 0.28 | 20 |",
		"| 0.60 | 180 |",
		"- Per-message cost (zmtpdump -q, small, ≤ 25 ns/msg, app ≥ 95%, every message decoded): met: 20 ns/msg, app 96.0% of uncaptured, 2,000,000 of 2,000,000 decoded, 0 dropped.",
		"- Per-message cost (zmtpdump -q --metrics, small, ≤ 25 ns/msg, app ≥ 95%, every message decoded): not measured (needs --metrics: zmtpdump has no --metrics flag yet).",
		"- Per-message cost (zmtpdump --json > /dev/null, small, ≤ 150 ns/msg, every message decoded): MISSED: 180 ns/msg",
		"- Per-message cost (zmtpdump > /dev/null, small, ≤ 150 ns/msg, every message decoded): MISSED: 100 ns/msg, app 80.0% of uncaptured, 1,999,999 of 2,000,000 decoded",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	// A workload whose measured flow the filter does not match has no ns/msg.
	if _, ok := r.nsPerMsg(workloads(1)[3], byName["zmtpdump-q"], cell{n: 1, sent: 10}); ok {
		t.Error("ns/msg known for the unrelated workload")
	}
}

// TestNsPerMsgNoise: the idle cost is measured as many times as the cell;
// a marginal cost within the idle runs' spread is "< noise (±X)", never a
// figure (nor a negative one), and a target is met on it only if the noise
// itself is within the target.
func TestNsPerMsgNoise(t *testing.T) {
	small := workloads(1)[0]
	caps := capturers(&bins{hasWrite: true})
	byName := map[string]capturer{}
	for _, c := range caps {
		byName[c.name] = c
	}
	qm := byName["zmtpdump-q-metrics"]
	qm.skip = ""
	byName[qm.name] = qm
	r := &report{caps: []capturer{byName["none"], byName["zmtpdump-q"], qm}}
	const n = 2_000_000
	run := func(c string, rate float64, cpu time.Duration) {
		r.add(small, byName[c], result{appRate: rate, capCPU: cpu, sent: n, decoded: n, drops: 0, packets: 1})
	}
	run("none", 1_000_000, 0)
	// -q: idle 0.14, 0.15, 0.16 s (±0.01 s: ±5 ns/msg over 2M),
	// the cell 0.15 s: below the noise.
	for _, ms := range []int{140, 150, 160} {
		r.setIdle(byName["zmtpdump-q"], time.Duration(ms)*time.Millisecond)
	}
	run("zmtpdump-q", 960_000, 150*time.Millisecond)
	// -q --metrics: idle 0.10, 0.20, 0.30 s (±50 ns/msg), the cell
	// 0.14 s: negative marginal, below a noise larger than the target.
	for _, ms := range []int{100, 200, 300} {
		r.setIdle(byName["zmtpdump-q-metrics"], time.Duration(ms)*time.Millisecond)
	}
	run("zmtpdump-q-metrics", 960_000, 140*time.Millisecond)
	md := r.markdown()
	for _, want := range []string{
		"| zmtpdump -q | 960,000 | 96.0% | 0.15 | < noise (±5) |",
		"| 0.14 | < noise (±50) |",
		"- Per-message cost (zmtpdump -q, small, ≤ 25 ns/msg, app ≥ 95%, every message decoded): met: < noise (±5 ns/msg)",
		"- Per-message cost (zmtpdump -q --metrics, small, ≤ 25 ns/msg, app ≥ 95%, every message decoded): UNDETERMINED (the idle runs' noise exceeds the target): < noise (±50 ns/msg)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if regexp.MustCompile(`\| -[0-9]`).MatchString(md) {
		t.Errorf("a negative figure:\n%s", md)
	}
}
