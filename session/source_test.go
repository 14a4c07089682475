package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/pcapfile"
	"github.com/zmtpdump/zmtpdump/segment"
)

// fakeSource yields segments, with errIdle between every two of them, and
// housekeeping after each idle spell.
type fakeSource struct {
	segs       []segment.Segment
	i          int
	idle       bool
	housekeeps int
	fail       error // returned instead of the last segment
}

func (f *fakeSource) next(seg *segment.Segment) error {
	if f.idle = !f.idle; f.idle && f.i > 0 {
		return errIdle
	}
	if f.i == len(f.segs) {
		return io.EOF
	}
	if f.fail != nil && f.i == len(f.segs)-1 {
		return f.fail
	}
	*seg = f.segs[f.i]
	f.i++
	return nil
}

func (f *fakeSource) due(seg *segment.Segment) (time.Time, bool) {
	if seg != nil {
		return time.Time{}, false
	}
	return f.segs[f.i-1].Time, true
}

func (f *fakeSource) housekeep(time.Time) error { f.housekeeps++; return nil }

func (f *fakeSource) end() time.Time { return f.segs[len(f.segs)-1].Time }

func readAll(t *testing.T, name string) []segment.Segment {
	t.Helper()
	segs, err := pcapfile.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// TestOneLoop: the loop prints the same whatever the source. A file read
// by Run and the same segments from a source that goes idle between every
// two (as a live one does) print the same lines; housekeeping runs after
// each idle spell, and an error of the source stops the loop with the
// connections still ended.
func TestOneLoop(t *testing.T) {
	const file = "../testdata/push_pull_multipart.pcap"
	cfg := &Config{ReadFile: file, Output: output.Options{Location: time.UTC}, Snap: 64}
	var want bytes.Buffer
	if err := Run(context.Background(), cfg, &want, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(want.Bytes(), []byte("connection closed")) {
		t.Fatalf("no connection summary:\n%s", want.String())
	}

	var got bytes.Buffer
	p := New(cfg, &got, io.Discard)
	src := &fakeSource{segs: readAll(t, file)}
	if err := p.loop(src); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("(-file +idle source):\n%s", diff)
	}
	if src.housekeeps != len(src.segs)-1 {
		t.Errorf("%d housekeepings, want one per idle spell (%d)", src.housekeeps, len(src.segs)-1)
	}

	broken := errors.New("ring buffer gone")
	var cut bytes.Buffer
	p = New(cfg, &cut, io.Discard)
	defer p.Close()
	if err := p.loop(&fakeSource{segs: readAll(t, file), fail: broken}); !errors.Is(err, broken) {
		t.Errorf("error %v, want %v", err, broken)
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cut.Bytes(), []byte("connection ")) {
		t.Errorf("the connection was not ended after the error:\n%s", cut.String())
	}
}
