package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
	"golang.org/x/sys/unix"
)

// openTun attaches to the existing tun device name in the network
// namespace at nsPath ("" for the current one) and returns its file.
func openTun(name, nsPath string) (*os.File, error) {
	var f *os.File
	open := func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		var req [unix.IFNAMSIZ + 64]byte
		copy(req[:], name)
		*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF %s: %w", name, errno)
		}
		f = os.NewFile(uintptr(fd), name)
		return nil
	}
	if nsPath == "" {
		return f, open()
	}
	err := livetest.InNetnsPath(nsPath, open)
	return f, err
}

// pump copies packets from one tun to the other until from is closed. A
// packet the other side refuses (EIO while it is down) is dropped, as a
// wire would.
func pump(from, to *os.File) {
	buf := make([]byte, 65536)
	for {
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		if _, err := to.Write(buf[:n]); errors.Is(err, os.ErrClosed) {
			return
		}
	}
}

// TestTun captures on a tun device, which has no link-layer header: the
// kernel program's offsets must follow the link type. Two tun devices, one
// in a namespace, are joined by this test, and real libzmq peers talk
// across them.
func TestTun(t *testing.T) {
	requireLive(t)
	suffix := fmt.Sprint(time.Now().UnixNano() % 100000)
	ns, tunA, tunB := "zt"+suffix, "zta"+suffix, "ztb"+suffix
	ip(t, "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip(t, "tuntap", "add", "dev", tunA, "mode", "tun")
	t.Cleanup(func() { exec.Command("ip", "link", "del", tunA).Run() })
	ip(t, "-n", ns, "tuntap", "add", "dev", tunB, "mode", "tun")
	fa, err := openTun(tunA, "")
	if err != nil {
		t.Fatal(err)
	}
	fb, err := openTun(tunB, "/var/run/netns/"+ns)
	if err != nil {
		fa.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { fa.Close(); fb.Close() })
	go pump(fa, fb)
	go pump(fb, fa)
	ip(t, "addr", "add", "10.233.0.1", "peer", "10.233.0.2", "dev", tunA)
	ip(t, "link", "set", tunA, "up")
	ip(t, "-n", ns, "addr", "add", "10.233.0.2", "peer", "10.233.0.1", "dev", tunB)
	ip(t, "-n", ns, "link", "set", tunB, "up")
	ip(t, "-n", ns, "link", "set", "lo", "up")

	for _, backend := range []string{"tcx", "socket"} {
		t.Run(backend, func(t *testing.T) {
			port := freePort(t)
			d := startDump(t, "-v", "-i", tunA, "--backend", backend, "--port", fmt.Sprint(port))
			pushPullTo(t, ns, "10.233.0.2", port, 3)
			out, _ := d.stop(t)
			srv := fmt.Sprintf("10.233.0.2:%d", port)
			if syn := livetest.Lines(out, "> "+srv+": tcp SYN,"); len(syn) != 1 {
				t.Errorf("the SYN must appear once, got %d:\n%s", len(syn), out)
			}
			// A 40-byte SYN: IP and TCP headers only, no link header.
			if syn := livetest.Lines(out, "> "+srv+": tcp SYN,", "packet 60, payload 0"); len(syn) != 1 {
				t.Errorf("want the SYN's size without a link-layer header (60: 20 IP + 40 TCP with options):\n%s", out)
			}
			if r := livetest.Lines(out, `READY: Socket-Type="PULL"`, srv+" > "); len(r) != 1 {
				t.Errorf("want READY PULL from the namespace once, got %q", r)
			}
			msgs := livetest.Lines(out, "> "+srv+": message: ")
			if len(msgs) != 3 || !strings.HasSuffix(msgs[2], `"3" 33`) {
				t.Errorf("want messages 1, 2, 3, got %q", msgs)
			}
		})
	}
}
