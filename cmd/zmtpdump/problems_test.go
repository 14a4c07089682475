package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The problem captures of testdata (issue 16; see testdata/README.md and
// record.sh): real libzmq traffic, one kind of problem each, and the healthy
// ones that must show none.

// problemCase is one capture and what the diagnosis must find in it.
type problemCase struct {
	file  string
	kinds []string // the exact set of problem kinds, sorted; nil: none
	lines int      // if > 0, exactly this many problem lines
	check func(t *testing.T, conns []map[string]any)
}

var problemCases = []problemCase{
	{file: "problem_socket_type.pcap", kinds: []string{"socket-type-mismatch"}},
	{file: "problem_socket_type_zmq4.pcap", kinds: []string{"socket-type-mismatch"}},
	{file: "problem_mechanism.pcap", kinds: []string{"mechanism-mismatch"}},
	{file: "problem_curve_wrong_key.pcap", kinds: []string{"auth-failed"}},
	{file: "plain_rejected.pcap", kinds: []string{"auth-failed"}},
	// One problem per burst: 10 refused SYNs in 1.4 s are one burst.
	{file: "problem_connect_refused.pcap", kinds: []string{"connect-refused"}, lines: 1},
	{file: "problem_heartbeat_timeout.pcap", kinds: []string{"heartbeat-timeout"}},
	{file: "problem_stalled.pcap", kinds: []string{"stalled"}, check: func(t *testing.T, conns []map[string]any) {
		// The window is zero for about 640 ms.
		within(t, "stalled_ms", one(t, conns, "stalled_ms"), 300, 1100)
	}},
	{file: "problem_duplicate_identity.pcap", kinds: []string{"duplicate-identity"}, lines: 1},
	{file: "problem_unsupported_version.pcap", kinds: []string{"unsupported-version"}, lines: 1},
	{file: "healthy_push_pull.pcap", check: func(t *testing.T, conns []map[string]any) {
		// -heartbeat-ivl 100ms.
		within(t, "heartbeat_interval_ms", one(t, conns, "heartbeat_interval_ms"), 80, 120)
	}},
	{file: "healthy_reqrep_delay.pcap", check: func(t *testing.T, conns []map[string]any) {
		// 10 round trips, the REP sleeping 20 ms before each reply.
		lat, ok := one(t, conns, "latency").(map[string]any)
		if !ok {
			t.Fatalf("latency is not an object: %v", conns)
		}
		within(t, "latency.count", lat["count"], 10, 10)
		within(t, "latency.p50_us", lat["p50_us"], 16000, 24000)
	}},
}

// TestProblemCaptures runs -r over each problem capture with --json and
// checks the problem lines' kinds (exactly), the exit summary's kinds, the
// text output's problem lines, and that --no-problems turns them all off.
func TestProblemCaptures(t *testing.T) {
	for _, tc := range problemCases {
		t.Run(tc.file, func(t *testing.T) {
			capture := filepath.Join("../../testdata", tc.file)
			stdout, _ := runOutputs(t, "-r", capture, "--json")
			problems, summary, conns := jsonProblems(t, stdout)
			if got := sortedKinds(problems); !slices.Equal(got, tc.kinds) {
				t.Errorf("problem kinds %q, want %q\n%s", got, tc.kinds, stdout)
			}
			if tc.lines > 0 && len(problems) != tc.lines {
				t.Errorf("%d problem lines, want %d\n%s", len(problems), tc.lines, stdout)
			}
			for _, p := range problems {
				if text, _ := p["text"].(string); text == "" {
					t.Errorf("problem without text: %v", p)
				}
			}
			checkSummary(t, summary, tc.kinds, stdout)
			if tc.check != nil {
				tc.check(t, conns)
			}

			text, textErr := runOutputs(t, "-r", capture)
			for _, k := range tc.kinds {
				if !strings.Contains(text, " problem: "+k+": ") {
					t.Errorf("text output has no \"problem: %s:\" line:\n%s", k, text)
				}
			}
			if len(tc.kinds) == 0 && (strings.Contains(text, " problem: ") || strings.Contains(textErr, "problems:")) {
				t.Errorf("a healthy capture shows a problem:\n%s\n%s", text, textErr)
			}
			if len(tc.kinds) > 0 && !strings.Contains(textErr, "problems: ") {
				t.Errorf("no \"problems:\" summary on stderr:\n%s", textErr)
			}

			off, _ := runOutputs(t, "-r", capture, "--json", "--no-problems")
			if problems, summary, _ := jsonProblems(t, off); len(problems) > 0 || summary != nil {
				t.Errorf("--no-problems still shows problems:\n%s", off)
			}
		})
	}
}

// TestProblemsNoneInHealthyCaptures: every other real capture in testdata is
// a healthy conversation and shows no problem (plain_rejected.pcap's failed
// authentication is the exception, a problem case above).
func TestProblemsNoneInHealthyCaptures(t *testing.T) {
	captures, err := filepath.Glob("../../testdata/*.pcap*")
	if err != nil || len(captures) == 0 {
		t.Fatalf("no captures in testdata: %v", err)
	}
	cased := map[string]bool{}
	for _, tc := range problemCases {
		cased[tc.file] = true
	}
	for _, capture := range captures {
		name := filepath.Base(capture)
		if cased[name] {
			continue
		}
		t.Run(name, func(t *testing.T) {
			stdout, _ := runOutputs(t, "-r", capture, "--json")
			if problems, summary, _ := jsonProblems(t, stdout); len(problems) > 0 || summary != nil {
				t.Errorf("a healthy capture shows problems %q:\n%s", sortedKinds(problems), stdout)
			}
		})
	}
}

// TestProblemGoldens compares the -q table (latency, stalled time) and the
// --explain output of each problem capture with testdata/golden/NAME.q.txt
// and NAME.explain.txt (regenerate with -update, then review). TestGolden
// covers their text, -v and --json outputs.
func TestProblemGoldens(t *testing.T) {
	for _, tc := range problemCases {
		if !strings.HasPrefix(tc.file, "problem_") && !strings.HasPrefix(tc.file, "healthy_") {
			continue
		}
		for _, mode := range []struct {
			suffix string
			args   []string
		}{
			{".q.txt", []string{"-q"}},
			{".explain.txt", []string{"--explain"}},
		} {
			t.Run(tc.file+mode.suffix, func(t *testing.T) {
				capture := filepath.Join("../../testdata", tc.file)
				args := append([]string{"-r", capture}, mode.args...)
				stdout, stderr := runOutputs(t, args...)
				checkGolden(t, filepath.Join("../../testdata/golden", tc.file+mode.suffix), args, stdout+stderr)
			})
		}
	}
}

// jsonProblems parses zmtpdump's JSON lines: the problem events, the exit
// summary (the "problems" line, nil when there is none) and the connection
// events.
func jsonProblems(t *testing.T, out string) (problems []map[string]any, summary map[string]any, conns []map[string]any) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		switch m["event"] {
		case "problem":
			problems = append(problems, m)
		case "problems":
			summary = m
		case "connection":
			conns = append(conns, m)
		}
	}
	return problems, summary, conns
}

