package livetest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sample is a statistics line written by hand from the key list of the
// README's JSON section, each number different.
const sample = `{"event":"stats","packets_captured":1,"packets_matched":2,"ring_drops":3,"events":4,` +
	`"messages":5,"connections":6,"bytes_reassembled":7,"out_of_order":8,"retransmitted":9,` +
	`"gaps":10,"bytes_lost":11,"bytes_not_captured":12,"packets_cut":13,"packets_unreadable":14,` +
	`"packets_not_parsed":15,"kernel_framing":true,"ring_bytes":16,"bytes_elided":17,` +
	`"directions_unframed":18,"joined":19,"rst_ignored":20,"fin_ignored":21,"acks_ignored":22,` +
	`"duplicates":23,"interfaces_added":24,"interfaces_removed":25}`

var sampleStats = Stats{
	PacketsCaptured: 1, PacketsMatched: 2, RingDrops: 3, Events: 4, Messages: 5, Connections: 6,
	BytesReassembled: 7, OutOfOrder: 8, Retransmitted: 9, Gaps: 10, BytesLost: 11, BytesNotCaptured: 12,
	PacketsCut: 13, PacketsUnreadable: 14, PacketsNotParsed: 15, KernelFraming: true, RingBytes: 16,
	BytesElided: 17, DirectionsUnframed: 18, Joined: 19, RSTIgnored: 20, FINIgnored: 21, AcksIgnored: 22,
	Duplicates: 23, InterfacesAdded: 24, InterfacesRemoved: 25,
}

func TestParseStats(t *testing.T) {
	st, err := ParseStats([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if st != sampleStats {
		t.Errorf("got %+v\nwant %+v", st, sampleStats)
	}
	if n := len(StatsKeys()); n != 26 {
		t.Errorf("%d keys, want the 26 of the README", n)
	}
}

func TestParseStatsRefuses(t *testing.T) {
	for name, line := range map[string]string{
		"missing key":      strings.Replace(sample, `"joined":19,`, "", 1),
		"not stats":        strings.Replace(sample, `"event":"stats"`, `"event":"message"`, 1),
		"no event":         strings.Replace(sample, `"event":"stats",`, "", 1),
		"bad number":       strings.Replace(sample, `"gaps":10`, `"gaps":"10"`, 1),
		"not JSON":         sample[:40],
		"negative":         strings.Replace(sample, `"gaps":10`, `"gaps":-1`, 1),
		"bool as a number": strings.Replace(sample, `"kernel_framing":true`, `"kernel_framing":1`, 1),
	} {
		if _, err := ParseStats([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
	// A key it does not know is no error.
	if _, err := ParseStats([]byte(strings.Replace(sample, `}`, `,"new_counter":7}`, 1))); err != nil {
		t.Errorf("unknown key: %v", err)
	}
}

func TestReadStatsLastLine(t *testing.T) {
	long := `{"event":"message","frames":[{"data_hex":"` + strings.Repeat("78", 100<<10) + `","stats":"event"}]}`
	earlier := strings.Replace(sample, `"packets_captured":1`, `"packets_captured":99`, 1)
	in := `{"event":"message","size":3}` + "\n" + earlier + "\n" + long + "\n" + sample // no final newline
	st, err := ReadStats(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if st != sampleStats {
		t.Errorf("did not read the last stats line: %+v", st)
	}
	if _, err := ReadStats(strings.NewReader(`{"event":"message"}` + "\n" + long + "\n")); !errors.Is(err, ErrNoStats) {
		t.Errorf("no stats line: %v, want ErrNoStats", err)
	}
}

func TestReadStatsFile(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"line":     sample + "\n",
		"indented": strings.ReplaceAll(strings.ReplaceAll(sample, ",", ",\n  "), "{", "{\n  ") + "\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := ReadStatsFile(path)
		if err != nil || st != sampleStats {
			t.Errorf("%s: %+v, %v", name, st, err)
		}
	}
	if _, err := ReadStatsFile(filepath.Join(dir, "none")); err == nil {
		t.Error("a missing file read without error")
	}
}

func TestStatsFileArg(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "lo", "--stats-file", "/tmp/s.json", "port 1"}, "/tmp/s.json"},
		{[]string{"-i", "lo", "--stats-file=/tmp/t.json"}, "/tmp/t.json"},
		{[]string{"-i", "lo", "--", "--stats-file", "x"}, ""},
		{[]string{"-i", "lo", "--stats-file"}, ""},
	} {
		if got := StatsFileArg(c.args); got != c.want {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
}
