package livetest

import (
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/zmtpdump/zmtpdump/internal/skip"
)

// TestNetlink builds what the virtual machine's veth check builds: a
// namespace, a veth pair into it, addresses and links up, and a socket
// opened in the namespace reaches the root namespace's end.
func TestNetlink(t *testing.T) {
	if os.Geteuid() != 0 {
		skip.Unavailable(t, "network namespaces need root")
	}
	ns, err := NewNetns()
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ns)
	n, err := OpenNetlink()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	const host, peer = "zlkh0", "zlkp0"
	if err := n.AddVeth(host, peer, ns); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if l, err := n.h.LinkByName(host); err == nil {
			n.h.LinkDel(l)
		}
	}()
	if _, err := net.InterfaceByName(peer); err == nil {
		t.Errorf("the peer %s is in the root namespace", peer)
	}
	for _, err := range []error{n.AddAddr(host, "10.239.7.1/30"), n.SetUp(host)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	m, err := OpenNetlinkAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, err := range []error{m.SetUp("lo"), m.AddAddr(peer, "10.239.7.2/30"), m.SetUp(peer)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := m.AddAddr(peer, "not an address"); err == nil {
		t.Error("a bad prefix was accepted")
	}

	l, err := net.Listen("tcp", "10.239.7.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	err = InNetns(ns, func() error {
		if _, err := net.InterfaceByName(peer); err != nil {
			return err
		}
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return err
		}
		defer c.Close()
		b := make([]byte, 1)
		_, err = c.Read(b)
		return err
	})
	if err != nil {
		t.Errorf("from the namespace to the root one: %v", err)
	}
}
