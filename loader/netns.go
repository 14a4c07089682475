package loader

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netNamespace is the network namespace a capture runs in, held open by a
// file descriptor from Open to Close: it can be entered again (to attach to
// an interface that comes up later) after the process or mount that named
// it is gone.
type netNamespace struct {
	path string   // as the caller named it, for messages
	f    *os.File // nil: the caller's namespace
}

// openNetns opens the network namespace at path ("": the caller's).
func openNetns(path string) (*netNamespace, error) {
	if path == "" {
		return &netNamespace{}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	return &netNamespace{path: path, f: f}, nil
}

// Close closes the namespace's file descriptor; nil is closed.
func (n *netNamespace) Close() error {
	if n == nil || n.f == nil {
		return nil
	}
	err := n.f.Close()
	n.f = nil
	return err
}

// run runs fn in the namespace. Network namespaces belong to threads: fn
// runs on a new goroutine locked to its OS thread, which joins the
// namespace, runs fn and goes back to its own namespace. Only then is the
// thread handed back to the Go scheduler; if it cannot go back, it stays
// locked and the runtime ends it with the goroutine, so no other goroutine
// ever runs in the wrong namespace. (Going back matters: the goroutine may
// run on the main thread, which the runtime never ends, and whose namespace
// is the one /proc/self/net shows.) What fn creates there stays there: a
// TCX link's interface, a packet or netlink socket.
func (n *netNamespace) run(fn func() error) error {
	if n.f == nil {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("open this thread's network namespace: %w", err)
			return
		}
		defer home.Close()
		if err := unix.Setns(int(n.f.Fd()), unix.CLONE_NEWNET); err != nil {
			switch {
			case errors.Is(err, unix.EINVAL):
				err = fmt.Errorf("%s is not a network namespace", n.path)
			case errors.Is(err, unix.EPERM):
				err = fmt.Errorf("enter network namespace %s: %w (entering another namespace needs CAP_SYS_ADMIN)", n.path, ErrPermission)
			default:
				err = fmt.Errorf("enter network namespace %s: %w", n.path, err)
			}
			errc <- err
			return
		}
		err = fn()
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// NetnsInode returns the inode number of the network namespace at path
// ("" for this process's), the number ls -i and /proc/PID/ns/net show, and
// Process.Netns holds.
func NetnsInode(path string) (uint32, error) {
	if path == "" {
		// This thread's: the main thread's may differ (see inNetns).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		path = "/proc/thread-self/ns/net"
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("network namespace: %w", err)
	}
	return uint32(st.Ino), nil
}

// linkInfo is one network interface as rtnetlink describes it.
type linkInfo struct {
	name  string
	index int
	typ   uint16 // ARPHRD_*, 0xffff when the type is none zmtpdump parses
	flags uint32 // IFF_*
	// encap names the link type ("ether", "ipip"), when known.
	encap string
}

// linkSocket is an rtnetlink socket. It lists the interfaces of the network
// namespace it was created in, whichever thread uses it later.
type linkSocket struct {
	h *netlink.Handle
}

// openLinkSocket opens an rtnetlink socket in the calling thread's network
// namespace.
func openLinkSocket() (*linkSocket, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	return &linkSocket{h: h}, nil
}

// Close closes the socket; nil is closed.
func (l *linkSocket) Close() error {
	if l != nil && l.h != nil {
		l.h.Close()
		l.h = nil
	}
	return nil
}

// dumpTries bounds the retries of a dump that interfaces changing during
// it interrupted (the kernel then flags it as possibly inconsistent).
const dumpTries = 5

// links dumps the namespace's interfaces (RTM_GETLINK). It must not be
// called concurrently.
func (l *linkSocket) links() ([]linkInfo, error) {
	var (
		all []netlink.Link
		err error
	)
	for range dumpTries {
		all, err = l.h.LinkList()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	out := make([]linkInfo, 0, len(all))
	for _, ln := range all {
		out = append(out, linkInfoOf(ln.Attrs()))
	}
	return out, nil
}

// link describes the interface with the index; ok is false when there is
// none.
func (l *linkSocket) link(index int) (li linkInfo, ok bool, err error) {
	ln, err := l.h.LinkByIndex(index)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		return linkInfo{}, false, nil
	case err != nil:
		return linkInfo{}, false, fmt.Errorf("look up interface %d: %w", index, err)
	}
	return linkInfoOf(ln.Attrs()), true, nil
}

// linkInfoOf converts the library's description of a link.
func linkInfoOf(a *netlink.LinkAttrs) linkInfo {
	return linkInfo{name: a.Name, index: a.Index, typ: arphrdOf(a.EncapType), flags: a.RawFlags, encap: a.EncapType}
}

// arphrdOf maps the library's name of a link type back to its number, for
// the types the capture program parses; others are 0xffff (unknown).
func arphrdOf(encap string) uint16 {
	switch encap {
	case "ether":
		return arphrdEther
	case "loopback":
		return arphrdLoopback
	case "none":
		return arphrdNone
	}
	return 0xffff
}
