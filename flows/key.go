package flows

import (
	"hash/maphash"
	"net/netip"
)

// key identifies a connection whatever the direction of a segment: a is the
// smaller endpoint. It holds no pointers (netip.Addr holds one for its
// zone, which captured packets never carry), so a map of 100,000 keys costs
// the garbage collector nothing to scan and 38 bytes a key.
type key struct {
	a, b   [16]byte
	pa, pb uint16
	v6     bool
}

// makeKey builds the key of the connection between two endpoints. IPv4
// addresses are stored as their IPv4-mapped IPv6 form; v6 keeps a true IPv6
// ::ffff:a.b.c.d apart from a.b.c.d.
func makeKey(x, y netip.AddrPort) key {
	if y.Compare(x) < 0 {
		x, y = y, x
	}
	return key{a: x.Addr().As16(), b: y.Addr().As16(), pa: x.Port(), pb: y.Port(), v6: x.Addr().Is6()}
}

// shardOf returns the shard of k among n.
func shardOf(seed maphash.Seed, k key, n int) int {
	return int(maphash.Comparable(seed, k) % uint64(n))
}
