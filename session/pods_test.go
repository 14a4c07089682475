package session

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPodLabels reads a pod's name and namespace under a process's root,
// from a /proc of the test's own: none for a process of our UTS namespace
// (the host's), none from a file that cannot be a name.
func TestPodLabels(t *testing.T) {
	proc := t.TempDir()
	mk := func(pid, uts, hostname, namespace string) {
		dir := filepath.Join(proc, pid)
		for _, d := range []string{"ns", "root/etc", "root/" + filepath.Dir(namespaceFile)} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(uts, filepath.Join(dir, "ns", "uts")); err != nil {
			t.Fatal(err)
		}
		if hostname != "" {
			os.WriteFile(filepath.Join(dir, "root", hostnameFile), []byte(hostname), 0o644)
		}
		if namespace != "" {
			os.WriteFile(filepath.Join(dir, "root", namespaceFile), []byte(namespace), 0o644)
		}
	}
	mk("self", "uts:[1]", "node-1\n", "")
	mk("10", "uts:[1]", "node-1\n", "")
	mk("20", "uts:[2]", "web-7d4b9c-x2x9q\n", "shop")
	mk("30", "uts:[3]", "plain-container\n", "")
	long := make([]byte, 300)
	for i := range long {
		long[i] = 'a'
	}
	mk("40", "uts:[4]", string(long), "ns")
	// /var/run -> /run, absolute, as most images have it: resolved in the
	// process's root, not ours.
	mk("60", "uts:[6]", "api-0", "")
	root := filepath.Join(proc, "60", "root")
	os.RemoveAll(filepath.Join(root, "var", "run"))
	os.Symlink("/run", filepath.Join(root, "var", "run"))
	os.MkdirAll(filepath.Join(root, "run", "secrets", "kubernetes.io", "serviceaccount"), 0o755)
	os.WriteFile(filepath.Join(root, "run", "secrets", "kubernetes.io", "serviceaccount", "namespace"), []byte("billing\n"), 0o644)
	pl := &podLabels{proc: proc, pids: map[string]pod{}, utsOf: map[int]string{}}
	pl.own, _ = os.Readlink(filepath.Join(proc, "self", "ns", "uts"))
	for pid, want := range map[int]pod{
		10: {},
		20: {name: "web-7d4b9c-x2x9q", namespace: "shop"},
		30: {name: "plain-container"},
		40: {namespace: "ns"},
		50: {}, // gone
		60: {name: "api-0", namespace: "billing"},
	} {
		if got := pl.of(pid); got != want {
			t.Errorf("pid %d: %+v, want %+v", pid, got, want)
		}
	}
	// Cached: a later change is not read again for the same process.
	os.WriteFile(filepath.Join(proc, "20", "root", hostnameFile), []byte("other"), 0o644)
	if got := pl.of(20); got.name != "web-7d4b9c-x2x9q" {
		t.Errorf("not cached: %+v", got)
	}
	// Gone after the look-up (a server that exits before the close or
	// the scrape that reports it): the labels read while it lived.
	os.RemoveAll(filepath.Join(proc, "20"))
	if got := pl.of(20); got.name != "web-7d4b9c-x2x9q" || got.namespace != "shop" {
		t.Errorf("exited process: %+v, want the labels read while it lived", got)
	}
}

// TestPodLabelsHostile: a pod's files are the pod's to shape. A named pipe
// at its /etc/hostname neither blocks the look-up nor gives a label; an
// absolute symbolic link leads inside the pod's root, never to one of
// ours; without openat2 (ENOSYS, e.g. from a seccomp profile) no file is
// read at all.
func TestPodLabelsHostile(t *testing.T) {
	proc := t.TempDir()
	host := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(host, []byte("host-secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mk := func(pid, uts string) string {
		dir := filepath.Join(proc, pid)
		for _, d := range []string{"ns", "root/etc"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(uts, filepath.Join(dir, "ns", "uts")); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, "root")
	}
	mk("self", "uts:[1]")
	fifo := mk("10", "uts:[2]")
	if err := unix.Mkfifo(filepath.Join(fifo, hostnameFile), 0o644); err != nil {
		t.Fatal(err)
	}
	link := mk("20", "uts:[3]")
	if err := os.Symlink(host, filepath.Join(link, hostnameFile)); err != nil {
		t.Fatal(err)
	}
	plain := mk("30", "uts:[4]")
	os.WriteFile(filepath.Join(plain, hostnameFile), []byte("web-0\n"), 0o644)
	nosys := mk("40", "uts:[5]")
	os.WriteFile(filepath.Join(nosys, hostnameFile), []byte("web-1\n"), 0o644)

	pl := &podLabels{proc: proc, pids: map[string]pod{}, utsOf: map[int]string{}}
	pl.own, _ = os.Readlink(filepath.Join(proc, "self", "ns", "uts"))
	for pid, want := range map[int]pod{10: {}, 20: {}, 30: {name: "web-0"}} {
		got := make(chan pod, 1)
		go func() { got <- pl.of(pid) }()
		select {
		case p := <-got:
			if p != want {
				t.Errorf("pid %d: %+v, want %+v", pid, p, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("pid %d: the look-up blocks", pid)
		}
	}
	pl.openat2 = func(int, string, *unix.OpenHow) (int, error) { return -1, unix.ENOSYS }
	clear(pl.pids) // looked up again, without openat2
	if got := pl.of(40); got != (pod{}) {
		t.Errorf("without openat2: %+v, want none", got)
	}
}

// TestPodLabelsPidReused: the labels are cached by UTS namespace, not by
// pid: a pid reused by another pod's process gets that pod's labels.
func TestPodLabelsPidReused(t *testing.T) {
	proc := t.TempDir()
	mk := func(pid, uts, hostname string) {
		dir := filepath.Join(proc, pid)
		os.RemoveAll(dir)
		for _, d := range []string{"ns", "root/etc"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		os.Symlink(uts, filepath.Join(dir, "ns", "uts"))
		os.WriteFile(filepath.Join(dir, "root", hostnameFile), []byte(hostname), 0o644)
	}
	mk("self", "uts:[1]", "node")
	mk("20", "uts:[2]", "web-0\n")
	pl := &podLabels{proc: proc, pids: map[string]pod{}, utsOf: map[int]string{}}
	pl.own, _ = os.Readlink(filepath.Join(proc, "self", "ns", "uts"))
	if got := pl.of(20); got.name != "web-0" {
		t.Fatalf("%+v, want web-0", got)
	}
	mk("20", "uts:[3]", "api-1\n") // web-0's process ended, its pid reused
	if got := pl.of(20); got.name != "api-1" {
		t.Errorf("pid reused: %+v, want api-1", got)
	}
	mk("21", "uts:[2]", "changed\n") // another process of web-0: cached
	if got := pl.of(21); got.name != "web-0" {
		t.Errorf("same pod: %+v, want web-0 (cached)", got)
	}
}
