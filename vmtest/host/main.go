// Command host runs zmtpdump's live checks on Debian 12's own kernel (6.1,
// no TCX) in a qemu virtual machine; `make check-kernels` runs it from the
// repository's root. It
//
//   - installs qemu-system-x86 with apt-get if qemu-system-x86_64 is missing;
//   - fetches the newest linux-image-6.1.0-*-cloud-amd64-unsigned with
//     `apt-get download` and keeps its vmlinuz and the modules sch_ingress,
//     cls_bpf and veth in a cache directory;
//   - builds static binaries (CGO_ENABLED=0) of zmtpdump, of the guest
//     (vmtest/guest, the virtual machine's /init) and of the go-zeromq test
//     peer, and packs them with the modules into an initramfs;
//   - boots it under qemu-system-x86_64 with TCG (KVM does not run that
//     kernel on our hosts), reads the report the guest writes to its second
//     serial port, prints it and exits 0 only if every check passed.
//
// See vmtest/README.md.
//
// Imports: nothing of ours: it builds the guest and boots it.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// kernelPackage matches the Debian 12 kernel packages the checks boot.
var kernelPackage = regexp.MustCompile(`^linux-image-6\.1\.0-(\d+)-cloud-amd64-unsigned$`)

// modules are the kernel modules the guest loads (from the package).
var modules = []string{"sch_ingress", "cls_bpf", "veth"}

type options struct {
	cacheDir string
	pkg      string
	timeout  time.Duration
	goCmd    string
	sabotage bool
	keep     bool
	verbose  bool
}

func main() {
	var o options
	flag.StringVar(&o.cacheDir, "cache", defaultCache(), "where the kernel and its modules are kept between runs")
	flag.StringVar(&o.pkg, "kernel", "", "kernel package (default: the newest linux-image-6.1.0-*-cloud-amd64-unsigned apt knows)")
	flag.DurationVar(&o.timeout, "timeout", 300*time.Second, "time limit for the virtual machine")
	flag.StringVar(&o.goCmd, "go", "go", "the go command that builds the binaries")
	flag.BoolVar(&o.sabotage, "sabotage", false, "add a check that fails, to see that the harness reports failures")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (initramfs, console log, results)")
	flag.BoolVar(&o.verbose, "v", false, "show the guest's console log and every check's output even when everything passed")
	flag.Parse()
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "check-kernels: FAIL: "+err.Error())
		os.Exit(1)
	}
}

func defaultCache() string {
	const system = "/var/cache/zmtpdump-vmtest"
	if os.Geteuid() == 0 {
		return system
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "zmtpdump-vmtest")
	}
	return system
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "check-kernels: "+format+"\n", args...)
}

func run(o *options) error {
	start := time.Now()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	qemu, err := ensureQemu()
	if err != nil {
		return err
	}
	k, err := fetchKernel(o)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "zmtpdump-vmtest")
	if err != nil {
		return err
	}
	if o.keep {
		logf("work directory: %s", work)
	} else {
		defer os.RemoveAll(work)
	}

	logf("building static binaries")
	bin := filepath.Join(work, "bin")
	build := exec.Command(o.goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", bin+"/",
		"./cmd/zmtpdump", "./vmtest/guest", "./testpeers/gozmq")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}

	initrd := filepath.Join(work, "initramfs.cpio")
	if err := packInitramfs(initrd, bin, k); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}

	console, report := filepath.Join(work, "console.log"), filepath.Join(work, "results.txt")
	guestLimit := int((o.timeout - 20*time.Second).Seconds())
	// lockdown=integrity, what Debian 12 runs under Secure Boot
	// (CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT): the ipc:// checks run under
	// it, then the guest raises it to confidentiality, the strictest mode,
	// for the rest: every check must pass on a locked-down kernel.
	cmdline := fmt.Sprintf("console=ttyS0 panic=-1 lockdown=integrity vmtest.timeout=%d", max(guestLimit, 10))
	if o.sabotage {
		cmdline += " vmtest.sabotage"
	}
	if o.verbose {
		cmdline += " vmtest.verbose"
	}
	args := []string{
		"-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "1G",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-serial", "file:" + console, "-serial", "file:" + report,
		"-kernel", k.vmlinuz, "-initrd", initrd, "-append", cmdline,
	}
	logf("booting %s under qemu (TCG, limit %v)", k.release, o.timeout)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	vmStart := time.Now()
	q := exec.CommandContext(ctx, qemu, args...)
	qout, qerr := q.CombinedOutput()
	vmTime := time.Since(vmStart)
	if ctx.Err() != nil {
		qerr = fmt.Errorf("killed after %v", o.timeout)
	}

	text, _ := os.ReadFile(report)
	res := parseResults(string(text))
	fmt.Print(strings.ReplaceAll(string(text), "\r", ""))
	verdict := res.verdict(k.release)
	if verdict != nil || o.verbose {
		if log, err := os.ReadFile(console); err == nil {
			fmt.Fprintf(os.Stderr, "---- guest console (last 80 lines) ----\n%s---- end of console ----\n", tail(strings.ReplaceAll(string(log), "\r", ""), 80))
		}
		if len(qout) > 0 || qerr != nil {
			fmt.Fprintf(os.Stderr, "qemu: %v\n%s", qerr, qout)
		}
	}
	if verdict != nil {
		return verdict
	}
	logf("PASS: %d checks on Linux %s (virtual machine %.0fs, total %.0fs)",
		len(res.passed), res.kernel, vmTime.Seconds(), time.Since(start).Seconds())
	return nil
}

