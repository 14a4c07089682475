package unixcap

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"
)

// pathKey names a bound socket's path by the inode of its file, as
// bpf/ipc.c's struct path_key: the kernel's dev_t of its filesystem
// (MAJOR << 20 | MINOR, not the userspace encoding stat returns) and the
// inode number.
type pathKey struct {
	Ino uint64
	Dev uint32
}

// kernelDev turns stat's st_dev into the kernel's internal dev_t.
func kernelDev(dev uint64) uint32 {
	return unix.Major(dev)<<20 | unix.Minor(dev)
}

// resolve expands the globs to the Unix sockets they name now: each match
// that is a socket file, by its inode. A glob that is not a pattern is
// taken as a path (it need not exist yet). Other files are left out.
func resolve(globs []string) (map[pathKey]string, error) {
	out := make(map[pathKey]string)
	for _, g := range globs {
		matches, err := filepath.Glob(g)
		if err != nil {
			return nil, fmt.Errorf("--ipc %q: %w", g, err)
		}
		sort.Strings(matches)
		for _, m := range matches {
			var st unix.Stat_t
			if err := unix.Stat(m, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
				continue
			}
			k := pathKey{Ino: st.Ino, Dev: kernelDev(st.Dev)}
			if _, ok := out[k]; !ok {
				out[k] = m
			}
		}
	}
	return out, nil
}

// checkGlobs reports a malformed pattern.
func checkGlobs(globs []string) error {
	for _, g := range globs {
		if _, err := filepath.Match(g, ""); err != nil {
			return fmt.Errorf("--ipc %q: %w", g, err)
		}
		if len(g) > 0 && g[0] == '@' {
			return fmt.Errorf("--ipc %q: abstract sockets have no path to filter by and are not supported", g)
		}
	}
	return nil
}

// unixInodes returns the socket inodes /proc/net/unix (or another
// process's net/unix, of its network namespace) lists.
func unixInodes(file string) (map[uint64]bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseUnix(f)
}

// parseUnix reads the inode column of /proc/net/unix:
//
//	Num       RefCount Protocol Flags    Type St Inode Path
//	0000000000000000: 00000002 00000000 00010000 0001 01 21468 /run/x.ipc
func parseUnix(r io.Reader) (map[uint64]bool, error) {
	out := make(map[uint64]bool)
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 7 {
			continue
		}
		ino, err := strconv.ParseUint(string(fields[6]), 10, 64)
		if err != nil {
			continue
		}
		out[ino] = true
	}
	return out, sc.Err()
}

// allUnixInodes returns the Unix socket inodes of every network namespace
// a process is in (each namespace's net/unix read once, through one of its
// processes); what cannot be read is left out.
func allUnixInodes() map[uint64]bool {
	out := make(map[uint64]bool)
	add := func(file string) {
		if tab, err := unixInodes(file); err == nil {
			for ino := range tab {
				out[ino] = true
			}
		}
	}
	add("/proc/net/unix")
	seen := map[uint64]bool{}
	var self unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &self) == nil {
		seen[self.Ino] = true
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/net", &st) != nil || seen[st.Ino] {
			continue
		}
		seen[st.Ino] = true
		add("/proc/" + e.Name() + "/net/unix")
	}
	return out
}
