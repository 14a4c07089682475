package loader

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/bpf"
)

// attachAll attaches to every interface with the chosen backend. Auto
// probes TCX by attaching to the first interface: a kernel without TCX
// refuses with ErrNotSupported, and the socket backend takes over.
func (c *Capture) attachAll(backend Backend) error {
	if backend == Auto {
		err := c.attachTCX(c.ifaces[0])
		switch {
		case err == nil:
			c.backend = TCX
			for _, ifc := range c.ifaces[1:] {
				if err := c.attachTCX(ifc); err != nil {
					return err
				}
			}
			return nil
		case errors.Is(err, ebpf.ErrNotSupported):
			backend = Socket
		default:
			return err
		}
	}
	c.backend = backend
	for _, ifc := range c.ifaces {
		var err error
		if backend == TCX {
			err = c.attachTCX(ifc)
		} else {
			err = c.attachSocket(ifc)
		}
		if err != nil {
			return err
		}
	}
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

// attachTCX hooks the programs to one interface with TCX links. A loopback
// packet crosses lo's egress and then its ingress: hooking egress alone
// sees it exactly once, and in the order the sender sent it (ingress on lo
// can reorder a connection's packets: each CPU has its own backlog).
func (c *Capture) attachTCX(ifc iface) error {
	objs := c.sets[ifc.l2len]
	type hook struct {
		prog *ebpf.Program
		at   ebpf.AttachType
	}
	hooks := []hook{{objs.CaptureEgress, ebpf.AttachTCXEgress}}
	if !ifc.loopback {
		hooks = append(hooks, hook{objs.CaptureIngress, ebpf.AttachTCXIngress})
	}
	for _, h := range hooks {
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.index, Program: h.prog, Attach: h.at})
		if err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				return fmt.Errorf("attach to %s: this kernel has no TCX (needs Linux 6.6 or later; try --backend socket): %w", ifc.name, err)
			}
			return permissionError("attach to "+ifc.name, err)
		}
		c.links = append(c.links, l)
	}
	return nil
}

// attachSocket opens an AF_PACKET socket bound to the interface with the
// socket program as its filter. The socket is created listening to no
// protocol, gets its filter, and only then is bound to every protocol, so
// that no packet is ever queued on it: the filter returns 0 for all.
func (c *Capture) attachSocket(ifc iface) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return permissionError("open a packet socket", err)
	}
	c.sockets = append(c.sockets, fd)
	prog := c.sets[ifc.l2len].CaptureSocket
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, prog.FD()); err != nil {
		return permissionError("attach the socket filter on "+ifc.name, err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.index}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind packet socket to %s: %w", ifc.name, err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
