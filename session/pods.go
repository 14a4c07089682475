package session

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/metrics"
)

// --metrics-pod-labels: the pod and namespace of a connection's server end,
// from process attribution. In Kubernetes the pod's name is the hostname of
// its containers' UTS namespace, which the kubelet also writes to each
// container's /etc/hostname, and its namespace is in the service account
// file every pod mounts by default. zmtpdump reads both through
// /proc/PID/root, for a process whose UTS namespace is not zmtpdump's (a
// process of the host, or of a hostNetwork pod sharing it, has none).

// Where a pod's files are, under a process's root.
const (
	hostnameFile  = "etc/hostname"
	namespaceFile = "var/run/secrets/kubernetes.io/serviceaccount/namespace"
)

// maxPodCache bounds the UTS namespaces whose labels are kept; past it the
// cache starts again.
const maxPodCache = 4096

// podLabels finds and caches the pod labels of processes, for the
// sessions of every shard (a lock per look-up: at a scrape or a close).
type podLabels struct {
	proc string // "/proc"; tests use a directory of their own
	mu   sync.Mutex
	own  string // our UTS namespace ("uts:[4026531838]")
	// pids caches by UTS namespace (its link's text): a pod's, whatever its
	// process; a pid reused by another pod's process is looked up again.
	pids map[string]pod
	// utsOf remembers each process's UTS namespace as last seen alive, so
	// that a look-up at the close or a scrape after the server exited
	// still finds the labels read while it lived (a pid reused meanwhile
	// is looked up again, alive).
	utsOf map[int]string
	// openat2 is unix.Openat2 (nil); tests give their own.
	openat2 func(dirfd int, path string, how *unix.OpenHow) (int, error)
}

type pod struct{ name, namespace string }

func newPodLabels() *podLabels {
	pl := &podLabels{proc: "/proc", pids: map[string]pod{}, utsOf: map[int]string{}}
	pl.own, _ = os.Readlink(filepath.Join(pl.proc, "self", "ns", "uts"))
	return pl
}

// of returns the pod labels of process pid ("" each when not known).
func (pl *podLabels) of(pid int) pod {
	dir := filepath.Join(pl.proc, strconv.Itoa(pid))
	uts, err := os.Readlink(filepath.Join(dir, "ns", "uts")) // procfs: never blocks
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if err != nil {
		// Gone: what was read while it lived, if anything.
		return pl.pids[pl.utsOf[pid]]
	}
	if uts == pl.own {
		return pod{}
	}
	if len(pl.utsOf) >= maxPodCache {
		clear(pl.utsOf)
	}
	pl.utsOf[pid] = uts
	if p, ok := pl.pids[uts]; ok {
		return p
	}
	if len(pl.pids) >= maxPodCache {
		clear(pl.pids)
	}
	// Bounded: a look-up that does not end in time gives no labels (its
	// goroutine ends when the file system answers).
	ch := make(chan pod, 1)
	go func() { ch <- pl.read(dir) }()
	var p pod
	select {
	case p = <-ch:
	case <-time.After(podReadTimeout):
	}
	pl.pids[uts] = p
	return p
}

// read reads the pod labels of the process whose /proc directory is dir.
func (pl *podLabels) read(dir string) pod {
	first := func(name string) string {
		b, err := readInRoot(pl.openat2, filepath.Join(dir, "root"), name)
		if err != nil {
			return ""
		}
		line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
		if len(line) > 253 { // a DNS name's length at most: no label from a stray file
			return ""
		}
		return string(line)
	}
	return pod{name: first(hostnameFile), namespace: first(namespaceFile)}
}

// maxPodFile is the size of the largest file read for a label: a
// hostname or a namespace is far shorter.
const maxPodFile = 4096

// podReadTimeout bounds a look-up (its files are the pod's: a file system
// that does not answer, e.g. FUSE, must not stop the capture's loop).
const podReadTimeout = 250 * time.Millisecond

// readInRoot reads the regular file name under root as the process whose
// root it is sees it: its symbolic links resolved inside root (openat2's
// RESOLVE_IN_ROOT, Linux 5.6+), so that /var/run -> /run, as most images
// have it, leads to the container's /run and an absolute link to one of
// the container's files, never to one of ours. The files are the pod's to
// shape: opened without blocking (a named pipe), read only if regular and
// small. Without openat2 (ENOSYS: a seccomp profile) nothing is read:
// following the path from our root would resolve the pod's links in ours.
func readInRoot(openat2 func(int, string, *unix.OpenHow) (int, error), root, name string) ([]byte, error) {
	if openat2 == nil {
		openat2 = unix.Openat2
	}
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	fd, err := openat2(dir, name, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxPodFile {
		return nil, fmt.Errorf("%s: not a small regular file", name)
	}
	return io.ReadAll(io.LimitReader(f, maxPodFile))
}

// podLabels fills l's pod and namespace from the server end's process, if
// known and --metrics-pod-labels asked for them.
func (s *session) podLabels(l *metrics.Labels) {
	if s.procs == nil || s.procs.pods == nil {
		l.OwnersDone = true // no attribution: no pod will be known
		return
	}
	l.OwnersDone = s.own.resolved
	srv := s.own.ends[1]
	if s.met != nil && s.met.Swapped() {
		srv = s.own.ends[0]
	}
	if srv != nil {
		p := s.procs.pods.of(srv.PID)
		l.Pod, l.Namespace = p.name, p.namespace
	}
}
