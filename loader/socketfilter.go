package loader

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/bpf"
)

// The socket backend (any kernel with BPF ring buffers, 5.8+): the socket
// filter program on an AF_PACKET socket of this process, bound to the
// interface, that it never lets queue a packet.

// attachSocket opens an AF_PACKET socket bound to the interface with the
// socket program as its filter. The socket is created listening to no
// protocol, gets its filter, and only then is bound to every protocol, so
// that no packet is ever queued on it: the filter returns 0 for all.
func (a *attachment) attachSocket(objs *bpf.CaptureObjects) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return permissionError("open a packet socket", err)
	}
	a.socket = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, objs.CaptureSocket.FD()); err != nil {
		return permissionError("attach the socket filter on "+quoteName(a.name), err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: a.index}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind packet socket to %s: %w", quoteName(a.name), err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
