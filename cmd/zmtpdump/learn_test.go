package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenLearn runs --explain and --ladder over the captures of the
// test peers and compares with cmd/zmtpdump/testdata/golden/NAME.explain.txt
// and friends (-update rewrites them). Read them as a newcomer would: every
// note must be true to the RFCs it cites.
func TestGoldenLearn(t *testing.T) {
	captures := map[string]string{
		"null":             "push_pull_null.pcap",
		"plain_ok":         "plain_ok.pcap",
		"plain_rejected":   "plain_rejected.pcap",
		"curve":            "curve.pcap",
		"pubsub":           "pubsub.pcap",
		"pubsub_zmq4_sub":  "pubsub_zmq4_sub.pcap",
		"reqrep":           "reqrep.pcap",
		"router_dealer":    "router_dealer.pcap",
		"downgrade_zmtp20": "downgrade_zmtp20.pcap",
		"downgrade_zmtp10": "downgrade_zmtp10.pcap",
		"heartbeat":        "heartbeat.pcap",
		"multipart":        "push_pull_multipart.pcap",
	}
	type run struct {
		golden, capture string
		args            []string
	}
	var runs []run
	for name, capture := range captures {
		runs = append(runs,
			run{name + ".explain.txt", capture, []string{"--explain"}},
			run{name + ".ladder.txt", capture, []string{"--ladder"}})
	}
	runs = append(runs,
		run{"reqrep.explain-all.txt", "reqrep.pcap", []string{"--explain=all"}},
		run{"curve.explain.jsonl", "curve.pcap", []string{"--explain", "--json"}},
		run{"heartbeat.explain-ladder.X.txt", "heartbeat.pcap", []string{"--explain", "--ladder", "-X", "-c", "1"}},
	)
	for _, tt := range runs {
		t.Run(tt.golden, func(t *testing.T) {
			args := append([]string{"-r", filepath.Join("../../testdata", tt.capture), "-t"}, tt.args...)
			got := runArgs(t, args...)
			checkGolden(t, filepath.Join("testdata/golden", tt.golden), args, got)
		})
	}
}

// TestLearnFlags checks what --explain and --ladder accept and refuse.
func TestLearnFlags(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{nil, ""},
		{[]string{"--explain"}, ""},
		{[]string{"--explain=all", "--ladder"}, ""},
		{[]string{"--explain=never"}, ""},
		{[]string{"--explain", "--json"}, ""},
		{[]string{"--explain=sometimes"}, "want once, all or never"},
		{[]string{"--explain", "-q"}, "-q prints none"},
		{[]string{"--ladder", "-w", "-"}, "-w - prints none"},
		{[]string{"--ladder", "--json"}, "--ladder draws text"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"-r", "../../testdata/push_pull_null.pcap"}, tt.args...)
			cfg, err := parse(args...)
			if len(tt.args) > 0 && tt.args[0] == "--explain" && err == nil && cfg.explain != "once" {
				t.Errorf("bare --explain set %q, want once", cfg.explain)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
