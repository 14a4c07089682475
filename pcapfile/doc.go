// Package pcapfile reads and writes capture files.
//
// A Reader reads pcap and pcapng files (as written by tcpdump, tshark and
// Wireshark) and yields the TCP segments they hold as segment.Segment
// values, the same type the kernel capture yields. Frames may be Ethernet
// (with 802.1Q/802.1ad tags), Linux cooked (SLL and SLL2), raw IP, or BSD
// loopback (NULL, LOOP); pcapng files may mix them across interfaces.
// Frames that hold no TCP segment, or only a later fragment of one, are
// skipped and counted in Reader.Skipped. A pcap record longer than 262144
// bytes (libpcap's limit) is taken as damage.
//
// A Writer writes captured segments as a pcapng file (-w), each frame
// rebuilt around the captured payload: an Ethernet header with zero
// addresses, or none on raw-IP interfaces, then IP and TCP headers with
// valid checksums.
//
// LinkType is the pcap link-layer header type, and linktype.go the one
// table of those zmtpdump knows: which the Reader reads, which filter
// layout (filter.LinkType) an expression is compiled for on each, and the
// two the Writer writes.
//
// Imports: of our packages, segment and filter (both leaves). zmtp, flows,
// output and learn must not import pcapfile (their tests may, to read the
// captures in testdata); session does.
package pcapfile
