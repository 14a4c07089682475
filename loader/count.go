package loader

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/zmtpdump/zmtpdump/bpf"
	"github.com/zmtpdump/zmtpdump/segment"
)

// Count mode (Config.CountOnly): the kernel counts what it walks per
// direction, and leaves out the message frames of the directions it
// follows whose READY named a sender whose messages are not needed (the
// kernel reads it) or that ShipMessages(p, false) named. See "Counting" in
// bpf/count.h.

// counts reports whether the program loaded for cfg (full: with bpf_loop)
// runs in count mode.
func counts(cfg Config, full bool) bool {
	return cfg.CountOnly && cfg.FrameKeep > 0 && walks(cfg, full)
}

// CountOnly reports whether count mode is on: Config.CountOnly asked for
// it, the kernel has bpf_loop, and the backend is TCX. The socket backend
// (kernels before 6.6) refuses it: its program must stay under the option
// memory budget of older kernels (net.core.optmem_max, see
// TestSocketProgramSize) and count mode does not fit there; the capture
// then ships message frames as Config.FrameKeep says.
func (c *Capture) CountOnly() bool { return c.counting }

// CountModeNote says why count mode is off for a Config that asked for
// it, "" when it is on or was not asked for.
func (c *Capture) CountModeNote() string {
	switch {
	case c.counting || !c.countAsked:
		return ""
	case !c.full:
		return "no kernel counting: it needs bpf_loop (Linux 5.17+); message frames are shipped"
	case c.backend != TCX:
		return "no kernel counting on the socket backend (it needs TCX, Linux 6.6+); message frames are shipped"
	}
	return "no kernel counting: message frames are shipped"
}

// DirCounts are the kernel's counts of one direction it follows, read from
// its state: cumulative since it began to follow the direction.
type DirCounts struct {
	// Counts are the direction's counts (Valid set).
	segment.Counts
	// LastNs is the kernel's CLOCK_MONOTONIC time of the direction's last
	// packet with payload walked.
	LastNs uint64
	// Gaps counts packets before which bytes were missing that the walk
	// passed over inside a frame body; GapBytes the bytes.
	Gaps, GapBytes uint64
	// Joined reports that the kernel began at a join point (Capture.Join),
	// not at the SYN: the counts start there.
	Joined bool
	// InMessage reports that the direction's last walked byte is inside
	// a unit, as zmtp.Decoder.InMessage says: a frame header, a frame or
	// command body, or between the frames of a multipart message.
	InMessage bool
}

// ErrNotFollowed is returned by DirCounts for a direction the kernel does
// not follow (or no longer: it ended, or was forgotten).
var ErrNotFollowed = errors.New("direction not followed by the kernel")

// dirCountsOf converts a flow_state into DirCounts.
func dirCountsOf(st *bpf.CaptureFlowState) DirCounts {
	return DirCounts{
		Counts: segment.Counts{Valid: true, Messages: st.Messages, Frames: st.Frames, Bytes: st.Bytes,
			Commands: [4]uint64{uint64(st.Cmds[0]), uint64(st.Cmds[1]), uint64(st.Cmds[2]), uint64(st.Cmds[3])},
			Unnamed:  uint64(st.Unnamed)},
		LastNs: st.LastNs, Gaps: uint64(st.Gaps), GapBytes: st.GapBytes, Joined: st.Joined != 0,
		InMessage: st.InMsg != 0 || st.BodyLeft != 0 || st.HdrNeed != 0,
	}
}

// DirCounts returns the kernel's current counts of the direction p names
// (p.Seq, InMessage and V2 are not used): an error wrapping
// ErrNotFollowed when the kernel does not follow it. One map lookup. It
// may be called from any goroutine, also while Next runs, but not
// concurrently with Close.
func (c *Capture) DirCounts(p JoinPoint) (DirCounts, error) {
	if c.sets == nil {
		return DirCounts{}, ErrJoinClosed
	}
	k, err := joinKey(p)
	if err != nil {
		return DirCounts{}, err
	}
	var st bpf.CaptureFlowState
	if err := c.first.Flowstate.Lookup(&k, &st); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return DirCounts{}, fmt.Errorf("%v > %v: %w", p.Src, p.Dst, ErrNotFollowed)
		}
		return DirCounts{}, fmt.Errorf("read the counts of %v > %v: %w", p.Src, p.Dst, err)
	}
	if st.Mode != modeFrames {
		return DirCounts{}, fmt.Errorf("%v > %v: %w", p.Src, p.Dst, ErrNotFollowed)
	}
	return dirCountsOf(&st), nil
}

// pointOf names the direction of flowstate key k.
func pointOf(k *bpf.CaptureFlowKey) JoinPoint {
	var src, dst netip.Addr
	if isV4(k.Saddr) && isV4(k.Daddr) {
		src, dst = netip.AddrFrom4([4]byte(k.Saddr[:4])), netip.AddrFrom4([4]byte(k.Daddr[:4]))
	} else {
		src, dst = netip.AddrFrom16(k.Saddr), netip.AddrFrom16(k.Daddr)
	}
	return JoinPoint{Ifindex: int(k.Ifindex), Src: netip.AddrPortFrom(src, k.Sport), Dst: netip.AddrPortFrom(dst, k.Dport)}
}

// isV4 reports an address as the kernel writes IPv4 ones: 4 bytes, then
// zeros. (An IPv6 address with 12 zero bytes at its end, such as ::, is
// taken for IPv4: no ZMTP peer sits there.)
func isV4(a [16]byte) bool { return [12]byte(a[4:]) == [12]byte{} }

