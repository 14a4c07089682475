package procs

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cgroupRescan is the least time between two walks of the cgroup tree.
const cgroupRescan = time.Second

// cgroupIndex maps cgroup v2 ids to paths. A cgroup v2 directory's inode
// number is its id (what bpf_get_current_cgroup_id returns): the index is
// a walk of the tree, redone on a miss at most once per cgroupRescan.
type cgroupIndex struct {
	root string
	mu   sync.Mutex
	byID map[uint64]string
	last time.Time
}

func newCgroupIndex(root string) *cgroupIndex {
	return &cgroupIndex{root: root, byID: make(map[uint64]string)}
}

// path returns the path of cgroup id below the root ("/" for the root
// itself). If the cgroup is gone or cannot be seen (zmtpdump in a cgroup
// namespace, say), it falls back to what /proc/PID/cgroup says of pid, as
// long as it lives; "" if neither knows.
func (c *cgroupIndex) path(id uint64, pid int) string {
	if id == 0 {
		return ""
	}
	c.mu.Lock()
	p, ok := c.byID[id]
	if !ok && time.Since(c.last) >= cgroupRescan {
		c.scan()
		p, ok = c.byID[id]
	}
	c.mu.Unlock()
	if ok {
		return p
	}
	return procCgroup(pid)
}

// scan walks the tree; c.mu is held.
func (c *cgroupIndex) scan() {
	c.last = time.Now()
	clear(c.byID)
	filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		rel := strings.TrimPrefix(p, c.root)
		if rel == "" {
			rel = "/"
		}
		c.byID[st.Ino] = rel
		return nil
	})
}

// procCgroup returns pid's cgroup v2 path from /proc/PID/cgroup ("0::PATH"),
// "" if pid is gone or has none.
func procCgroup(pid int) string {
	if pid <= 0 {
		return ""
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p
		}
	}
	return ""
}
