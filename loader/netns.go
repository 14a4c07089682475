package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// inNetns runs fn in the network namespace at path ("" runs it here, in
// the caller's). Network namespaces belong to threads: fn runs on a new
// goroutine locked to its OS thread, which joins the namespace, runs fn and
// goes back to its own namespace. Only then is the thread handed back to
// the Go scheduler; if it cannot go back, it stays locked and the runtime
// ends it with the goroutine, so no other goroutine ever runs in the wrong
// namespace. (Going back matters: the goroutine may run on the main
// thread, which the runtime never ends, and whose namespace is the one
// /proc/self/net shows.) What fn creates there stays there: a TCX link's
// interface, a packet or netlink socket.
func inNetns(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("open this thread's network namespace: %w", err)
			return
		}
		defer home.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			switch {
			case errors.Is(err, unix.EINVAL):
				err = fmt.Errorf("%s is not a network namespace", path)
			case errors.Is(err, unix.EPERM):
				err = fmt.Errorf("enter network namespace %s: %w (entering another namespace needs CAP_SYS_ADMIN)", path, ErrPermission)
			default:
				err = fmt.Errorf("enter network namespace %s: %w", path, err)
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
	typ   uint16 // ARPHRD_*
	flags uint32 // IFF_*
}

// linkSocket is an rtnetlink socket. It lists the interfaces of the network
// namespace it was created in, whichever thread uses it later.
type linkSocket struct {
	fd  int
	seq uint32
}

// openLinkSocket opens an rtnetlink socket in the calling thread's network
// namespace.
func openLinkSocket() (*linkSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind netlink socket: %w", err)
	}
	return &linkSocket{fd: fd}, nil
}

// Close closes the socket.
func (l *linkSocket) Close() error {
	if l == nil || l.fd < 0 {
		return nil
	}
	err := unix.Close(l.fd)
	l.fd = -1
	return err
}

// links dumps the namespace's interfaces (RTM_GETLINK). It must not be
// called concurrently.
func (l *linkSocket) links() ([]linkInfo, error) {
	l.seq++
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
	le := binary.NativeEndian
	le.PutUint32(req[0:], uint32(len(req)))
	le.PutUint16(req[4:], unix.RTM_GETLINK)
	le.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	le.PutUint32(req[8:], l.seq)
	req[unix.SizeofNlMsghdr] = unix.AF_UNSPEC
	if err := unix.Sendto(l.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []linkInfo
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(l.fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		for i := range msgs {
			m := &msgs[i]
			if m.Header.Seq != l.seq {
				continue // a late answer to an earlier, failed dump
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := -int32(le.Uint32(m.Data)); errno != 0 {
						return nil, fmt.Errorf("list interfaces: %w", syscall.Errno(errno))
					}
				}
				return out, nil
			case unix.RTM_NEWLINK:
			default:
				continue
			}
			if len(m.Data) < unix.SizeofIfInfomsg {
				continue
			}
			li := linkInfo{
				typ:   le.Uint16(m.Data[2:]),
				index: int(int32(le.Uint32(m.Data[4:]))),
				flags: le.Uint32(m.Data[8:]),
			}
			attrs, err := syscall.ParseNetlinkRouteAttr(m)
			if err != nil {
				return nil, fmt.Errorf("list interfaces: %w", err)
			}
			for _, a := range attrs {
				if a.Attr.Type == unix.IFLA_IFNAME {
					li.name = unix.ByteSliceToString(a.Value)
				}
			}
			out = append(out, li)
		}
	}
}
