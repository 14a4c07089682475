package filter

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// frame is a test packet: an Ethernet frame, and whether stripping its
// 14-byte header leaves the packet a raw-IP or cooked capture would see.
type frame struct {
	name string
	data []byte
	// plain is true for untagged frames with a whole Ethernet header, the
	// ones RawIP and LinuxSLL versions are derived from.
	plain bool
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func ser(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	return serOpts(t, true, ls...)
}

func serOpts(t testing.TB, sums bool, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: sums}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

func v4(src, dst string, p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 1, Protocol: p, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func v6(src, dst string, nh layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: nh, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

type tcpFlags struct{ syn, ack, fin, rst, psh, urg bool }

func tcp(sport, dport uint16, f tcpFlags, nl gopacket.NetworkLayer) *layers.TCP {
	l := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1000, Window: 512,
		SYN: f.syn, ACK: f.ack, FIN: f.fin, RST: f.rst, PSH: f.psh, URG: f.urg}
	if err := l.SetNetworkLayerForChecksum(nl); err != nil {
		panic(err)
	}
	return l
}

func udp(sport, dport uint16, nl gopacket.NetworkLayer) *layers.UDP {
	l := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := l.SetNetworkLayerForChecksum(nl); err != nil {
		panic(err)
	}
	return l
}

// rawTCP is a TCP header's bytes, for frames that gopacket would not lay
// out as wanted (fragments, extension headers).
func rawTCP(t testing.TB, sport, dport uint16, f tcpFlags) []byte {
	l := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 7, Window: 9,
		SYN: f.syn, ACK: f.ack, FIN: f.fin, RST: f.rst, PSH: f.psh, URG: f.urg}
	return serOpts(t, false, l, gopacket.Payload("zmtp"))
}

func arpFrame(t testing.TB, et layers.EthernetType, op uint16, spa, tpa string) []byte {
	return ser(t, eth(et), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: op,
		SourceHwAddress: macA, SourceProtAddress: net.ParseIP(spa).To4(),
		DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(tpa).To4()})
}