// sortedKinds returns the distinct kinds of problems, sorted (nil: none).
func sortedKinds(problems []map[string]any) []string {
	var kinds []string
	for _, p := range problems {
		k, _ := p["kind"].(string)
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	return kinds
}

// checkSummary checks the exit summary's by_kind names exactly kinds, each
// with at least one problem and one connection.
func checkSummary(t *testing.T, summary map[string]any, kinds []string, out string) {
	t.Helper()
	if len(kinds) == 0 {
		if summary != nil {
			t.Errorf("a summary of problems with none shown: %v", summary)
		}
		return
	}
	byKind, ok := summary["by_kind"].(map[string]any)
	if !ok {
		t.Fatalf("no {\"event\":\"problems\",\"by_kind\":...} summary line:\n%s", out)
	}
	var got []string
	for k, v := range byKind {
		got = append(got, k)
		entry, _ := v.(map[string]any)
		if n, _ := entry["count"].(float64); n < 1 {
			t.Errorf("summary %s: count %v", k, entry["count"])
		}
		if c, _ := entry["connections"].([]any); len(c) < 1 {
			t.Errorf("summary %s: no connections: %v", k, entry)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, kinds) {
		t.Errorf("summary kinds %q, want %q", got, kinds)
	}
}

// one returns key's value in the one connection event that has it.
func one(t *testing.T, conns []map[string]any, key string) any {
	t.Helper()
	var found []any
	for _, c := range conns {
		if v, ok := c[key]; ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d connection events with %q, want 1: %v", len(found), key, conns)
	}
	return found[0]
}

// within checks that v, a JSON number, is in [lo, hi].
func within(t *testing.T, what string, v any, lo, hi float64) {
	t.Helper()
	n, ok := v.(float64)
	if !ok || n < lo || n > hi {
		t.Errorf("%s = %v, want %v..%v", what, v, lo, hi)
	}
}
