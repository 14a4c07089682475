// Package segment defines Segment, the one currency between packet capture
// (the eBPF loader, pcap files) and analysis (TCP reassembly, ZMTP decoding).
//
// Everything after the capture is tested without a kernel: the pcap reader
// yields the same Segment the kernel loader yields.
//
// segment is also the leaf vocabulary the stages share: Dir names the two
// directions of a connection, and CloseReason, why a connection ended, is
// decided by flows, carried by zmtp's Connection and printed by output and
// learn.
//
// Imports: nothing of ours; it is the leaf every other package may import.
package segment
