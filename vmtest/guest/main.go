package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"golang.org/x/sys/unix"
)

// Paths inside the initramfs.
const (
	resultsTTY = "/dev/ttyS1"
	moduleDir  = "/lib/modules"
)

func main() {
	isInit := os.Getpid() == 1
	var rep *reporter
	if isInit {
		if err := mountAll(); err != nil {
			// Without /dev there is no results port: say it on the console.
			fmt.Println("vmtest guest: " + err.Error())
			powerOff()
		}
		f, err := os.OpenFile(resultsTTY, os.O_WRONLY|unix.O_NOCTTY, 0)
		if err != nil {
			fmt.Println("vmtest guest: open results port: " + err.Error())
			powerOff()
		}
		rep = &reporter{w: f, echo: os.Stdout, tty: f}
	} else {
		rep = &reporter{w: os.Stdout}
	}

	opts := kernelOptions()
	_, rep.verbose = opts["vmtest.verbose"]
	if s, ok := opts["vmtest.timeout"]; ok && isInit {
		if secs, err := strconv.Atoi(s); err == nil && secs > 0 {
			go func() {
				time.Sleep(time.Duration(secs) * time.Second)
				rep.fail("watchdog", fmt.Sprintf("the checks did not finish within %ds", secs), "")
				rep.finish()
				powerOff()
			}()
		}
	}

	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		rep.info("kernel " + unix.ByteSliceToString(uts.Release[:]) + " " + unix.ByteSliceToString(uts.Version[:]))
	}

	bin := "/bin"
	if !isInit && os.Getenv("VMTEST_BIN") != "" {
		bin = os.Getenv("VMTEST_BIN")
	}
	_, sabotage := opts["vmtest.sabotage"]
	e := &env{zmtpdump: filepath.Join(bin, "zmtpdump"), gozmq: filepath.Join(bin, "gozmq"), init: isInit, sabotage: sabotage}
	var list []check
	if isInit {
		list = append(list, check{"modules", loadModules}, check{"lo-up", func(*env) (string, error) { return "", livetest.LinkUp("lo") }})
		list = append(list, checks...)
	} else {
		list = append(list, selected(os.Getenv("VMTEST_CHECKS"))...)
	}
	if sabotage {
		list = append(list, check{"sabotage", func(*env) (string, error) {
			return "", fmt.Errorf("failed on purpose (vmtest.sabotage is on the kernel command line)")
		}})
	}
	for _, c := range list {
		rep.run(c, e)
	}
	rep.finish()
	if isInit {
		powerOff()
	}
	if rep.failed > 0 {
		os.Exit(1)
	}
}

// check is one named test. It returns details worth showing on failure
// (zmtpdump's output) and an error if it failed.
type check struct {
	name string
	fn   func(*env) (string, error)
}

// env locates the binaries the checks run.
type env struct {
	zmtpdump, gozmq string
	init            bool // the virtual machine's /init (PID 1)
	sabotage        bool // vmtest.sabotage: the ipc checks want something false
}

// selected returns the checks named in the comma-separated list, or all
// when it is empty (a run outside the virtual machine, $VMTEST_CHECKS).
func selected(names string) []check {
	if names == "" {
		return checks
	}
	var out []check
	for _, c := range checks {
		for _, n := range strings.Split(names, ",") {
			if n == c.name {
				out = append(out, c)
			}
		}
	}
	return out
}

// reporter writes result lines; it is safe for the watchdog to race the
// checks: whoever writes the summary first wins.
type reporter struct {
	mu             sync.Mutex
	w              io.Writer
	echo           io.Writer // the console, or nil
	tty            *os.File  // to drain before power-off, or nil
	passed, failed int
	done           bool
	verbose        bool // show the details of passed checks too
}

func (r *reporter) line(s string) {
	if r.done {
		return
	}
	io.WriteString(r.w, s+"\n")
	if r.echo != nil {
		io.WriteString(r.echo, "vmtest: "+s+"\n")
	}
}

func (r *reporter) info(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.line("INFO " + s)
}

func (r *reporter) fail(name, reason, details string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	r.failed++
	r.line("FAIL " + name + ": " + strings.ReplaceAll(reason, "\n", " / "))
	r.details(details)
}

// details writes a check's output, each line after "| ".
func (r *reporter) details(s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			r.line("| " + l)
		}
	}
}

func (r *reporter) pass(name string, took time.Duration, details string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	r.passed++
	r.line(fmt.Sprintf("PASS %s (%.1fs)", name, took.Seconds()))
	if r.verbose {
		r.details(details)
	}
}

// run runs one check, turning a panic into a failure.
func (r *reporter) run(c check, e *env) {
	start := time.Now()
	details, err := func() (details string, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
				details = string(debug.Stack())
			}
		}()
		return c.fn(e)
	}()
	if err != nil {
		r.fail(c.name, err.Error(), details)
		return
	}
	r.pass(c.name, time.Since(start), details)
}

// finish writes the summary line and waits until the port has sent it.
func (r *reporter) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.line(fmt.Sprintf("%d passed, %d failed", r.passed, r.failed))
	r.done = true
	if r.tty != nil {
		unix.IoctlSetInt(int(r.tty.Fd()), unix.TCSBRK, 1) // tcdrain
	}
}

// mountAll mounts the pseudo file systems zmtpdump and the checks use.
func mountAll() error {
	for _, m := range []struct{ src, dir, typ string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"bpf", "/sys/fs/bpf", "bpf"},
		{"securityfs", "/sys/kernel/security", "securityfs"},
		{"tmpfs", "/tmp", "tmpfs"},
	} {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.src, m.dir, m.typ, 0, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.typ, m.dir, err)
		}
	}
	return nil
}

// loadModules loads every module in moduleDir with finit_module. The host
// packs them uncompressed; a compressed one is handed to the kernel as such.
func loadModules(*env) (string, error) {
	names, err := filepath.Glob(filepath.Join(moduleDir, "*.ko*"))
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no modules in %s", moduleDir)
	}
	var loaded []string
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return "", err
		}
		flags := 0
		if !strings.HasSuffix(name, ".ko") {
			flags = unix.MODULE_INIT_COMPRESSED_FILE
		}
		err = unix.FinitModule(int(f.Fd()), "", flags)
		f.Close()
		if err != nil && err != unix.EEXIST {
			return "", fmt.Errorf("finit_module %s: %w", name, err)
		}
		loaded = append(loaded, filepath.Base(name))
	}
	fmt.Println("vmtest: loaded " + strings.Join(loaded, ", "))
	return "", nil
}

// kernelOptions returns the words of /proc/cmdline as key → value ("" when
// the word has no "=").
func kernelOptions() map[string]string {
	opts := make(map[string]string)
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return opts
	}
	for _, w := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(w, "=")
		opts[k] = v
	}
	return opts
}

// powerOff ends the virtual machine; qemu then exits.
func powerOff() {
	unix.Sync()
	for {
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		time.Sleep(time.Second)
	}
}
