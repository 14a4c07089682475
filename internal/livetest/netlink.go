package livetest

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink configures the links of one network namespace: the few
// rtnetlink requests live tests need (a veth pair whose peer lives in
// another namespace, IPv4 addresses, links up), for places with no ip(8),
// such as the test virtual machine.
type Netlink struct {
	h *netlink.Handle
}

// OpenNetlink opens a netlink client on the calling thread's network
// namespace (the process's, unless the thread entered another).
func OpenNetlink() (*Netlink, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE) // only: a small kernel may lack XFRM
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	return &Netlink{h: h}, nil
}

// OpenNetlinkAt opens a netlink client on the network namespace nsFD
// (from NewNetns): a netlink socket acts in the namespace of the thread
// that opened it, so a thread enters nsFD to open it (InNetns).
func OpenNetlinkAt(nsFD int) (*Netlink, error) {
	var n *Netlink
	err := InNetns(nsFD, func() error {
		var err error
		n, err = OpenNetlink()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("in the namespace: %w", err)
	}
	return n, nil
}

// Close closes the client's sockets.
func (n *Netlink) Close() { n.h.Close() }

// AddVeth creates the veth pair name/peer, with peer in the network
// namespace nsFD.
func (n *Netlink) AddVeth(name, peer string, nsFD int) error {
	attrs := netlink.NewLinkAttrs() // the kernel's defaults (TxQLen -1: not set)
	attrs.Name = name
	v := &netlink.Veth{LinkAttrs: attrs, PeerName: peer, PeerNamespace: netlink.NsFd(nsFD)}
	if err := n.h.LinkAdd(v); err != nil {
		return fmt.Errorf("create veth %s/%s: %w", name, peer, err)
	}
	return nil
}

// SetUp brings a link up.
func (n *Netlink) SetUp(name string) error {
	l, err := n.h.LinkByName(name)
	if err == nil {
		err = n.h.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// AddAddr gives a link an IPv4 address such as "10.0.0.1/30".
func (n *Netlink) AddAddr(name, cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("bad IPv4 prefix %q", cidr)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return fmt.Errorf("bad IPv4 prefix %q: %w", cidr, err)
	}
	l, err := n.h.LinkByName(name)
	if err == nil {
		err = n.h.AddrAdd(l, a)
	}
	if err != nil {
		return fmt.Errorf("add %s to %s: %w", cidr, name, err)
	}
	return nil
}

// LinkUp brings a link of the process's network namespace up.
func LinkUp(name string) error {
	n, err := OpenNetlink()
	if err != nil {
		return err
	}
	defer n.Close()
	return n.SetUp(name)
}
