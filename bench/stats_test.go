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

// TestAddZmtpdumpIPC: on an ipc workload decoded is the statistics'
// "messages" (for -q too, even 0: never events less 4 per connection),
// drops and packets are the ipc ring's, there are no ring-buffer
// figures, cut and untraced sends are problems, and statistics without
// the ipc keys are an error. On TCP nothing of that changes.
func TestAddZmtpdumpIPC(t *testing.T) {
	zs := livetest.Stats{PacketsCaptured: 1700, Events: 200_004, Messages: 200_000, Connections: 1,
		BytesReassembled: 13_200_000, IPC: true, IPCRecords: 1690, IPCLost: 3, IPCCut: 10, IPCConnections: 1, IPCOnly: true}
	fresh := func() result { return result{decoded: -1, drops: -1, packets: -1, ring: -1, payload: -1} }

	res := fresh()
	if err := res.addZmtpdump(zmtpdumpStats(zs), jsonCounts{}, false, true); err != nil {
		t.Fatal(err)
	}
	if res.decoded != 200_000 || res.drops != 3 || res.packets != 1690 || res.ring != -1 || res.payload != -1 {
		t.Errorf("ipc: %+v", res)
	}
	if !strings.Contains(strings.Join(res.problems, "; "), "10 bytes of sends cut") {
		t.Errorf("ipc problems: %q", res.problems)
	}

	// Nothing decoded is 0 decoded, not events - 4 × connections.
	z0 := zs
	z0.Messages, z0.Events = 0, 40
	res = fresh()
	if err := res.addZmtpdump(zmtpdumpStats(z0), jsonCounts{}, false, true); err != nil || res.decoded != 0 {
		t.Errorf("ipc, no messages: decoded %d, %v", res.decoded, err)
	}
	// On TCP that fallback stays.
	z0.IPC = false
	res = fresh()
	if err := res.addZmtpdump(zmtpdumpStats(z0), jsonCounts{}, false, false); err != nil || res.decoded != 36 {
		t.Errorf("tcp, no messages: decoded %d, %v", res.decoded, err)
	}

	// --json: the message events counted.
	res = fresh()
	if err := res.addZmtpdump(zmtpdumpStats(zs), jsonCounts{messages: 199_999}, true, true); err != nil || res.decoded != 199_999 {
		t.Errorf("ipc --json: decoded %d, %v", res.decoded, err)
	}

	// A TCP capture's statistics on an ipc workload.
	tcp := zs
	tcp.IPC = false
	res = fresh()
	if err := res.addZmtpdump(zmtpdumpStats(tcp), jsonCounts{}, false, true); err == nil {
		t.Errorf("ipc workload without ipc statistics: no error, %+v", res)
	}
}
