package loader

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// iface is an interface to attach to.
type iface struct {
	name     string
	index    int
	l2len    int
	loopback bool
}

// Link types from include/uapi/linux/if_arp.h.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
	arphrdNone     = 65534
)

// resolveInterfaces looks up the named interfaces; AnyInterface alone means
// every interface that is up, except those whose link type cannot be
// parsed.
func resolveInterfaces(names []string) ([]iface, error) {
	if len(names) == 0 {
		return nil, errors.New("no interface given")
	}
	if len(names) == 1 && names[0] == AnyInterface {
		all, err := net.Interfaces()
		if err != nil {
			return nil, fmt.Errorf("list interfaces: %w", err)
		}
		var out []iface
		for _, ni := range all {
			if ni.Flags&net.FlagUp == 0 {
				continue
			}
			ifc, err := lookupInterface(ni.Name)
			if err != nil {
				continue // a link type we cannot parse
			}
			out = append(out, ifc)
		}
		if len(out) == 0 {
			return nil, errors.New("no interface is up")
		}
		return out, nil
	}
	seen := make(map[string]bool)
	var out []iface
	for _, name := range names {
		if name == AnyInterface {
			return nil, errors.New(`"any" cannot be combined with other interfaces`)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		ifc, err := lookupInterface(name)
		if err != nil {
			return nil, err
		}
		out = append(out, ifc)
	}
	return out, nil
}

func lookupInterface(name string) (iface, error) {
	ni, err := net.InterfaceByName(name)
	if err != nil {
		return iface{}, fmt.Errorf("unknown interface %q: %w", name, err)
	}
	ifc := iface{name: name, index: ni.Index, loopback: ni.Flags&net.FlagLoopback != 0}
	raw, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return iface{}, fmt.Errorf("read link type of %s: %w", name, err)
	}
	typ, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return iface{}, fmt.Errorf("link type of %s: %w", name, err)
	}
	switch typ {
	case arphrdEther, arphrdLoopback:
		ifc.l2len = 14
	case arphrdNone:
		ifc.l2len = 0
	default:
		return iface{}, fmt.Errorf("interface %s has link type %d, which zmtpdump cannot parse yet", name, typ)
	}
	return ifc, nil
}

// loopbackIndex returns the index of the loopback interface (1 in every
// network namespace Linux makes), for the socket backend.
func loopbackIndex() int {
	all, err := net.Interfaces()
	if err == nil {
		for _, ni := range all {
			if ni.Flags&net.FlagLoopback != 0 {
				return ni.Index
			}
		}
	}
	return 1
}
