// Package pcapfile reads pcap and pcapng capture files (as written by
// tcpdump, tshark and Wireshark) and yields the TCP segments they hold as
// capture.Segment values, the same type the kernel capture yields.
//
// Frames may be Ethernet (with 802.1Q/802.1ad tags), Linux cooked (SLL and
// SLL2), raw IP, or BSD loopback (NULL, LOOP); pcapng files may mix them
// across interfaces. Frames that hold no TCP segment, or only a later
// fragment of one, are skipped and counted in Reader.Skipped. A pcap record
// longer than 262144 bytes (libpcap's limit) is taken as damage.
package pcapfile
