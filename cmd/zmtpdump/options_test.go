package main

import (
	"path/filepath"
	"testing"
)

// TestGoldenOptions runs the output options over captures in testdata and
// compares with cmd/zmtpdump/testdata/golden/NAME (-update rewrites them).
func TestGoldenOptions(t *testing.T) {
	for _, tt := range []struct {
		golden  string
		capture string
		args    []string
	}{
		{"multipart.X.txt", "push_pull_multipart.pcap", []string{"-X", "-s", "20"}},
		{"multipart.A.txt", "push_pull_multipart.pcap", []string{"-A"}},
		{"router_dealer.X.txt", "router_dealer.pcap", []string{"-X"}},
		{"curve.X.txt", "curve.pcap", []string{"-X", "-s", "8"}},
		{"null.t.txt", "push_pull_null.pcap", []string{"-t"}},
		{"null.tt.txt", "push_pull_null.pcap", []string{"-tt"}},
		{"null.ttt.txt", "push_pull_null.pcap", []string{"-ttt"}},
		{"null.tttt.txt", "push_pull_null.pcap", []string{"-tttt"}},
		{"null.c2.txt", "push_pull_null.pcap", []string{"-c", "2"}},
		{"null.G.txt", "push_pull_null.pcap", []string{"-G", "250ms"}},
		{"null.q.txt", "push_pull_null.pcap", []string{"-q"}},
		{"router_dealer.q.txt", "router_dealer.pcap", []string{"-q"}},
		{"pubsub.q.txt", "pubsub.pcap", []string{"--summary"}},
		{"plain_rejected.q.txt", "plain_rejected.pcap", []string{"-q"}},
		{"downgrade_zmtp20.q.txt", "downgrade_zmtp20.pcap", []string{"-q"}},
		{"heartbeat.q.txt", "heartbeat.pcap", []string{"-q", "-c", "1"}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			args := append([]string{"-r", filepath.Join("../../testdata", tt.capture)}, tt.args...)
			got := runArgs(t, args...)
			checkGolden(t, filepath.Join("testdata/golden", tt.golden), args, got)
		})
	}
}
