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
	// ClientName and ServerName are the names of the first problem that
	// touched it (Problem.ClientName, ServerName); empty: by address.
	ClientName, ServerName string
}

// String returns "client > server", each end by its name when it has one.
func (t Touched) String() string { return t.ClientString() + " > " + t.ServerString() }

// ClientString returns ClientName, or the client's address when it has no
// name.
func (t Touched) ClientString() string { return nameOr(t.ClientName, t.Client) }

// ServerString returns ServerName, or the server's address when it has no
// name.
func (t Touched) ServerString() string { return nameOr(t.ServerName, t.Server) }

func nameOr(name string, ap netip.AddrPort) string {
	if name != "" {
		return name
	}
	return ap.String()
}

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
	t := Touched{Client: p.Client, Server: p.Server, ClientName: p.ClientName, ServerName: p.ServerName}
	for _, c := range k.conns {
		if c.Client == t.Client && c.Server == t.Server {
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
