// Package loader is the only part of zmtpdump that talks to the kernel. It
// probes the kernel's features, loads the eBPF capture program from package
// bpf, attaches it to interfaces with TCX, reads the BPF ring buffer and turns
// each record into a capture.Segment. Everything it attaches is held by links
// owned by this process: closing the Capture, or the process dying, detaches
// it.
//
// With kernel-side framing (Config.FrameKeep) or Config.Marks, the kernel
// walks the ZMTP frames of each connection direction it follows; a Segment
// in which a frame header starts says in its Boundary where the first one
// is, with the direction's frame and message counts before it: after records
// were lost, a decoder resumes at the next mark and knows what the loss
// took. Directions already open when the capture started are followed once
// userspace has found a frame boundary and told the kernel (Capture.Join).
//
// A Capture may run in another network namespace (Config.Netns): the
// interfaces are looked up and attached to from a thread that joined it.
// A ProcessTracker, independent of any Capture, names the process that owns
// each end of the TCP connections made on this host.
package loader
