package loader

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

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
		if errors.Is(err, unix.ENOMEM) {
			return tooLarge(quoteName(a.name), err, readOptmem())
		}
		return permissionError("attach the socket filter on "+quoteName(a.name), err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: a.index}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind packet socket to %s: %w", quoteName(a.name), err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// tooLarge words the ENOMEM of SO_ATTACH_BPF: before Linux 6.x the kernel
// charges a socket filter to the socket's option memory, net.core.optmem_max
// (20 KiB on Debian 12, about 2,500 instructions), and the program with a
// long filter expression spliced in can exceed it. optmem is that limit in
// bytes, 0 when unknown.
func tooLarge(name string, err error, optmem int) error {
	limit := "net.core.optmem_max"
	if optmem > 0 {
		limit = fmt.Sprintf("net.core.optmem_max, %d bytes here", optmem)
	}
	return fmt.Errorf("attach the socket filter on %s: the capture program with this filter expression is larger than a socket filter may be (%s): "+
		"shorten the expression (--port lists cost nothing), raise the limit (sysctl -w net.core.optmem_max=131072) or use a kernel with TCX (6.6+): %w",
		name, limit, err)
}

// readOptmem returns net.core.optmem_max, 0 when it cannot be read.
func readOptmem() int {
	b, err := os.ReadFile("/proc/sys/net/core/optmem_max")
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
