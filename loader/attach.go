package loader

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/bpf"
)

// attachment is an interface captured on and what hooks the programs to
// it: TCX links or a packet socket. Both are owned by file descriptors, so
// nothing stays attached once the process is gone.
type attachment struct {
	iface
	links  []link.Link
	socket int // -1: none
}

// close detaches from the interface.
func (a *attachment) close() error {
	var errs []error
	for _, l := range a.links {
		errs = append(errs, l.Close())
	}
	a.links = nil
	if a.socket >= 0 {
		errs = append(errs, unix.Close(a.socket))
		a.socket = -1
	}
	return errors.Join(errs...)
}

// attachAll attaches to every interface with the chosen backend. Auto
// probes TCX by attaching to the first interface: a kernel without TCX
// refuses with ErrNotSupported, and the socket backend takes over. It runs
// in the namespace captured in.
func (c *Capture) attachAll(backend Backend, ifaces []iface) error {
	if backend == Auto {
		c.backend = TCX
		err := c.attach(ifaces[0])
		switch {
		case err == nil:
			ifaces = ifaces[1:]
		case errors.Is(err, ebpf.ErrNotSupported):
			c.backend = Socket
		default:
			return err
		}
	} else {
		c.backend = backend
	}
	for _, ifc := range ifaces {
		if err := c.attach(ifc); err != nil {
			return err
		}
	}
	return nil
}

// attach hooks the programs to one interface with c.backend and adds it to
// c.ifaces; on failure nothing of it stays attached. It runs in the
// namespace captured in.
func (c *Capture) attach(ifc iface) error {
	objs, err := c.programSet(ifc.l2len)
	if err != nil {
		return err
	}
	a := &attachment{iface: ifc, socket: -1}
	if c.backend == TCX {
		err = a.attachTCX(objs)
	} else {
		err = a.attachSocket(objs)
	}
	if err != nil {
		return errors.Join(err, a.close())
	}
	c.ifaces = append(c.ifaces, a)
	return nil
}

// programsFor returns the programs a backend attaches to ifaces: at TCX
// egress everywhere and ingress except on lo, or the socket filter; nil
// (all) when the backend is not decided yet.
func programsFor(backend Backend, ifaces []iface) []string {
	switch backend {
	case TCX:
		progs := []string{bpf.CaptureProgCaptureEgress}
		for _, ifc := range ifaces {
			if !ifc.loopback {
				return append(progs, bpf.CaptureProgCaptureIngress)
			}
		}
		return progs
	case Socket:
		return []string{bpf.CaptureProgCaptureSocket}
	}
	return nil
}

// attachTCX hooks the programs to the interface with TCX links. A loopback
// packet crosses lo's egress and then its ingress: hooking egress alone
// sees it exactly once, and in the order the sender sent it (ingress on lo
// can reorder a connection's packets: each CPU has its own backlog).
func (a *attachment) attachTCX(objs *bpf.CaptureObjects) error {
	type hook struct {
		prog *ebpf.Program
		at   ebpf.AttachType
	}
	hooks := []hook{{objs.CaptureEgress, ebpf.AttachTCXEgress}}
	if !a.loopback {
		hooks = append(hooks, hook{objs.CaptureIngress, ebpf.AttachTCXIngress})
	}
	for _, h := range hooks {
		l, err := link.AttachTCX(link.TCXOptions{Interface: a.index, Program: h.prog, Attach: h.at})
		if err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				return fmt.Errorf("attach to %s: this kernel has no TCX (needs Linux 6.6 or later; try --backend socket): %w", quoteName(a.name), err)
			}
			return permissionError("attach to "+quoteName(a.name), err)
		}
		a.links = append(a.links, l)
	}
	return nil
}

// attachSocket opens an AF_PACKET socket bound to the interface with the
// socket program as its filter. The socket is created listening to no
// protocol, gets its filter, and only then is bound to every protocol, so
// that no packet is ever queued on it: the filter returns 0 for all.
func (a *attachment) attachSocket(objs *bpf.CaptureObjects) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return permissionError("open a packet socket", err)
	}
	a.socket = fd
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, objs.CaptureSocket.FD()); err != nil {
		return permissionError("attach the socket filter on "+quoteName(a.name), err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: a.index}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind packet socket to %s: %w", quoteName(a.name), err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