// corpus returns the synthetic frames the differential tests run.
func corpus(t testing.TB) []frame {
	syn := tcpFlags{syn: true}
	synack := tcpFlags{syn: true, ack: true}
	ack := tcpFlags{ack: true}
	pshack := tcpFlags{psh: true, ack: true}
	finack := tcpFlags{fin: true, ack: true}
	var fs []frame
	add := func(name string, plain bool, data []byte) { fs = append(fs, frame{name, data, plain}) }

	ipTCP := func(src, dst string, sp, dp uint16, f tcpFlags, payload string) []byte {
		ip := v4(src, dst, layers.IPProtocolTCP)
		return ser(t, eth(layers.EthernetTypeIPv4), ip, tcp(sp, dp, f, ip), gopacket.Payload(payload))
	}
	add("v4 tcp 7001 syn", true, ipTCP("10.0.0.1", "10.0.0.2", 40000, 7001, syn, ""))
	add("v4 tcp 7001 synack", true, ipTCP("10.0.0.2", "10.0.0.1", 7001, 40000, synack, ""))
	add("v4 tcp 7002 pshack", true, ipTCP("192.168.1.10", "192.168.1.20", 7002, 50000, pshack, "\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f"))
	add("v4 tcp 22 ack", true, ipTCP("10.1.2.3", "172.16.0.1", 22, 51000, ack, "ssh"))
	add("v4 tcp 80 finack", true, ipTCP("172.16.0.1", "10.1.2.3", 51000, 80, finack, ""))
	add("v4 tcp rst", true, ipTCP("10.0.0.2", "10.0.0.1", 80, 40001, tcpFlags{rst: true}, ""))
	add("v4 tcp urg", true, ipTCP("10.0.0.3", "10.0.0.4", 7001, 7002, tcpFlags{urg: true, ack: true}, "u"))
	add("v4 tcp self", true, ipTCP("10.0.0.1", "10.0.0.1", 7001, 7001, ack, ""))
	add("v4 tcp 443 big", true, ipTCP("8.8.8.8", "192.168.1.20", 443, 50001, pshack, string(make([]byte, 1200))))
	add("v4 tcp loopback", true, ipTCP("127.0.0.1", "127.0.0.1", 45678, 7001, pshack, "\x01\x00"))
	{
		ip := v4("192.168.5.5", "10.0.0.2", layers.IPProtocolTCP)
		ip.Options = []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}} // router alert
		add("v4 options tcp 7001", true, ser(t, eth(layers.EthernetTypeIPv4), ip, tcp(33000, 7001, syn, ip)))
		ip2 := v4("10.9.9.9", "10.0.0.2", layers.IPProtocolTCP)
		ip2.Options = []layers.IPv4Option{{OptionType: 0x07, OptionLength: 11, OptionData: []byte{4, 0, 0, 0, 0, 0, 0, 0, 0}}} // record route
		add("v4 options tcp 80", true, ser(t, eth(layers.EthernetTypeIPv4), ip2, tcp(80, 33001, ack, ip2)))
	}
	ipUDP := func(src, dst string, sp, dp uint16) []byte {
		ip := v4(src, dst, layers.IPProtocolUDP)
		return ser(t, eth(layers.EthernetTypeIPv4), ip, udp(sp, dp, ip), gopacket.Payload("dns?"))
	}
	add("v4 udp 53", true, ipUDP("10.0.0.1", "10.0.0.2", 53, 33333))
	add("v4 udp 7001-7002", true, ipUDP("192.168.0.1", "192.168.0.2", 7001, 7002))
	add("v4 udp loopback", true, ipUDP("127.0.0.1", "127.0.0.1", 5000, 7001))
	icmp := func(typ, code uint8) []byte {
		return ser(t, eth(layers.EthernetTypeIPv4), v4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: 1, Seq: 1}, gopacket.Payload("ping"))
	}
	add("v4 icmp echo", true, icmp(8, 0))
	add("v4 icmp reply", true, icmp(0, 0))
	add("v4 icmp unreach", true, icmp(3, 3))
	add("v4 sctp", true, ser(t, eth(layers.EthernetTypeIPv4), v4("10.0.0.1", "10.0.0.2", layers.IPProtocolSCTP),
		&layers.SCTP{SrcPort: 7001, DstPort: 80, VerificationTag: 1}, gopacket.Payload(make([]byte, 16))))
	{
		ip := v4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP)
		ip.Flags = layers.IPv4MoreFragments
		add("v4 first fragment", true, ser(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(rawTCP(t, 40000, 7001, syn))))
		ip = v4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP)
		ip.FragOffset = 185
		add("v4 later fragment tcp", true, ser(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(rawTCP(t, 40000, 7001, syn))))
		ip = v4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
		ip.FragOffset, ip.Flags = 2, layers.IPv4MoreFragments
		add("v4 later fragment udp", true, ser(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload("\x00\x50\x00\x50\x00\x10\x00\x00junkjunk")))
	}
	for _, p := range []layers.IPProtocol{2, 50, 103, 112} {
		add("v4 proto "+p.String(), true, ser(t, eth(layers.EthernetTypeIPv4), v4("10.2.0.1", "224.0.0.1", p), gopacket.Payload(make([]byte, 20))))
	}

	ip6TCP := func(src, dst string, sp, dp uint16, f tcpFlags) []byte {
		ip := v6(src, dst, layers.IPProtocolTCP)
		return ser(t, eth(layers.EthernetTypeIPv6), ip, tcp(sp, dp, f, ip), gopacket.Payload("x"))
	}
	add("v6 tcp 7001 syn", true, ip6TCP("2001:db8::1", "2001:db8::2", 40000, 7001, syn))
	add("v6 tcp loopback 7002", true, ip6TCP("::1", "::1", 7002, 45000, ack))
	add("v6 tcp 80 mapped", true, ip6TCP("::ffff:10.0.0.1", "2001:db8::2", 51000, 80, pshack))
	ip6UDP := func(src, dst string, sp, dp uint16) []byte {
		ip := v6(src, dst, layers.IPProtocolUDP)
		return ser(t, eth(layers.EthernetTypeIPv6), ip, udp(sp, dp, ip), gopacket.Payload("dhcp"))
	}
	add("v6 udp link-local", true, ip6UDP("fe80::1", "ff02::1:2", 546, 547))
	add("v6 udp 7001", true, ip6UDP("2001:db8::5", "2001:db8:1::6", 7001, 53))
	icmp6 := func(src, dst string, typ uint8, body gopacket.SerializableLayer) []byte {
		ip := v6(src, dst, layers.IPProtocolICMPv6)
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
		if err := ic.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		return ser(t, eth(layers.EthernetTypeIPv6), ip, ic, body)
	}
	add("v6 icmp6 echo", true, icmp6("2001:db8::1", "2001:db8::2", 128, &layers.ICMPv6Echo{Identifier: 1, SeqNumber: 1}))
	add("v6 icmp6 neighbor solicit", true, icmp6("fe80::1", "ff02::1:ff00:2", 135, gopacket.Payload(make([]byte, 20))))
	add("v6 sctp", true, ser(t, eth(layers.EthernetTypeIPv6), v6("2001:db8::1", "2001:db8::2", layers.IPProtocolSCTP),
		&layers.SCTP{SrcPort: 36000, DstPort: 80, VerificationTag: 1}, gopacket.Payload(make([]byte, 16))))
	{
		// Hop-by-hop options (next header TCP, one PadN option), then TCP.
		hbh := append([]byte{6, 0, 1, 4, 0, 0, 0, 0}, rawTCP(t, 40000, 7001, syn)...)
		add("v6 hop-by-hop tcp 7001", true, ser(t, eth(layers.EthernetTypeIPv6), v6("2001:db8::1", "2001:db8::2", 0), gopacket.Payload(hbh)))
		frag := append([]byte{6, 0, 0, 0, 0, 0, 0, 1}, rawTCP(t, 40000, 7001, syn)...)
		add("v6 fragment tcp 7001", true, ser(t, eth(layers.EthernetTypeIPv6), v6("2001:db8::1", "2001:db8::2", 44), gopacket.Payload(frag)))
	}

	vlan := func(id uint16, et layers.EthernetType) *layers.Dot1Q {
		return &layers.Dot1Q{VLANIdentifier: id, Priority: 3, Type: et}
	}
	{
		ip := v4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP)
		add("vlan 10 v4 tcp 7001", false, ser(t, eth(layers.EthernetTypeDot1Q), vlan(10, layers.EthernetTypeIPv4), ip, tcp(40000, 7001, syn, ip)))
		ip = v4("192.168.7.1", "10.0.0.2", layers.IPProtocolUDP)
		add("vlan 20 v4 udp 53", false, ser(t, eth(layers.EthernetTypeDot1Q), vlan(20, layers.EthernetTypeIPv4), ip, udp(33000, 53, ip)))
		ip6 := v6("2001:db8::1", "2001:db8::2", layers.IPProtocolTCP)
		add("vlan 10 v6 tcp 80", false, ser(t, eth(layers.EthernetTypeDot1Q), vlan(10, layers.EthernetTypeIPv6), ip6, tcp(80, 40000, ack, ip6)))
		ip = v4("10.0.0.5", "10.0.0.6", layers.IPProtocolTCP)
		add("qinq 100/3 v4 tcp 7002", false, ser(t, eth(layers.EthernetTypeQinQ), vlan(100, layers.EthernetTypeDot1Q), vlan(3, layers.EthernetTypeIPv4), ip, tcp(7002, 40000, pshack, ip)))
		arp := arpFrame(t, layers.EthernetTypeARP, 1, "10.0.0.1", "10.0.0.2")
		tagged := append([]byte(nil), arp[:12]...)
		tagged = append(tagged, 0x81, 0x00, 0x00, 10)
		add("vlan 10 arp", false, append(tagged, arp[12:]...))
	}
	add("arp request", true, arpFrame(t, layers.EthernetTypeARP, 1, "10.0.0.1", "10.0.0.2"))
	add("arp reply", true, arpFrame(t, layers.EthernetTypeARP, 2, "192.168.1.1", "192.168.1.20"))
	add("rarp", true, arpFrame(t, 0x8035, 3, "0.0.0.0", "10.0.0.9"))
	add("lldp", true, ser(t, eth(0x88cc), gopacket.Payload(make([]byte, 46))))
	whole := ipTCP("10.0.0.1", "10.0.0.2", 40000, 7001, pshack, "")
	add("v4 tcp truncated in header", true, whole[:14+20+10])
	add("runt", false, whole[:10])
	return fs
}

