package main

import (
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestCountJSONStats: the JSON output's events are counted and its last
// line, the exit statistics, is kept and read as zmtpdump's statistics.
func TestCountJSONStats(t *testing.T) {
	keys := livetest.StatsKeys()
	var b strings.Builder
	b.WriteString(`{"event":"stats"`)
	for i, k := range keys {
		if k == "kernel_framing" {
			b.WriteString(`,"kernel_framing":true`)
			continue
		}
		b.WriteString(`,"` + k + `":` + strings.Repeat("1", i%3+1))
	}
	b.WriteString("}")
	out := `{"event":"message","size":3}` + "\n" + `{"event":"gap","bytes":5}` + "\n" +
		`{"event":"message","frames":[{"data_hex":"` + strings.Repeat("78", 1<<20) + `"}]}` + "\n" + b.String() + "\n"
	jc, err := countJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if jc.messages != 2 || jc.gaps != 1 || jc.stats == nil {
		t.Fatalf("counted %+v", jc)
	}
	zs, err := livetest.ParseStats(jc.stats)
	if err != nil {
		t.Fatal(err)
	}
	st := zmtpdumpStats(zs)
	if st.captured != int64(zs.PacketsCaptured) || st.ring != int64(zs.RingBytes) || st.skipped != int64(zs.BytesNotCaptured) || st.captured <= 0 {
		t.Errorf("%+v from %+v", st, zs)
	}
	zs.KernelFraming = false
	if st := zmtpdumpStats(zs); st.ring != -1 {
		t.Errorf("ring bytes known without kernel framing: %d", st.ring)
	}
}