func tail(s string, n int) string {
	ls := strings.SplitAfter(s, "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "")
}

// moduleRoot finds the repository root (where go.mod is) from the current
// directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/zmtpdump/zmtpdump\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run this inside the zmtpdump repository")
		}
		dir = parent
	}
}

// aptInstall installs Debian packages, updating the package lists once if
// the first attempt fails.
func aptInstall(pkgs ...string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s missing: install it (as root: apt-get install %s)", strings.Join(pkgs, ", "), strings.Join(pkgs, " "))
	}
	logf("apt-get install %s", strings.Join(pkgs, " "))
	install := func() ([]byte, error) {
		cmd := exec.Command("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, pkgs...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if _, err := install(); err == nil {
		return nil
	}
	if out, err := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v\n%s", err, out)
	}
	if out, err := install(); err != nil {
		return fmt.Errorf("apt-get install %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

func ensureQemu() (string, error) {
	if p, err := exec.LookPath("qemu-system-x86_64"); err == nil {
		return p, nil
	}
	if err := aptInstall("qemu-system-x86"); err != nil {
		return "", err
	}
	return exec.LookPath("qemu-system-x86_64")
}

// kernel is an extracted kernel package.
type kernel struct {
	release string // uname -r, e.g. 6.1.0-56-cloud-amd64
	vmlinuz string
	modules []string // uncompressed .ko files
}

// newestKernelPackage asks apt for the kernel packages it knows and returns
// the one with the highest ABI number.
func newestKernelPackage() (string, error) {
	search := func() ([]string, error) {
		out, err := exec.Command("apt-cache", "search", "--names-only", `^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$`).Output()
		if err != nil {
			return nil, fmt.Errorf("apt-cache search: %w", err)
		}
		var names []string
		for _, l := range strings.Split(string(out), "\n") {
			name, _, _ := strings.Cut(l, " ")
			if kernelPackage.MatchString(name) {
				names = append(names, name)
			}
		}
		return names, nil
	}
	names, err := search()
	if err == nil && len(names) == 0 && os.Geteuid() == 0 {
		logf("no Debian 12 cloud kernel in apt's lists: apt-get update")
		if out, err := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get update: %v\n%s", err, out)
		}
		names, err = search()
	}
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "", errors.New("apt knows no linux-image-6.1.0-*-cloud-amd64-unsigned: is this Debian 12 with its main archive in the sources?")
	}
	abi := func(name string) int {
		n, _ := strconv.Atoi(kernelPackage.FindStringSubmatch(name)[1])
		return n
	}
	sort.Slice(names, func(i, j int) bool { return abi(names[i]) < abi(names[j]) })
	return names[len(names)-1], nil
}

