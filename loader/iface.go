package loader

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
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

// resolveInterfaces looks up the named interfaces among links (those of
// the namespace captured in); AnyInterface alone means every interface that
// is up, except those whose link type cannot be parsed.
func resolveInterfaces(names []string, links []linkInfo) ([]iface, error) {
	if len(names) == 0 {
		return nil, errors.New("no interface given")
	}
	if len(names) == 1 && names[0] == AnyInterface {
		var out []iface
		for _, li := range links {
			if li.flags&unix.IFF_UP == 0 {
				continue
			}
			ifc, err := linkInterface(li)
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
		i := slices.IndexFunc(links, func(li linkInfo) bool { return li.name == name })
		if i < 0 {
			return nil, fmt.Errorf("unknown interface %q: no such network interface", name)
		}
		ifc, err := linkInterface(links[i])
		if err != nil {
			return nil, err
		}
		out = append(out, ifc)
	}
	return out, nil
}

// linkInterface makes an iface of a link whose link-layer header the
// capture program can parse.
func linkInterface(li linkInfo) (iface, error) {
	ifc := iface{name: li.name, index: li.index, loopback: li.flags&unix.IFF_LOOPBACK != 0}
	switch li.typ {
	case arphrdEther, arphrdLoopback:
		ifc.l2len = 14
	case arphrdNone:
		ifc.l2len = 0
	default:
		typ := li.encap
		if typ == "" {
			typ = strconv.Itoa(int(li.typ))
		}
		return iface{}, fmt.Errorf("interface %s has link type %s, which zmtpdump cannot parse yet", quoteName(li.name), typ)
	}
	return ifc, nil
}

// loopbackOf returns the index of the loopback interface among links (1
// in every network namespace Linux makes).
func loopbackOf(links []linkInfo) int {
	for _, li := range links {
		if li.flags&unix.IFF_LOOPBACK != 0 {
			return li.index
		}
	}
	return 1
}

// quoteName returns an interface name for a message: as is when it is
// printable ASCII without spaces, quotes or backslashes, else quoted with
// Go's escapes. Names can hold any byte but '/' and NUL, and those of
// another namespace are chosen by whoever runs in it: none may reach a
// terminal raw.
func quoteName(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.Quote(name)
		}
	}
	return name
}
