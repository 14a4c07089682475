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
	ok, err := holdsSocket(pid, "socket:["+inode+"]")
	if !ok {
		return nil, err
	}
	return procProcess(pid), nil
}

// SocketOwner looks, in /proc, for the process that holds the socket of
// the given inode (a Unix socket's, as /proc/net/unix shows it) as a file
// descriptor, /proc/PID/fd's "socket:[INODE]": process pid when pid > 0,
// else the processes whose command name is comm. It returns nil when none
// does. It serves ends whose process the capture did not see send (an
// ipc:// receiver, a connection joined mid-stream); a socket shared by
// several processes is found in the first that holds it.
func SocketOwner(pid int, comm string, inode uint64) (*Process, error) {
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	if pid > 0 {
		ok, err := holdsSocket(pid, want)
		if !ok {
			return nil, err
		}
		return procProcess(pid), nil
	}
	if comm == "" {
		return nil, nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p <= 0 {
			continue
		}
		c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p))
		if err != nil || strings.TrimSpace(string(c)) != comm {
			continue
		}
		if ok, _ := holdsSocket(p, want); ok {
			return procProcess(p), nil
		}
	}
	return nil, nil
}

// holdsSocket reports whether one of pid's file descriptors links to want
// ("socket:[INODE]").
func holdsSocket(pid int, want string) (bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("read the file descriptors of %d: %w", pid, err)
	}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && l == want {
			return true, nil
		}
	}
	return false, nil
}

// procProcess returns pid as a Process, its command name and cgroup read
// from /proc.
func procProcess(pid int) *Process {
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	pr := &Process{PID: pid, Comm: strings.TrimSpace(string(comm))}
	pr.Cgroup = procCgroup(pid)
	pr.ContainerID = ContainerID(pr.Cgroup)
	return pr
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
