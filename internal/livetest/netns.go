package livetest

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// NewNetns creates a network namespace and returns a descriptor that keeps
// it alive (close it to let the namespace go). Only a locked thread enters
// it; the thread is then discarded (a goroutine that exits locked takes its
// thread with it).
func NewNetns() (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{-1, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			err = fmt.Errorf("open the new network namespace: %w", err)
		}
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// InNetns runs f on a thread that has entered the network namespace nsFD:
// sockets f opens and processes f starts live there. The thread is never
// handed back to the scheduler: it is discarded afterwards.
func InNetns(nsFD int, f func() error) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		ch <- f()
	}()
	return <-ch
}

// InNetnsPath is InNetns for the namespace at path (such as
// /var/run/netns/NAME, or /proc/PID/ns/net).
func InNetnsPath(path string, f func() error) error {
	ns, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer ns.Close()
	if err := InNetns(int(ns.Fd()), f); err != nil {
		return fmt.Errorf("in %s: %w", path, err)
	}
	return nil
}
