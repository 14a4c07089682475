package loader

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/segment"
)

// TestRingReadsInOrderAndWraps writes many more records than the ring holds,
// reading as it goes: every record comes out whole and in order across
// the ring's end.
func TestRingReadsInOrderAndWraps(t *testing.T) {
	requireBPF(t)
	p := loadTestProgram(t, Config{}, haveLoop(), 14, 0, 4096)
	payload := make([]byte, 300)
	for i := range 100 {
		for j := range payload {
			payload[j] = byte(i + j)
		}
		f := buildFrame(t, frameSpec{sport: 40000, dport: 7001, flags: segment.ACK, seq: uint32(1000 + i), payload: string(payload)})
		if _, err := p.objs.CaptureIngress.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatal(err)
		}
		segs := p.records(t, time.Millisecond)
		if len(segs) != 1 || segs[0].Seq != uint32(1000+i) || string(segs[0].Payload) != string(payload) {
			t.Fatalf("record %d: %d records, %+v", i, len(segs), segs)
		}
	}
	st, err := readCounters(&p.objs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lost != 0 {
		t.Errorf("%d records lost in a ring read as it fills", st.Lost)
	}
}

// TestRingDeadlineAndInterrupt: a read on an empty ring returns at its
// deadline, and at once when another goroutine interrupts it.
func TestRingDeadlineAndInterrupt(t *testing.T) {
	requireBPF(t)
	p := loadTestProgram(t, Config{}, haveLoop(), 14, 0, 4096)
	start := time.Now()
	p.rd.setDeadline(start.Add(30 * time.Millisecond))
	if _, err := p.rd.read(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on an empty ring: %v, want the deadline", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Errorf("read returned after %v, before its deadline", d)
	}
	p.rd.setDeadline(time.Time{})
	go func() {
		time.Sleep(30 * time.Millisecond)
		p.rd.interrupt()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := p.rd.read()
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errRingClosed) {
			t.Errorf("interrupted read: %v, want errRingClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("interrupt did not end a pending read")
	}
}
