package diagnose

import "net/netip"

// summaryConns is how many connections Summary names per kind; the others
// are only counted.
const summaryConns = 10

// Summary counts problems by kind with the connections they touched. The
// zero Summary is empty and ready to use. Its memory is bounded: at most
// summaryConns (10) connections named per kind.
type Summary struct {
	kinds [numKinds]kindSummary
}

type kindSummary struct {
	count uint64
	conns []Touched
	more  uint64 // problems on connections beyond conns
}

// Touched is one connection a kind of problem touched.
type Touched struct {
	Client, Server netip.AddrPort
}

// String returns "client > server".
func (t Touched) String() string { return t.Client.String() + " > " + t.Server.String() }

// KindCount is one line of a Summary: a kind, how many problems of it, and
// the connections they touched.
type KindCount struct {
	Kind  Kind
	Count uint64
	// Connections are the first connections touched (at most 10), in the
	// order first touched; More counts the problems on connections not
	// named (memory is bounded, so one connection may count more than once).
	Connections []Touched
	More        uint64
}

// Add counts a problem.
func (s *Summary) Add(p *Problem) {
	if p.Kind == 0 || p.Kind >= numKinds {
		return
	}
	k := &s.kinds[p.Kind]
	k.count++
	t := Touched{p.Client, p.Server}
	for _, c := range k.conns {
		if c == t {
			return
		}
	}
	if len(k.conns) < summaryConns {
		k.conns = append(k.conns, t)
		return
	}
	k.more++
}

// Kinds returns the kinds seen, in Kind order, nil when there was no
// problem.
func (s *Summary) Kinds() []KindCount {
	var out []KindCount
	for k := SocketTypeMismatch; k < numKinds; k++ {
		ks := &s.kinds[k]
		if ks.count == 0 {
			continue
		}
		out = append(out, KindCount{Kind: k, Count: ks.count, Connections: ks.conns, More: ks.more})
	}
	return out
}

// Empty reports that no problem was added.
func (s *Summary) Empty() bool {
	for i := range s.kinds {
		if s.kinds[i].count > 0 {
			return false
		}
	}
	return true
}
