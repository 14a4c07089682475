package flows

import (
	"testing"

	"github.com/zmtpdump/zmtpdump/segment"
)

// ipcRecorder is a recorder that also notes the IPC values reported.
type ipcRecorder struct {
	recorder
	ipcs []*segment.IPC
}

func (r *ipcRecorder) IPC(v *segment.IPC) { r.ipcs = append(r.ipcs, v) }

// TestIPCReporter: every segment of a connection that carries an IPC value
// reports it, a FIN without bytes included, before the Close it causes.
func TestIPCReporter(t *testing.T) {
	var log []string
	var r *ipcRecorder
	a := New(Config{}, func(c *Conn) Consumer {
		r = &ipcRecorder{recorder: recorder{log: &log, conn: c}}
		return r
	})
	first, later := &segment.IPC{Path: "/a"}, &segment.IPC{Path: "/a", ServerPID: 2}
	segs := []segment.Segment{
		seg(true, 0, segment.SYN, ""),
		seg(false, 100, segment.SYN, "", 1),
		seg(true, 1, 0, "hello", 101),
		seg(false, 101, segment.FIN, "", 6),
		seg(true, 6, segment.FIN, "", 102),
	}
	for i := range segs {
		segs[i].IPC = first
		if i >= 3 {
			segs[i].IPC = later
		}
		a.Add(&segs[i])
	}
	if len(r.ipcs) != len(segs) || r.ipcs[0] != first || r.ipcs[3] != later || r.ipcs[4] != later {
		t.Errorf("IPC reported %v, want one per segment, the FINs' last", r.ipcs)
	}
	if len(log) != 1 {
		t.Errorf("log %q, want one close", log)
	}
}
