package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/zmtpdump/zmtpdump/flows"
	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
)

// stallRecorder is a flows.Consumer that records its Stall calls.
type stallRecorder struct {
	calls *[]stallCall
}

type stallCall struct {
	d       segment.Dir
	stalled bool
	at      time.Time
}

func (stallRecorder) Data(segment.Dir, []byte, *segment.Segment) {}
func (stallRecorder) Gap(segment.Dir, uint64, *segment.Segment)  {}
func (stallRecorder) Skip(segment.Dir, uint64, *segment.Segment) {}
func (r stallRecorder) Stall(d segment.Dir, stalled bool, seg *segment.Segment) {
	*r.calls = append(*r.calls, stallCall{d, stalled, seg.Time})
}
func (stallRecorder) Close(segment.CloseReason, *segment.Segment) {}

// TestLiveWindowStall stops a libzmq PULL (SIGSTOP) while its PUSH keeps
// sending large messages, so that the PULL's kernel closes its receive
// window, and resumes it. The -w file must hold the real windows the
// kernel shipped: the PULL's zero windows among varied ones, and the
// SYNs' window scale; a flows.Assembler fed that file must see the PUSH
// stalled for about as long as the PULL was stopped.
func TestLiveWindowStall(t *testing.T) {
	requireLive(t)
	port := freePort(t)
	ep := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	file := filepath.Join(t.TempDir(), "stall.pcapng")
	d := startDump(t, "-i", "lo", "--port", fmt.Sprint(port), "-q", "-w", file)

	// 800 messages of 32 KiB, 20 every 50 ms: some 13 MB/s for 2 s.
	const count, size = 800, 32 << 10
	const stopped = 1500 * time.Millisecond
	got := stallPull(t, ep, count, size, stopped)
	if got != count {
		t.Errorf("the PULL received %d messages, want %d", got, count)
	}
	d.stop(t)

	segs, err := pcapfile.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	srv := fmt.Sprintf("127.0.0.1:%d", port)
	var zero, fromPull int
	windows := map[uint16]bool{}
	synScales := map[string]int8{}
	for _, s := range segs {
		if s.Has(segment.SYN) {
			synScales[segment.FlagString(s.Flags)] = s.WScale
			continue
		}
		if s.Src.String() != srv {
			continue
		}
		fromPull++
		windows[s.Window] = true
		if s.Window == 0 {
			zero++
		}
	}
	t.Logf("%d segments, %d from the PULL, %d of them with a zero window, %d distinct windows; SYN window scales %v",
		len(segs), fromPull, zero, len(windows), synScales)
	if zero == 0 {
		t.Errorf("no zero window from the stopped PULL in %d of its segments", fromPull)
	}
	if len(windows) < 3 {
		t.Errorf("the PULL's segments carry %d distinct windows (%v): not the real ones", len(windows), windows)
	}
	// Linux announces a window scale on lo (tcp_window_scaling).
	for _, f := range []string{"SYN", "SYN ACK"} {
		if ws, ok := synScales[f]; !ok || ws < 0 {
			t.Errorf("%s: window scale %d (seen %v), want one", f, ws, ok)
		}
	}

	var calls []stallCall
	a := flows.New(flows.Config{}, func(*flows.Conn) flows.Consumer { return stallRecorder{&calls} })
	for i := range segs {
		a.Add(&segs[i])
	}
	a.Flush(time.Now())
	for _, c := range calls {
		t.Logf("%v stalled %v at %s", c.d, c.stalled, c.at.Format("15:04:05.000000"))
	}
	if a.Stats().ZeroWindows == 0 || len(calls) < 2 {
		t.Fatalf("%d stalls begun (%d Stall calls), want the PUSH stalled", a.Stats().ZeroWindows, len(calls))
	}
	var total time.Duration
	for i := 0; i+1 < len(calls); i += 2 {
		begin, end := calls[i], calls[i+1]
		if begin.d != segment.ClientToServer || !begin.stalled || end.d != begin.d || end.stalled {
			t.Fatalf("Stall calls %+v: want the PUSH's direction stalled, then recovered, in turn", calls)
		}
		total += end.at.Sub(begin.at)
	}
	if len(calls)%2 != 0 {
		t.Errorf("Stall calls %+v: the last stall never ended", calls)
	}
	// The window closed some time after the stop and opened at the
	// continue: the stall lasts most of the stop.
	if total < stopped/2 || total > stopped+time.Second {
		t.Errorf("stalled %v in all, for a PULL stopped %v", total, stopped)
	}
}

// stallPull runs a libzmq PUSH -> PULL on ep of count messages of size
// bytes, 20 every 50 ms, and stops the PULL (SIGSTOP) for stopped after its
// first message, so that its kernel closes the receive window and opens it
// again; it returns once both peers are done, with the messages the PULL
// received.
func stallPull(t *testing.T, ep string, count, size int, stopped time.Duration) int {
	t.Helper()
	pull, err := livetest.StartReceiver(exec.Command(built.peer, "-type", "pull", "-bind", ep,
		"-count", fmt.Sprint(count), "-print", "-timeout", "60s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pull.Kill)
	time.Sleep(100 * time.Millisecond) // let it bind
	push := exec.Command(built.peer, "-type", "push", "-connect", ep, "-count", fmt.Sprint(count),
		"-size", fmt.Sprint(size), "-burst", "20", "-interval", "50ms", "-linger", "60s", "-timeout", "60s")
	var pushErr livetest.Buffer
	push.Stderr = &pushErr
	if err := push.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { push.Process.Kill(); push.Wait() })
	if err := pull.WaitCount(1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	pid := pull.Cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(stopped)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := pull.Wait(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := push.Wait(); err != nil {
		t.Fatalf("push: %v\n%s", err, pushErr.String())
	}
	return pull.Count()
}
