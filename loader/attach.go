package loader

import (
	"errors"

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
