// Package capture defines Segment, the one currency between packet capture
// (the eBPF loader, pcap files) and analysis (TCP reassembly, ZMTP decoding).
//
// Everything after capture is tested without a kernel: the pcap reader
// yields the same Segment the kernel loader yields.
package capture
