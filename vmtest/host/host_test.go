package main

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestCpioNewc(t *testing.T) {
	var buf bytes.Buffer
	c := &cpioWriter{w: &buf}
	c.Dir("bin")
	c.CharDev("dev/console", 0o600, 5, 1)
	c.File("bin/hello", 0o755, []byte("hello, world\n"))
	c.File("empty", 0o644, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	type entry struct {
		name        string
		mode        uint64
		major, minr uint64
		data        string
	}
	var got []entry
	b := buf.Bytes()
	for len(b) > 0 {
		if len(b) < 110 || string(b[:6]) != "070701" {
			t.Fatalf("bad header at offset %d: %q", buf.Len()-len(b), b[:min(len(b), 16)])
		}
		field := func(i int) uint64 {
			v, err := strconv.ParseUint(string(b[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		size, nameSize := int(field(6)), int(field(11))
		name := string(b[110 : 110+nameSize-1])
		if b[110+nameSize-1] != 0 {
			t.Fatalf("%s: name not NUL-terminated", name)
		}
		off := (110 + nameSize + 3) &^ 3
		got = append(got, entry{name, field(1), field(9), field(10), string(b[off : off+size])})
		b = b[(off+size+3)&^3:]
		if name == "TRAILER!!!" {
			break
		}
	}
	if len(b) != 0 {
		t.Errorf("%d bytes after the trailer", len(b))
	}
	want := []entry{
		{"bin", 0o040755, 0, 0, ""},
		{"dev/console", 0o020600, 5, 1, ""},
		{"bin/hello", 0o100755, 0, 0, "hello, world\n"},
		{"empty", 0o100644, 0, 0, ""},
		{"TRAILER!!!", 0, 0, 0, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}

	// Cross-check with GNU cpio where it is installed.
	if _, err := exec.LookPath("cpio"); err == nil {
		cmd := exec.Command("cpio", "-it", "--quiet")
		cmd.Stdin = bytes.NewReader(buf.Bytes())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cpio -it: %v\n%s", err, out)
		}
		if list := strings.Fields(string(out)); strings.Join(list, " ") != "bin dev/console bin/hello empty" {
			t.Errorf("cpio -it lists %q", list)
		}
	}
}

func TestVerdict(t *testing.T) {
	const kernel = "6.1.0-56-cloud-amd64"
	for _, tc := range []struct {
		name, report string
		ok           bool
	}{
		{"all passed", "INFO kernel 6.1.0-56-cloud-amd64 #1 SMP\r\nPASS a (1.0s)\r\nPASS b (0.1s)\r\n2 passed, 0 failed\r\n", true},
		{"a failure", "INFO kernel 6.1.0-56-cloud-amd64 #1\nPASS a (1.0s)\nFAIL b: no\n| detail\n1 passed, 1 failed\n", false},
		{"no summary", "INFO kernel 6.1.0-56-cloud-amd64 #1\nPASS a (1.0s)\n", false},
		{"empty", "", false},
		{"nothing ran", "INFO kernel 6.1.0-56-cloud-amd64 #1\n0 passed, 0 failed\n", false},
		{"summary disagrees", "INFO kernel 6.1.0-56-cloud-amd64 #1\nPASS a (1.0s)\n2 passed, 0 failed\n", false},
		{"wrong kernel", "INFO kernel 6.18.0 #1\nPASS a (1.0s)\n1 passed, 0 failed\n", false},
		{"a detail line is not a result", "INFO kernel 6.1.0-56-cloud-amd64 #1\nPASS a (1.0s)\n| FAIL x: y\n1 passed, 0 failed\n", true},
	} {
		err := parseResults(tc.report).verdict(kernel)
		if (err == nil) != tc.ok {
			t.Errorf("%s: verdict %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