// asRaw strips the Ethernet header: the packet a tun device would carry.
func asRaw(f frame) []byte { return f.data[14:] }

// asSLL replaces the Ethernet header with a Linux cooked (v1) header.
func asSLL(f frame) []byte {
	h := []byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0x0a, 0, 0}
	h = append(h, f.data[12:14]...)
	return append(h, f.data[14:]...)
}

// framesFor returns the corpus as packets of link type lt.
func framesFor(fs []frame, lt LinkType) []frame {
	var out []frame
	for _, f := range fs {
		switch {
		case lt == Ethernet:
			out = append(out, f)
		case !f.plain:
		case lt == RawIP:
			out = append(out, frame{f.name, asRaw(f), true})
		case lt == LinuxSLL:
			out = append(out, frame{f.name, asSLL(f), true})
		case lt == LinuxSLL2:
			out = append(out, frame{f.name, asSLL2(f), true})
		}
	}
	return out
}

// asSLL2 replaces the Ethernet header with a Linux cooked v2 header:
// protocol, reserved, interface index 2, ARPHRD_ETHER, outgoing, address
// length 6 and the source address.
func asSLL2(f frame) []byte {
	h := append([]byte(nil), f.data[12:14]...)
	h = append(h, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6)
	h = append(h, f.data[6:12]...)
	h = append(h, 0, 0)
	return append(h, f.data[14:]...)
}
