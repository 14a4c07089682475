package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// The few rtnetlink requests the checks need: a veth pair whose peer lives
// in another network namespace, IPv4 addresses, links up. There is no ip(8)
// in the virtual machine.

// vethInfoPeer is VETH_INFO_PEER from linux/veth.h.
const vethInfoPeer = 1

// rtnl is a NETLINK_ROUTE socket. A netlink socket acts in the network
// namespace of the thread that opened it.
type rtnl struct {
	fd  int
	seq uint32
}

func openRtnl() (*rtnl, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind netlink socket: %w", err)
	}
	return &rtnl{fd: fd}, nil
}

func (n *rtnl) Close() error { return unix.Close(n.fd) }

// request sends one message and waits for the kernel's acknowledgement.
func (n *rtnl) request(typ uint16, flags uint16, body []byte) error {
	n.seq++
	msg := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body))
	msg = append(msg, body...)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], typ)
	ne.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(msg[8:], n.seq)
	if err := unix.Sendto(n.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for {
		nr, _, err := unix.Recvfrom(n.fd, buf, 0)
		if err != nil {
			return err
		}
		for b := buf[:nr]; len(b) >= unix.NLMSG_HDRLEN; {
			size := int(ne.Uint32(b[0:]))
			if size < unix.NLMSG_HDRLEN || size > len(b) {
				return fmt.Errorf("malformed netlink reply")
			}
			typ, seq, data := ne.Uint16(b[4:]), ne.Uint32(b[8:]), b[unix.NLMSG_HDRLEN:size]
			b = b[min((size+3)&^3, len(b)):]
			if seq != n.seq || typ != unix.NLMSG_ERROR {
				continue
			}
			if len(data) < 4 {
				return fmt.Errorf("short netlink error message")
			}
			if code := int32(ne.Uint32(data)); code != 0 {
				return unix.Errno(-code)
			}
			return nil
		}
	}
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, data ...[]byte) []byte {
	size := unix.SizeofRtAttr
	for _, d := range data {
		size += len(d)
	}
	b := make([]byte, 4, (size+3)&^3)
	binary.NativeEndian.PutUint16(b[0:], uint16(size))
	binary.NativeEndian.PutUint16(b[2:], typ)
	for _, d := range data {
		b = append(b, d...)
	}
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func cstring(s string) []byte { return append([]byte(s), 0) }

func u32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// ifinfo encodes a struct ifinfomsg.
func ifinfo(index int32, flags, change uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(b[4:], uint32(index))
	binary.NativeEndian.PutUint32(b[8:], flags)
	binary.NativeEndian.PutUint32(b[12:], change)
	return b
}

// addVeth creates the veth pair name/peer, with peer in the network
// namespace nsFD.
func (n *rtnl) addVeth(name, peer string, nsFD int) error {
	peerInfo := attr(vethInfoPeer, ifinfo(0, 0, 0), attr(unix.IFLA_IFNAME, cstring(peer)), attr(unix.IFLA_NET_NS_FD, u32(uint32(nsFD))))
	body := append(ifinfo(0, 0, 0),
		attr(unix.IFLA_IFNAME, cstring(name))...)
	body = append(body, attr(unix.IFLA_LINKINFO,
		attr(unix.IFLA_INFO_KIND, cstring("veth")),
		attr(unix.IFLA_INFO_DATA, peerInfo))...)
	if err := n.request(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body); err != nil {
		return fmt.Errorf("create veth %s/%s: %w", name, peer, err)
	}
	return nil
}

// setUp brings a link up.
func (n *rtnl) setUp(name string) error {
	body := append(ifinfo(0, unix.IFF_UP, unix.IFF_UP), attr(unix.IFLA_IFNAME, cstring(name))...)
	if err := n.request(unix.RTM_NEWLINK, 0, body); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// addAddr gives a link an IPv4 address such as "10.0.0.1/30".
func (n *rtnl) addAddr(name, cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("bad IPv4 prefix %q", cidr)
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return err
	}
	a := p.Addr().As4()
	body := make([]byte, unix.SizeofIfAddrmsg)
	body[0] = unix.AF_INET
	body[1] = byte(p.Bits())
	binary.NativeEndian.PutUint32(body[4:], uint32(ifc.Index))
	body = append(body, attr(unix.IFA_LOCAL, a[:])...)
	body = append(body, attr(unix.IFA_ADDRESS, a[:])...)
	if err := n.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body); err != nil {
		return fmt.Errorf("add %s to %s: %w", cidr, name, err)
	}
	return nil
}

// linkUp brings a link of the current network namespace up.
func linkUp(name string) error {
	n, err := openRtnl()
	if err != nil {
		return err
	}
	defer n.Close()
	return n.setUp(name)
}

// newNetns creates a network namespace and returns a descriptor that keeps
// it alive. Only a locked thread enters it; the thread is then discarded
// (a goroutine that exits locked takes its thread with it).
func newNetns() (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{-1, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

// inNetns runs f on a thread that has entered the network namespace nsFD:
// sockets f opens and processes f starts live there. The thread is
// discarded afterwards.
func inNetns(nsFD int, f func() error) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		ch <- f()
	}()
	return <-ch
}