// modeFrames is enum frame_mode's MODE_FRAMES: walking frames.
const modeFrames = 2

// countBatch is how many flowstate entries EachDirCounts reads a call
// (BPF_MAP_LOOKUP_BATCH).
const countBatch = 4096

// EachDirCounts calls fn with the counts of every direction the kernel
// follows now, in one pass over its state: for a scrape. It reads
// countBatch entries a bpf(2) call (BPF_MAP_LOOKUP_BATCH, LRU hash maps
// since Linux 5.6), or, where batches are refused, an entry at a time
// (two calls each: the map's iterator). The JoinPoint names the direction
// (Seq, InMessage, V2 unset). Same rules as DirCounts for goroutines (the
// buffers are the capture's: one call at a time).
func (c *Capture) EachDirCounts(fn func(JoinPoint, DirCounts)) error {
	if c.sets == nil {
		return ErrJoinClosed
	}
	if !c.noBatch {
		err := c.eachDirCountsBatch(fn)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ebpf.ErrNotSupported) && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("read the kernel's counts: %w", err)
		}
		c.noBatch = true // and read an entry at a time from now on
	}
	var (
		k  bpf.CaptureFlowKey
		st bpf.CaptureFlowState
	)
	it := c.first.Flowstate.Iterate()
	for it.Next(&k, &st) {
		if st.Mode != modeFrames {
			continue
		}
		fn(pointOf(&k), dirCountsOf(&st))
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read the kernel's counts: %w", err)
	}
	return nil
}

// eachDirCountsBatch is EachDirCounts in batches of countBatch entries,
// read into the capture's buffers (no allocation a scrape).
func (c *Capture) eachDirCountsBatch(fn func(JoinPoint, DirCounts)) error {
	if c.batchKeys == nil {
		c.batchKeys = make([]bpf.CaptureFlowKey, countBatch)
		c.batchVals = make([]bpf.CaptureFlowState, countBatch)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := c.first.Flowstate.BatchLookup(&cursor, c.batchKeys, c.batchVals, nil)
		for i := range n {
			if c.batchVals[i].Mode == modeFrames {
				fn(pointOf(&c.batchKeys[i]), dirCountsOf(&c.batchVals[i]))
			}
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil // the end
		}
		if err != nil {
			return err
		}
	}
}

// ShipMessages tells the kernel, in count mode, to leave the message
// frames of p's direction out whole from now on (on false: they are only
// counted), or (on true) to forget that: it ships every direction's, headers
// and Config.FrameKeep body bytes, until told, or until the direction's
// READY names a sender whose messages are not needed (the kernel reads the
// Socket-Type property itself when it comes first and whole in a packet,
// and then leaves them out whatever the entry says). The caller, which
// decodes READY, names the directions whose messages it does not need, and
// forgets the entry when the connection ends. It does nothing when count mode is off. If the
// kernel's table is full, the direction keeps shipping. Same rules as
// Join for goroutines.
func (c *Capture) ShipMessages(p JoinPoint, on bool) error {
	if c.sets == nil {
		return ErrJoinClosed
	}
	if !c.counting {
		return nil
	}
	if _, err := joinKey(p); err != nil {
		return err
	}
	elided := !on
	for i, q := range c.pointsOf(p, &elided, false) { // every interface it was seen on (alias.go)
		k, _ := joinKey(q)
		if on {
			if err := c.first.Elide.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) && i == 0 {
				return fmt.Errorf("ship messages of %v > %v: %w", p.Src, p.Dst, err)
			}
			continue
		}
		if err := c.first.Elide.Update(&k, uint8(1), ebpf.UpdateAny); err != nil && i == 0 {
			return fmt.Errorf("leave the messages of %v > %v out: %w", p.Src, p.Dst, err)
		}
	}
	return nil
}

// ForgetDir deletes what the kernel keeps of p's direction: in count mode
// a FIN or RST leaves it for userspace to read the final counts
// (DirCounts) at the connection's close. It does so on every interface the
// direction was seen on (p.Ifindex, and those whose copies of its packets
// were dropped as duplicates: alias.go), its elide entries there too. A
// direction not followed is no error. Same rules as Join for goroutines.
// (A new connection of the same addresses and ports whose SYN came between
// the read and ForgetDir would lose its state, and be shipped whole: the
// caller does not call it for a connection whose ports a new one took,
// segment.Reused.)
func (c *Capture) ForgetDir(p JoinPoint) error {
	if c.sets == nil {
		return ErrJoinClosed
	}
	if _, err := joinKey(p); err != nil {
		return err
	}
	for i, q := range c.pointsOf(p, nil, true) {
		if err := deleteKey(c.first.Flowstate, q); err != nil && i == 0 {
			return fmt.Errorf("forget %v > %v: %w", p.Src, p.Dst, err)
		}
		if i > 0 {
			_ = deleteKey(c.first.Elide, q) // the caller deletes p's (ShipMessages)
		}
	}
	return nil
}

// ErrCountingSocket is returned by ProbeCounting where only the socket
// backend can capture: count mode does not fit its program (see
// CountOnly).
var ErrCountingSocket = errors.New("count mode needs the TCX backend: the socket filter (kernels before 6.6) ships message frames")

// ProbeCounting reports whether count mode (Config.CountOnly: the kernel
// counts messages and ships none) can run here: it needs bpf_loop and TCX.
func ProbeCounting() error {
	if err := ProbeFraming(); err != nil {
		return err
	}
	if err := ProbeTCX(); err != nil {
		return fmt.Errorf("%w (%w)", ErrCountingSocket, err)
	}
	return nil
}
