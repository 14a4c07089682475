package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/skip"
	"github.com/zmtpdump/zmtpdump/session"
)

// TestWriteRefusesSymlink plants a symbolic link at the -w and
// --cpu-profile paths, pointing to a file: zmtpdump refuses it with an
// error naming the link, and the file it points to is untouched.
func TestWriteRefusesSymlink(t *testing.T) {
	for _, flag := range []string{"-w", "--cpu-profile"} {
		t.Run(flag, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "precious")
			const content = "do not truncate me\n"
			if err := os.WriteFile(target, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			link := filepath.Join(dir, "out.pcapng")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			cmd := newRootCommand(&stdout, &stderr)
			cmd.SetArgs([]string{"-r", "../../testdata/push_pull_null.pcap", flag, link})
			err := cmd.ExecuteContext(context.Background())
			if !errors.Is(err, session.ErrSymlink) || !strings.Contains(err.Error(), link+" is a symbolic link") {
				t.Errorf("%s through a symlink: error %v, want %q", flag, err, link+" is a symbolic link: "+session.ErrSymlink.Error())
			}
			if got, _ := os.ReadFile(target); string(got) != content {
				t.Errorf("the symlink's target was changed: %d bytes, starting %q", len(got), got[:min(16, len(got))])
			}
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the symlink itself was replaced: %v %v", fi, err)
			}
		})
	}
}

// TestWriteFileMode: a new -w or --cpu-profile file is readable by its
// owner only (zmtpdump runs as root, and the file holds the traffic); an
// existing one keeps its mode, and -w - still writes to stdout.
func TestWriteFileMode(t *testing.T) {
	dir := t.TempDir()
	out, prof := filepath.Join(dir, "new.pcapng"), filepath.Join(dir, "cpu.prof")
	runArgs(t, "-r", "../../testdata/push_pull_null.pcap", "-w", out, "--cpu-profile", prof)
	for _, name := range []string{out, prof} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", filepath.Base(name), fi.Mode().Perm())
		}
	}
	old := filepath.Join(dir, "old.pcapng")
	if err := os.WriteFile(old, []byte("old contents, longer than nothing"), 0o640); err != nil {
		t.Fatal(err)
	}
	runArgs(t, "-r", "../../testdata/push_pull_null.pcap", "-w", old)
	if fi, _ := os.Stat(old); fi.Mode().Perm() != 0o640 {
		t.Errorf("an existing file's mode changed to %v", fi.Mode().Perm())
	}
	if got, want := runArgs(t, "-r", old), runArgs(t, "-r", out); got != want || got == "" {
		t.Errorf("the overwritten file decodes as %q, want %q", got, want)
	}
	var stdout, stderr bytes.Buffer
	cmd := newRootCommand(&stdout, &stderr)
	cmd.SetArgs([]string{"-r", "../../testdata/push_pull_null.pcap", "-w", "-"})
	if err := cmd.ExecuteContext(context.Background()); err != nil || !bytes.HasPrefix(stdout.Bytes(), []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		t.Errorf("-w -: %v, stdout starts % x", err, stdout.Bytes()[:min(4, stdout.Len())])
	}
}

// TestWriteRefusesOthersFile: an existing file that another user owns
// (planted in a shared directory, writable to all) is refused untouched;
// one of our own is overwritten.
func TestWriteRefusesOthersFile(t *testing.T) {
	if os.Geteuid() != 0 {
		skip.Unavailable(t, "needs root to give a file to another user")
	}
	dir := t.TempDir()
	planted := filepath.Join(dir, "planted.pcapng")
	const content = "attacker's file\n"
	if err := os.WriteFile(planted, []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(planted, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := newRootCommand(&stdout, &stderr)
	cmd.SetArgs([]string{"-r", "../../testdata/push_pull_null.pcap", "-w", planted})
	err := cmd.ExecuteContext(context.Background())
	if !errors.Is(err, session.ErrNotOurs) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("-w into another user's file: error %v, want %v naming uid 65534", err, session.ErrNotOurs)
	}
	if got, _ := os.ReadFile(planted); string(got) != content {
		t.Errorf("the other user's file was changed: %q", got)
	}
	mine := filepath.Join(dir, "mine.pcapng")
	if err := os.WriteFile(mine, []byte("old content, longer than nothing\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	runArgs(t, "-r", "../../testdata/push_pull_null.pcap", "-w", mine)
	if got, _ := os.ReadFile(mine); !bytes.HasPrefix(got, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		t.Errorf("our own file was not rewritten as pcapng: starts %q", got[:min(8, len(got))])
	}
}