// fetchKernel returns the kernel from the cache, downloading and
// extracting it first if needed.
func fetchKernel(o *options) (*kernel, error) {
	pkg := o.pkg
	if pkg == "" {
		var err error
		if pkg, err = newestKernelPackage(); err != nil {
			return nil, err
		}
	}
	m := kernelPackage.FindStringSubmatch(pkg)
	if m == nil {
		return nil, fmt.Errorf("-kernel %q: want linux-image-6.1.0-N-cloud-amd64-unsigned", pkg)
	}
	release := "6.1.0-" + m[1] + "-cloud-amd64"
	dir := filepath.Join(o.cacheDir, release)
	k := &kernel{release: release, vmlinuz: filepath.Join(dir, "vmlinuz")}
	for _, mod := range modules {
		k.modules = append(k.modules, filepath.Join(dir, mod+".ko"))
	}
	if complete(k) {
		logf("kernel %s from %s", release, dir)
		return k, nil
	}

	logf("apt-get download %s", pkg)
	if err := os.MkdirAll(o.cacheDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(o.cacheDir, "download")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o777) // apt-get downloads as the _apt user when it can
	get := exec.Command("apt-get", "download", "-qq", pkg)
	get.Dir = tmp
	if out, err := get.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("apt-get download %s: %v\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, pkg+"_*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("apt-get download %s: want one .deb, found %q", pkg, debs)
	}
	stage := filepath.Join(tmp, release)
	if err := os.Mkdir(stage, 0o755); err != nil {
		return nil, err
	}
	if err := extractKernel(debs[0], release, stage); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(debs[0]), err)
	}
	os.RemoveAll(dir)
	if err := os.Rename(stage, dir); err != nil && !complete(k) {
		return nil, err // (a concurrent run may have put it there first)
	}
	if !complete(k) {
		return nil, fmt.Errorf("%s lacks vmlinuz or one of the modules %v", pkg, modules)
	}
	return k, nil
}

func complete(k *kernel) bool {
	for _, f := range append([]string{k.vmlinuz}, k.modules...) {
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	return true
}

// extractKernel copies vmlinuz and the wanted modules (decompressed) from
// the package's data into dir.
func extractKernel(deb, release, dir string) error {
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	data, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Wait()
	isModule := make(map[string]bool)
	for _, m := range modules {
		isModule[m] = true
	}
	tr := tar.NewReader(data)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read package data: %v %s", err, stderr.String())
		}
		name := strings.TrimPrefix(h.Name, "./")
		var out, decompress string
		switch {
		case name == "boot/vmlinuz-"+release:
			out = "vmlinuz"
		case strings.HasPrefix(name, "lib/modules/"+release+"/"), strings.HasPrefix(name, "usr/lib/modules/"+release+"/"):
			base := filepath.Base(name)
			for _, ext := range []struct{ suffix, tool string }{{".ko", ""}, {".ko.xz", "xz"}, {".ko.zst", "zstd"}} {
				if mod, found := strings.CutSuffix(base, ext.suffix); found && isModule[mod] {
					out, decompress = mod+".ko", ext.tool
					break
				}
			}
		}
		if out == "" || h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if decompress != "" {
			if b, err = decompressWith(decompress, b); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, out), b, 0o644); err != nil {
			return err
		}
	}
	io.Copy(io.Discard, data)
	return nil
}

// decompressWith runs xz or zstd -dc over b, installing the tool if needed.
func decompressWith(tool string, b []byte) ([]byte, error) {
	if _, err := exec.LookPath(tool); err != nil {
		pkg := map[string]string{"xz": "xz-utils", "zstd": "zstd"}[tool]
		if err := aptInstall(pkg); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(tool, "-dc")
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s -dc: %v %s", tool, err, stderr.String())
	}
	return out, nil
}

// packInitramfs writes the guest's file system: /init, the binaries in
// /bin, the modules in /lib/modules.
func packInitramfs(path, bin string, k *kernel) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c := &cpioWriter{w: f}
	for _, d := range []string{"bin", "dev", "lib", "lib/modules", "proc", "sys", "tmp", "run"} {
		c.Dir(d)
	}
	c.CharDev("dev/console", 0o600, 5, 1)
	c.CopyFile("init", 0o755, filepath.Join(bin, "guest"))
	c.CopyFile("bin/zmtpdump", 0o755, filepath.Join(bin, "zmtpdump"))
	c.CopyFile("bin/gozmq", 0o755, filepath.Join(bin, "gozmq"))
	for _, m := range k.modules {
		c.CopyFile("lib/modules/"+filepath.Base(m), 0o644, m)
	}
	if err := c.Close(); err != nil {
		return err
	}
	return f.Close()
}
