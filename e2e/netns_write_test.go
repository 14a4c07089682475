package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/zmtpdump/zmtpdump/internal/livetest"
)

// TestNetnsWrite: --netns with -w describes the interface as the target
// namespace knows it. There a tun device (raw IP, index 2 or so) carries a
// libzmq conversation; the root namespace has an Ethernet veth of the same
// name and another index. The file must have one interface block, with the
// tun's name and the raw-IP link type, every packet on it, and read back
// to the same messages.
func TestNetnsWrite(t *testing.T) {
	requireLive(t)
	s := fmt.Sprint(time.Now().UnixNano() % 100000)
	ns1, ns2, name, peer := "zw1"+s, "zw2"+s, "zwt"+s, "zwu"+s
	for _, ns := range []string{ns1, ns2} {
		ip(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ip(t, "-n", ns, "link", "set", "lo", "up")
	}
	// The impostor: same name in the root namespace, Ethernet, down.
	ip(t, "link", "add", name, "type", "veth", "peer", "name", "zwv"+s, "netns", ns2)
	t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	ip(t, "-n", ns1, "tuntap", "add", "dev", name, "mode", "tun")
	ip(t, "-n", ns2, "tuntap", "add", "dev", peer, "mode", "tun")
	fa, err := openTun(name, nsPath(ns1))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := openTun(peer, nsPath(ns2))
	if err != nil {
		fa.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { fa.Close(); fb.Close() })
	go pump(fa, fb)
	go pump(fb, fa)
	const addr1, addr2, port = "10.219.0.1", "10.219.0.2", 7014
	ip(t, "-n", ns1, "addr", "add", addr1, "peer", addr2, "dev", name)
	ip(t, "-n", ns1, "link", "set", name, "up")
	ip(t, "-n", ns2, "addr", "add", addr2, "peer", addr1, "dev", peer)
	ip(t, "-n", ns2, "link", "set", peer, "up")

	for _, backend := range []string{"tcx", "socket"} {
		t.Run(backend, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "netns.pcapng")
			d := startDump(t, "--netns", nsPath(ns1), "-i", name, "--backend", backend, "--port", fmt.Sprint(port), "-w", file)
			pushPullNs(t, ns1, ns2, "", addr1, port)
			d.stop(t)

			ifaces, perBlock := pcapngPackets(t, file)
			n := 0
			for _, k := range perBlock {
				n += k
			}
			if n == 0 || perBlock[0] != n {
				t.Errorf("%d packets, %d of them not on interface 0", n, n-perBlock[0])
			}
			if len(ifaces) != 1 {
				t.Fatalf("%d interface blocks, want 1", len(ifaces))
			}
			if ifc := ifaces[0]; ifc.Name != name || ifc.LinkType != layers.LinkTypeRaw {
				t.Errorf("interface 0: %q %v, want %q raw IP", ifc.Name, ifc.LinkType, name)
			}

			out, err := exec.Command(built.zmtpdump, "-r", file).Output()
			if err != nil {
				t.Fatalf("zmtpdump -r: %v", err)
			}
			srv := fmt.Sprintf("%s:%d", addr1, port)
			if m := livetest.Lines(string(out), "> "+srv+": message: "); len(m) != 3 {
				t.Errorf("read back: want 3 messages to %s, got %q\n%s", srv, m, out)
			}
		})
	}
}

// pcapngPackets reads a pcapng file zmtpdump wrote: its interface blocks,
// in order, and how many packets refer to each, by block index.
func pcapngPackets(t *testing.T, file string) ([]pcapgo.NgInterface, map[int]int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	per := map[int]int{}
	for {
		_, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		per[ci.InterfaceIndex]++
	}
	ifaces := make([]pcapgo.NgInterface, r.NInterfaces())
	for i := range ifaces {
		if ifaces[i], err = r.Interface(i); err != nil {
			t.Fatal(err)
		}
	}
	return ifaces, per
}
