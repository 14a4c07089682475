// Package capture defines Segment, the one currency between packet capture
// (the eBPF loader, pcap files) and analysis (TCP reassembly, ZMTP decoding).
//
// Everything after capture is tested without a kernel: the pcap reader
// yields the same Segment the kernel loader yields.
//
// capture is also the leaf vocabulary the stages share: CloseReason, why a
// connection ended, is decided by flows, carried by zmtp's Connection and
// printed by output and learn.
//
// Imports: none of our packages. Every other package may import capture.
package capture
