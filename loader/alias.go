package loader

import (
	"errors"
	"net/netip"
	"slices"
	"sync"

	"github.com/cilium/ebpf"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Count mode on several interfaces (-i any, review C4): the kernel walks a
// direction apart on each interface it passes (a pod's veth and the
// bridge), keyed by ifindex, and userspace keeps the copies of the first
// only (dedup). A session names its direction on its connection's first
// interface (JoinPoint.Ifindex); the others the direction was seen on are
// noted here as the dedup filter drops their copies, so that ForgetDir
// forgets the direction on every one of them (else their entries stay in
// the LRU map, dead, until evicted) and ShipMessages leaves its messages
// out on every one (else they are shipped through the ring, only to be
// dropped as copies).

// maxAliased bounds the directions noted (a direction never forgotten only
// keeps its entry: its kernel entries go by LRU eviction as before).
const maxAliased = 1 << 16

type dirPair struct{ src, dst netip.AddrPort }

// aliasDir is what is noted of a direction: the interfaces its packets
// were seen on, and whether its messages are left out (ShipMessages).
type aliasDir struct {
	ifs    []int
	elided bool
}

type countAliases struct {
	mu sync.Mutex
	m  map[dirPair]*aliasDir
}

func pairOf(src, dst netip.AddrPort) dirPair {
	return dirPair{netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())}
}

// noteCopy notes, in count mode, that seg's direction was seen on seg's
// interface and on first's (dedup dropped seg as a copy of first's): if
// its messages are left out, they are on the new interface too.
func (c *Capture) noteCopy(seg *segment.Segment, first int) {
	a := &c.aliases
	a.mu.Lock()
	defer a.mu.Unlock()
	k := pairOf(seg.Src, seg.Dst)
	d := a.m[k]
	if d == nil {
		if len(a.m) >= maxAliased {
			return
		}
		if a.m == nil {
			a.m = map[dirPair]*aliasDir{}
		}
		d = &aliasDir{}
		a.m[k] = d
	}
	for _, ifx := range []int{first, seg.Ifindex} {
		if ifx <= 0 || slices.Contains(d.ifs, ifx) {
			continue
		}
		d.ifs = append(d.ifs, ifx)
		if d.elided {
			if key, err := joinKey(JoinPoint{Ifindex: ifx, Src: seg.Src, Dst: seg.Dst}); err == nil {
				_ = c.first.Elide.Update(&key, uint8(1), ebpf.UpdateAny) // full: the direction ships there
			}
		}
	}
}

// pointsOf returns p and p's direction on every other interface it was
// seen on; with elided set (not nil), it notes whether the direction's
// messages are left out, and forget drops the note.
func (c *Capture) pointsOf(p JoinPoint, elided *bool, forget bool) []JoinPoint {
	pts := []JoinPoint{p}
	a := &c.aliases
	a.mu.Lock()
	defer a.mu.Unlock()
	k := pairOf(p.Src, p.Dst)
	d := a.m[k]
	if d == nil && elided != nil && *elided && c.dedup.on && len(a.m) < maxAliased {
		if a.m == nil {
			a.m = map[dirPair]*aliasDir{}
		}
		d = &aliasDir{ifs: []int{p.Ifindex}}
		a.m[k] = d
	}
	if d == nil {
		return pts
	}
	for _, ifx := range d.ifs {
		if ifx != p.Ifindex {
			q := p
			q.Ifindex = ifx
			pts = append(pts, q)
		}
	}
	if elided != nil {
		d.elided = *elided
	}
	if forget {
		delete(a.m, k)
	}
	return pts
}

// deleteKey deletes p's entry of m, none being no error.
func deleteKey(m *ebpf.Map, p JoinPoint) error {
	k, err := joinKey(p)
	if err != nil {
		return err
	}
	if err := m.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return err
	}
	return nil
}
