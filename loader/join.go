package loader

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/bpf"
)

// modeJoin is enum frame_mode's MODE_JOIN in bpf/capture.c: a flow_state
// userspace wrote, waiting for the packet that holds its sequence number.
const modeJoin = 4

// JoinPoint is a frame boundary of one flow direction that userspace
// proved (by decoding it, not by guessing): the kernel can walk that
// direction's frames from there on, as if it had followed it from its SYN.
type JoinPoint struct {
	// Ifindex is the interface the direction's packets are seen on
	// (segment.Segment.Ifindex). A direction seen on several interfaces
	// (a veth and its bridge) is walked per interface: join each.
	Ifindex int
	// Src and Dst are the direction's sender and receiver. IPv4 addresses
	// may be given 4-in-6; both must be of the same family.
	Src, Dst netip.AddrPort
	// Seq is the TCP sequence number of the first byte of a frame header
	// (it may be a byte the kernel has not seen yet).
	Seq uint32
	// InMessage reports that this frame continues a multipart message:
	// the message frame before it had MORE.
	InMessage bool
	// V2 selects ZMTP 2.0 framing: no COMMAND flag.
	V2 bool
}

// ErrJoinClosed is returned by Join after Close.
var ErrJoinClosed = errors.New("join on a closed capture")

// Join asks the kernel to walk p's direction from p.Seq on, replacing what
// it knew of that direction. Packets wholly before p.Seq are shipped as
// without framing (whole, unmarked); the packet holding p.Seq starts the
// walk there (its bytes before p.Seq shipped too, unmarked); from then on
// the direction's segments carry Boundary marks with counts from 0 at
// p.Seq, and kernel-side framing leaves bytes out as Config.FrameKeep says.
// If the first packet the kernel sees after the Join starts beyond p.Seq
// (that byte passed before the Join), the kernel gives the join up,
// counts it in Stats.Unframed and ships the direction whole: Join again at
// a later boundary. Stats.Joined counts the joins taken.
//
// Join returns an error wrapping ebpf.ErrNotSupported when the capture
// does not walk frames (see Marks). It may be called from any goroutine,
// also while Next runs, but not concurrently with Close.
func (c *Capture) Join(p JoinPoint) error {
	if c.sets == nil {
		return ErrJoinClosed
	}
	if !c.marks {
		return fmt.Errorf("join %v > %v: the kernel does not walk frames in this capture (needs Config.Marks or FrameKeep, and bpf_loop): %w",
			p.Src, p.Dst, ebpf.ErrNotSupported)
	}
	return join(c.first.Flowstate, p)
}

// join writes p into the flowstate map m.
func join(m *ebpf.Map, p JoinPoint) error {
	k, err := joinKey(p)
	if err != nil {
		return err
	}
	st := bpf.CaptureFlowState{Expect: p.Seq, Mode: modeJoin}
	if p.InMessage {
		st.InMsg = 1
	}
	if p.V2 {
		st.V2 = 1
	}
	if err := m.Update(&k, &st, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("join %v > %v at seq %d: %w", p.Src, p.Dst, p.Seq, err)
	}
	return nil
}

// errJoinPoint reports a JoinPoint that names no direction the kernel
// could see.
var errJoinPoint = errors.New("bad join point")

// joinKey returns the flowstate key of p's direction: as struct flow_key
// in bpf/capture.c, addresses in network order (IPv4 in the first 4
// bytes), ports in host order.
func joinKey(p JoinPoint) (bpf.CaptureFlowKey, error) {
	var k bpf.CaptureFlowKey
	src, dst := p.Src.Addr().Unmap(), p.Dst.Addr().Unmap()
	switch {
	case !src.IsValid() || !dst.IsValid():
		return k, fmt.Errorf("%w: endpoints %v > %v", errJoinPoint, p.Src, p.Dst)
	case src.Is4() != dst.Is4():
		return k, fmt.Errorf("%w: %v > %v mixes IPv4 and IPv6", errJoinPoint, p.Src, p.Dst)
	case p.Ifindex <= 0 || p.Ifindex > 1<<31-1:
		return k, fmt.Errorf("%w: interface index %d", errJoinPoint, p.Ifindex)
	}
	if src.Is4() {
		s4, d4 := src.As4(), dst.As4()
		copy(k.Saddr[:], s4[:])
		copy(k.Daddr[:], d4[:])
	} else {
		k.Saddr, k.Daddr = src.As16(), dst.As16()
	}
	k.Sport, k.Dport = p.Src.Port(), p.Dst.Port()
	k.Ifindex = uint32(p.Ifindex)
	return k, nil
}
