package pcapfile

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/zmtpdump/zmtpdump/filter"
)

// LinkType is a pcap link-layer header type, a LINKTYPE_ value
// (https://www.tcpdump.org/linktypes.html): how the frames of a pcap file,
// or of one pcapng interface, start.
type LinkType int

// The link types zmtpdump reads; it writes LinkEthernet and LinkRaw.
const (
	// LinkNull is BSD loopback: a 4-byte address family in host order.
	LinkNull LinkType = 0
	// LinkEthernet is Ethernet, with 802.1Q/802.1ad tags (DLT_EN10MB).
	LinkEthernet LinkType = 1
	// LinkRaw is raw IP, the version nibble telling IPv4 from IPv6 (tun).
	LinkRaw LinkType = 101
	// LinkLoop is OpenBSD loopback: the address family in network order.
	LinkLoop LinkType = 108
	// LinkSLL is Linux cooked capture v1 (tcpdump -i any).
	LinkSLL LinkType = 113
	// LinkIPv4 is raw IPv4.
	LinkIPv4 LinkType = 228
	// LinkIPv6 is raw IPv6.
	LinkIPv6 LinkType = 229
	// LinkSLL2 is Linux cooked capture v2 (tcpdump -i any, libpcap 1.10+).
	LinkSLL2 LinkType = 276
)

// linkInfo is what zmtpdump knows of a link type.
type linkInfo struct {
	// filter is the layout filter expressions compile for on frames of
	// this link type, 0 when they cannot be.
	filter filter.LinkType
}

// linkTypes is the one table of the link types zmtpdump knows: the Reader
// reads the frames of these (parseFrame), and filter expressions run on
// those with a filter layout (LinkType.Filter). The live capture's layouts
// are filter's own (Ethernet, or RawIP for interfaces without a link-layer
// header), and the Writer writes LinkEthernet and LinkRaw. Read only.
var linkTypes = map[LinkType]linkInfo{
	LinkNull:     {},
	LinkEthernet: {filter: filter.Ethernet},
	LinkRaw:      {filter: filter.RawIP},
	LinkLoop:     {},
	LinkSLL:      {filter: filter.LinuxSLL},
	LinkIPv4:     {filter: filter.RawIP},
	LinkIPv6:     {filter: filter.RawIP},
	LinkSLL2:     {filter: filter.LinuxSLL2},
}

// Supported reports whether the Reader reads frames of link type lt.
func (lt LinkType) Supported() bool {
	_, ok := linkTypes[lt]
	return ok
}

// Filter returns the layout a filter expression is compiled for to match
// frames of link type lt (filter.Compile), and false when filter
// expressions are not supported on it.
func (lt LinkType) Filter() (filter.LinkType, bool) {
	f := linkTypes[lt].filter
	return f, f != 0
}

// linkTypeOf reads the per-packet link type pcapgo puts in AncillaryData.
func linkTypeOf(v any) (LinkType, bool) {
	lt, ok := v.(layers.LinkType)
	return LinkType(lt), ok
}
