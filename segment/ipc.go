package segment

import (
	"encoding/binary"
	"net/netip"
)

// IPC describes the ipc:// connection (a connected Unix stream socket
// pair) a segment belongs to. A live ipc capture makes one IPC value per
// connection, shares it between that connection's segments and updates it
// when it learns a pid or comm; it is nil for TCP.
type IPC struct {
	// Path is the filesystem path the server (listening) socket is bound
	// at.
	Path string
	// ClientPID and ServerPID are the thread group ids of the processes
	// that last sent on each end (0 until one was seen).
	ClientPID, ServerPID int
	// ClientComm and ServerComm are those processes' command names.
	ClientComm, ServerComm string
	// ClientInode and ServerInode are the socket inodes of the two ends
	// (as in /proc/net/unix and /proc/PID/fd's socket:[N]); the server
	// end is the socket accept(2) returned.
	ClientInode, ServerInode uint64
}

// IPCPrefix is the IPv6 range, fd7a:6970:6300::/48 (in the unique local
// fc00::/7 range; "ipc" in ASCII after fd7a), that zmtpdump uses for the
// synthetic addresses of ipc connections: segments carry them so that
// reassembly, sessions and pcapng treat a Unix stream connection as a TCP
// one. No real traffic is captured with them; they are zmtpdump's own.
var IPCPrefix = netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, 0x7a, 0x69, 0x70, 0x63, 0x00}), 48)

// IPC ports: the server (accepting) end of an ipc connection has port
// IPCServerPort, the client (connecting) end IPCClientPort.
const (
	IPCServerPort uint16 = 1
	IPCClientPort uint16 = 2
)

// IPCAddr returns the synthetic address of one end of an ipc connection:
// fd7a:6970:6300::/48 with the end's socket inode as the low 64 bits, and
// port IPCServerPort for the server end, IPCClientPort for the client.
func IPCAddr(inode uint64, server bool) netip.AddrPort {
	a := IPCPrefix.Addr().As16()
	binary.BigEndian.PutUint64(a[8:], inode)
	port := IPCClientPort
	if server {
		port = IPCServerPort
	}
	return netip.AddrPortFrom(netip.AddrFrom16(a), port)
}

// IsIPCAddr reports whether a is one of IPCAddr's addresses, and if so
// returns the socket inode and whether it names a server end.
func IsIPCAddr(a netip.AddrPort) (inode uint64, server, ok bool) {
	if !IPCPrefix.Contains(a.Addr()) {
		return 0, false, false
	}
	b := a.Addr().As16()
	return binary.BigEndian.Uint64(b[8:]), a.Port() == IPCServerPort, true
}
