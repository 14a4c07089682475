// Package filter compiles the capture filters zmtpdump accepts.
//
// Compile turns a pcap-filter expression (tcpdump's language) into a
// classic BPF program with libpcap's semantics for a link type, with no
// cgo and no libpcap. The program runs in userspace (Program.Match, for
// capture files) and, translated to eBPF (Program.EBPF, Program.Splice),
// inside the kernel capture program before any packet is copied: Splice
// puts it in place of the program's placeholder function, named Symbol.
//
// # Supported language
//
// Primitives, with optional qualifiers "ip", "ip6", "arp", "rarp" (host and
// net), "tcp", "udp", "sctp" (port, portrange) and src/dst, "src or dst",
// "src and dst":
//
//	host A            IPv4 (also ARP/RARP sender and target) or IPv6 address
//	net A/len         also "net A mask M", partial "net 10.1", IPv6 prefixes
//	port N            TCP, UDP or SCTP, IPv4 first fragments and IPv6
//	portrange N-M
//	proto N           "ip proto N", "ip6 proto N", "proto \tcp"
//	ip ip6 arp rarp tcp udp sctp icmp icmp6 igmp esp ah pim vrrp
//	vlan [ID]         802.1Q/802.1ad tag; later primitives look past it (Ethernet only)
//	greater N, less N
//	arith relop arith relop is = == != < <= > >=; arith uses + - * / % & | ^ << >>,
//	                  unary -, numbers, len, proto[expr] and proto[expr:size] for
//	                  ether link ip ip6 arp rarp tcp udp sctp icmp icmp6 igmp pim vrrp,
//	                  and the named constants (tcpflags, tcp-syn, icmptype, icmp6-echo...)
//
// joined with and/&&, or/|| (equal precedence, left to right, as in
// libpcap), not/! and parentheses; a bare value continues the previous
// primitive's qualifiers ("port 7001 or 7002", "host A and not B").
//
// Names that need a lookup (host names, service names, most protocol names),
// link-layer addresses ("ether host"), and the rest of pcap-filter
// ("gateway", "broadcast", "multicast", "protochain", "mpls", "pppoes",
// "geneve", "llc", "inbound", 802.11...) fail with an error wrapping
// ErrUnsupported that names the token: never a silently different filter.
// What libpcap itself refuses ("ip port 80", "net 10.0.0.1/8", "vlan" on
// RawIP...) fails with a plain error.
//
// # Semantics
//
// The programs accept exactly the packets libpcap 1.10's accept (the tests
// compare both on a frame corpus): IPv4 header length from IHL, non-first
// IPv4 fragments never match port or tcp[...] tests, IPv6 ports are read
// after the fixed 40-byte header only, "tcp" also matches IPv6 behind one
// fragment header, "vlan" reads tags with plain loads (no kernel VLAN
// metadata), and a load past the end of the packet rejects it whatever
// surrounds the test (even "not"). Programs are not optimised; they stay
// under MaxInstructions and route conditional jumps further than 255
// instructions through "ja".
//
// ParseExpression and Ports are the older "port N or port N" subset.
//
// Imports: nothing of ours (cilium/ebpf/asm and x/net/bpf only): it is a
// leaf, imported by loader and cmd/zmtpdump.
package filter
