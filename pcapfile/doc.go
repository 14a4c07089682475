// Package pcapfile reads pcap and pcapng capture files (as written by
// tcpdump, tshark and Wireshark) and yields the TCP segments they hold as
// capture.Segment values, the same type the kernel capture yields.
package pcapfile
