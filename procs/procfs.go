package procs

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OwnerFromProc looks, in /proc, whether process pid owns a TCP socket
// with the given local and remote endpoints, and returns it as a Process.
// It reads the connection table of pid's own network namespace
// (/proc/PID/net/tcp and tcp6), then pid's file descriptors. It serves
// sockets the kernel tracker cannot know: those created before the capture
// started, such as a server's listening socket.
func OwnerFromProc(pid int, local, remote netip.AddrPort) (*Process, error) {
	inode, err := socketInode(pid, local, remote)
	if err != nil || inode == "" {
		return nil, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, fmt.Errorf("read the file descriptors of %d: %w", pid, err)
	}
	want := "socket:[" + inode + "]"
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name())); err == nil && l == want {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			pr := &Process{PID: pid, Comm: strings.TrimSpace(string(comm))}
			pr.Cgroup = procCgroup(pid)
			pr.ContainerID = ContainerID(pr.Cgroup)
			return pr, nil
		}
	}
	return nil, nil
}

// socketInode finds the inode of the TCP socket local<->remote in pid's
// network namespace, "" if there is none.
func socketInode(pid int, local, remote netip.AddrPort) (string, error) {
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, name))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return "", fmt.Errorf("read the sockets of %d: %w", pid, err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			l, ok1 := parseProcAddr(fields[1])
			r, ok2 := parseProcAddr(fields[2])
			if ok1 && ok2 && sameEnd(l, local) && sameEnd(r, remote) {
				f.Close()
				return fields[9], nil
			}
		}
		f.Close()
	}
	return "", nil
}

// sameEnd compares endpoints, IPv4-mapped IPv6 equal to IPv4.
func sameEnd(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap() == b.Addr().Unmap()
}

// parseProcAddr parses /proc/net/tcp's "0100007F:1B59": the address as
// 32-bit words in host (little-endian) order, the port in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || len(raw) != 4 && len(raw) != 16 {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(port)), true
}
