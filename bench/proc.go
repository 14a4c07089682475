package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// hostBusy returns the busy time of all CPUs since boot, from /proc/stat:
// user, nice, system, irq, softirq and steal (not idle, not iowait).
func hostBusy() (time.Duration, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 9 || fields[0] != "cpu" {
			continue
		}
		var busy int64
		for _, i := range []int{1, 2, 3, 6, 7, 8} {
			v, err := strconv.ParseInt(fields[i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat: %w", err)
			}
			busy += v
		}
		return time.Duration(busy) * clockTick, nil
	}
	return 0, fmt.Errorf("/proc/stat: no cpu line")
}

// processCPU returns user + system time of a running process so far.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	var t int64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		t += v
	}
	return time.Duration(t) * clockTick, nil
}

// waitIdle waits until the process has used at most one clock tick of CPU
// in each of two consecutive 200 ms windows, or until max has passed. It
// returns how long the process stayed busy: the end of its last busy window
// (0 if it was idle from the start; the resolution is 200 ms).
func waitIdle(pid int, max time.Duration) time.Duration {
	start := time.Now()
	last, err := processCPU(pid)
	if err != nil {
		return 0
	}
	var busy time.Duration
	quiet := 0
	for time.Since(start) < max {
		time.Sleep(200 * time.Millisecond)
		now, err := processCPU(pid)
		if err != nil {
			break
		}
		if now-last <= clockTick {
			quiet++
			if quiet == 2 {
				break
			}
		} else {
			quiet = 0
			busy = time.Since(start)
		}
		last = now
	}
	return busy
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// listening says whether something listens on 127.0.0.1:port (TCP), on an
// IPv4 socket or, as libzmq with ZMQ_IPV6 binds it, a v4-mapped IPv6 one.
func listening(port int) bool {
	for _, t := range []struct{ file, addr string }{
		{"/proc/net/tcp", "0100007F"},
		{"/proc/net/tcp6", "0000000000000000FFFF00000100007F"},
	} {
		b, err := os.ReadFile(t.file)
		if err != nil {
			continue
		}
		want := fmt.Sprintf("%s:%04X", t.addr, port)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl, local_address, rem_address, st; 0A is LISTEN.
			if len(f) > 3 && f[1] == want && f[3] == "0A" {
				return true
			}
		}
	}
	return false
}

// ipcListening says whether a Unix stream socket listens at path, as
// /proc/net/unix lists it (this network namespace's). Looking makes no
// connection, which a capture of the path would see.
func ipcListening(path string) bool {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return false
	}
	return unixListening(string(b), path)
}

// unixListening says whether the /proc/net/unix table lists a listening
// stream socket bound at path. Its columns: Num RefCount Protocol Flags
// Type St Inode Path; Flags has __SO_ACCEPTCON (00010000) once listen(2)
// was called, Type 0001 is SOCK_STREAM. A path with a space or newline
// is not matched.
func unixListening(table, path string) bool {
	for _, line := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) == 8 && f[7] == path && f[4] == "0001" && f[3] == "00010000" {
			return true
		}
	}
	return false
}

// machine describes this machine for the report.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.Atoi(f[1]); err == nil {
					mem = fmt.Sprintf(", %d GiB RAM", (kb+(1<<19))>>20)
				}
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s)%s, Linux %s", numCPU(), model, mem, kernel)
}

// numCPU counts the CPUs in /proc/stat ("cpu0", "cpu1", ...).
func numCPU() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "cpu") && len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	return n
}

// otherCaptures says whether a zmtpdump or tcpdump runs on this host (not
// ours: we call it between runs). Its programs would see our packets too.
func otherCaptures() bool {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		if c := strings.TrimSpace(string(b)); c == "zmtpdump" || c == "tcpdump" {
			return true
		}
	}
	return false
}

// quietBudget is the time all waits for a quiet host may take together, so
// that a host that stays busy cannot stretch the benchmark by much.
var quietBudget = 2 * time.Minute

// waitQuietHost waits until no other capture runs and all CPUs together
// were busy less than a quarter of one CPU over 250 ms, for at most limit. It
// says whether the host got quiet: other work would skew the figures.
func waitQuietHost(limit time.Duration) bool {
	const window = 250 * time.Millisecond
	limit = min(limit, quietBudget)
	start := time.Now()
	defer func() { quietBudget = max(0, quietBudget-time.Since(start)) }()
	deadline := start.Add(limit)
	for {
		if otherCaptures() {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(window)
			continue
		}
		b0, err := hostBusy()
		if err != nil {
			return false
		}
		time.Sleep(window)
		b1, err := hostBusy()
		if err != nil {
			return false
		}
		if b1-b0 < window/4 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
