// Package loader is the part of zmtpdump that talks to the kernel for
// capture. It loads the eBPF capture program from package bpf, with the
// user's filter spliced in (filter.Program.Splice), attaches it to
// interfaces with TCX or as the filter of AF_PACKET sockets, reads the BPF
// ring buffer and turns each record into a segment.Segment. Everything it
// attaches is held by links or sockets owned by this process: closing the
// Capture, or the process dying, detaches it.
//
// With kernel-side framing (Config.FrameKeep) or Config.Marks, the kernel
// walks the ZMTP frames of each connection direction it follows; a Segment
// in which a frame header starts says in its Boundary where the first one
// is, with the direction's frame and message counts before it: after records
// were lost, a decoder resumes at the next mark and knows what the loss
// took. Directions already open when the capture started are followed once
// userspace has found a frame boundary and told the kernel (Capture.Join).
//
// In count mode (Config.CountOnly, TCX only) the kernel also counts what it
// walks and leaves message frames out whole: each Segment of a followed
// direction carries the direction's cumulative counts (Segment.Counts),
// Capture.DirCounts and EachDirCounts read them from the kernel's state,
// Capture.ShipMessages names directions whose messages are left out,
// and Capture.ForgetDir removes a closed direction's state.
//
// A Capture may run in another network namespace (Config.Netns): the
// interfaces are looked up and attached to from a thread that joined it.
//
// The files, by job: config.go (Config and its defaults, applied once),
// loader.go (Open, Close), load.go (a plan of what one program set takes:
// the spec's maps and constants, the splice), attach.go with one file per
// attach kind (tcx.go, socketfilter.go), iface.go, netns.go and follow.go
// (interfaces, namespaces, interfaces that come and go), read.go, ring.go,
// record.go and dedup.go (records to Segments), join.go (writing join
// points into the kernel's flow states), count.go (count mode), framing.go, stats.go (the
// kernel's counters) and errors.go (how refusals are worded).
//
// The process tracker is package procs, and the `check` probes package
// probe.
//
// Imports: bpf, segment, filter and internal/kernel. Of the analysis
// (flows, zmtp, output, learn, pcapfile) none may import it: they are
// tested without a kernel. session and probe do.
package loader
