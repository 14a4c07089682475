package filter

import (
	"fmt"
	"strings"

	"golang.org/x/net/bpf"
)

// LinkType is the link-layer header a filter's packets start with; it fixes
// where the network header is, as libpcap's DLT_ values do.
type LinkType int

const (
	// Ethernet frames (DLT_EN10MB): EtherType at 12, network header at 14;
	// "vlan" moves both 4 bytes further for the rest of the expression.
	Ethernet LinkType = iota + 1
	// RawIP packets (DLT_RAW: tun, WireGuard): the IP header at 0, its
	// version nibble telling IPv4 from IPv6.
	RawIP
	// LinuxSLL frames (DLT_LINUX_SLL, "-i any"): protocol at 14, network header at 16.
	LinuxSLL
	// LinuxSLL2 frames (DLT_LINUX_SLL2, tcpdump -i any since libpcap 1.10):
	// protocol at 0, network header at 20.
	LinuxSLL2
)

// String returns the name tcpdump's -y flag uses for the link type.
func (lt LinkType) String() string {
	switch lt {
	case Ethernet:
		return "EN10MB"
	case RawIP:
		return "RAW"
	case LinuxSLL:
		return "LINUX_SLL"
	case LinuxSLL2:
		return "LINUX_SLL2"
	}
	return fmt.Sprintf("LinkType(%d)", int(lt))
}

// Program is a compiled filter. It is immutable and safe for concurrent use.
type Program struct {
	expr  string
	link  LinkType
	insns []bpf.Instruction
	vm    *bpf.VM
}

// Compile compiles a pcap-filter expression (the language of tcpdump, see
// pcap-filter(7)) for packets of link type lt. The empty expression accepts
// every packet. Expressions outside the supported subset fail with an error
// wrapping ErrUnsupported that names the offending token; malformed ones
// fail with a plain error. The program matches what libpcap 1.10 compiles
// for the same expression and link type.
func Compile(expr string, lt LinkType) (*Program, error) {
	switch lt {
	case Ethernet, RawIP, LinuxSLL, LinuxSLL2:
	default:
		return nil, fmt.Errorf("compile filter: %w: link type %v", ErrUnsupported, lt)
	}
	var n node = constNode(true)
	if strings.TrimSpace(expr) != "" {
		var err error
		n, err = parse(expr, lt)
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", expr, err)
		}
	}
	insns, err := generate(n)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		return nil, fmt.Errorf("filter %q: internal error: %w", expr, err)
	}
	return &Program{expr: expr, link: lt, insns: insns, vm: vm}, nil
}

// CBPF returns the classic BPF program: it returns 262144 (libpcap's snap
// length) to accept a packet and 0 to reject it. The caller may modify the
// returned slice.
func (p *Program) CBPF() []bpf.Instruction {
	return append([]bpf.Instruction(nil), p.insns...)
}

// LinkType returns the link type the program was compiled for.
func (p *Program) LinkType() LinkType { return p.link }

// Match reports whether the program accepts frame, a whole packet starting
// at the link-layer header (as read from a capture file of the program's
// link type). It runs the classic BPF program in userspace.
func (p *Program) Match(frame []byte) bool {
	n, err := p.vm.Run(frame)
	return err == nil && n > 0
}

// String returns the expression and a tcpdump -d style listing of the program.
func (p *Program) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %q on %v, %d instructions\n", p.expr, p.link, len(p.insns))
	for i, ins := range p.insns {
		fmt.Fprintf(&b, "(%03d) %v\n", i, ins)
	}
	return b.String()
}
