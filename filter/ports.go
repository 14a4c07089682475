package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Ports is a set of TCP ports; a segment matches when its source or
// destination port is in the set. The empty set matches every segment.
type Ports struct {
	list []uint16
	set  map[uint16]bool
}

// NewPorts returns the set of the given ports.
func NewPorts(ports ...uint16) Ports {
	var p Ports
	p.Add(ports...)
	return p
}

// Add puts ports in the set.
func (p *Ports) Add(ports ...uint16) {
	if p.set == nil {
		p.set = make(map[uint16]bool)
	}
	for _, port := range ports {
		if !p.set[port] {
			p.set[port] = true
			p.list = append(p.list, port)
		}
	}
}

// List returns the ports in the order they were added.
func (p Ports) List() []uint16 { return p.list }

// Empty reports whether the set is empty (and so matches everything).
func (p Ports) Empty() bool { return len(p.list) == 0 }

// Match reports whether a segment between the two ports matches.
func (p Ports) Match(sport, dport uint16) bool {
	return len(p.list) == 0 || p.set[sport] || p.set[dport]
}

// ErrUnsupported marks filter expressions zmtpdump cannot run yet.
var ErrUnsupported = errors.New("unsupported filter expression")

// ParseExpression parses a pcap-filter expression of the form the original
// zmtpdump documented: "port N", optionally "tcp port N", joined by "or",
// e.g. "port 7001 or port 7002". Anything else is refused with an error
// wrapping ErrUnsupported, never silently widened or narrowed.
func ParseExpression(expr string) (Ports, error) {
	var p Ports
	words := strings.Fields(expr)
	if len(words) == 0 {
		return p, nil
	}
	i := 0
	for {
		if i < len(words) && words[i] == "tcp" {
			i++
		}
		if i+1 >= len(words) || words[i] != "port" {
			return Ports{}, unsupported(expr, words, i)
		}
		port, err := ParsePort(words[i+1])
		if err != nil {
			return Ports{}, fmt.Errorf("filter %q: %w", expr, err)
		}
		p.Add(port)
		i += 2
		if i == len(words) {
			return p, nil
		}
		if words[i] != "or" {
			return Ports{}, unsupported(expr, words, i)
		}
		i++
	}
}

func unsupported(expr string, words []string, i int) error {
	at := "end of expression"
	if i < len(words) {
		at = strconv.Quote(words[i])
	}
	return fmt.Errorf("filter %q: %w at %s: only \"port N\" terms joined by \"or\" are supported for now (use --port)", expr, ErrUnsupported, at)
}

// ParsePort parses a TCP port number, 1 to 65535.
func ParsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad port %q: want a number from 1 to 65535", s)
	}
	return uint16(n), nil
}

// ParsePortSpec parses a --port value: a port ("7001") or an inclusive
// range ("7000-7010").
func ParsePortSpec(s string) ([]uint16, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	first, err := ParsePort(lo)
	if err != nil {
		return nil, err
	}
	if !isRange {
		return []uint16{first}, nil
	}
	last, err := ParsePort(hi)
	if err != nil {
		return nil, err
	}
	if last < first {
		return nil, fmt.Errorf("bad port range %q: %d is below %d", s, last, first)
	}
	ports := make([]uint16, 0, int(last)-int(first)+1)
	for p := int(first); p <= int(last); p++ {
		ports = append(ports, uint16(p))
	}
	return ports, nil
}
