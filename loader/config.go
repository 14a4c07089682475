package loader

import (
	"fmt"
	"os"

	"github.com/zmtpdump/zmtpdump/filter"
)

// Backend is how the capture program is attached.
type Backend string

// Backends.
const (
	// Auto picks TCX where the kernel has it, else Socket.
	Auto Backend = "auto"
	// TCX attaches TC programs with TCX links (Linux 6.6+).
	TCX Backend = "tcx"
	// Socket runs the program as the filter of AF_PACKET sockets (any
	// kernel with BPF ring buffers, 5.8+).
	Socket Backend = "socket"
)

// AnyInterface, as the only interface, captures on every interface that is
// up, and follows them as they come and go (see CheckInterfaces).
const AnyInterface = "any"

// Config says what to capture and where.
type Config struct {
	// Interfaces to attach to, by name; AnyInterface for all.
	Interfaces []string
	// Ports selects TCP packets whose source or destination port is in
	// the list; an empty list selects every TCP packet.
	Ports []uint16
	// RingSize is the BPF ring buffer size in bytes: a power of two and a
	// multiple of the page size. 0 means DefaultRingSize.
	RingSize int
	// Filter, if set, returns the filter for interfaces of link type lt
	// (filter.Ethernet, or filter.RawIP for those without a link-layer
	// header): it is spliced into the kernel's program in place of its
	// placeholder function (filter.Symbol, see filter.Program.Splice).
	// Packets must pass both Ports and Filter.
	Filter func(lt filter.LinkType) (*filter.Program, error)
	// Backend forces an attach method; "" means Auto.
	Backend Backend
	// Netns, if set, is the path of a network namespace to capture in
	// (/var/run/netns/NAME, /proc/PID/ns/net): Interfaces are that
	// namespace's. Entering it needs CAP_SYS_ADMIN.
	Netns string
	// FrameKeep, if not 0, turns on kernel-side framing: the kernel follows
	// the ZMTP frames of every connection whose start it sees and ships of
	// each message frame its header and first FrameKeep body bytes (whole
	// commands); a Segment then says how many payload bytes it leaves out
	// (PayloadLen beyond Payload) and Capture.Framing reports it on. It
	// needs bpf_loop (Linux 5.17); older kernels ship whole payloads.
	// Kernel-side framing marks frame boundaries (see Marks).
	FrameKeep int
	// Marks walks the ZMTP frames of every connection direction whose
	// start the kernel sees (or that Capture.Join joined) even when
	// FrameKeep is 0, and ships every payload byte, one record a packet as
	// without framing: each Segment of a walked direction that holds the
	// start of a frame header says where in its Boundary, with the
	// direction's frame and message counts before it. FrameKeep > 0 marks
	// too. Capture.Marks reports whether the kernel walks; it needs
	// bpf_loop (Linux 5.17), like FrameKeep.
	Marks bool
	// CountOnly turns on count mode, with FrameKeep: of the directions
	// the kernel follows, message frames are left out whole, headers
	// included, and only counted (Segment.Counts, Capture.DirCounts):
	// greetings, commands (whole), SYN, FIN, RST, zero windows and probes
	// are shipped, pure ACKs without news are not. A direction ships its
	// message frames as FrameKeep says until Capture.ShipMessages(p,
	// false) tells the kernel to leave them out.
	// Capture.CountOnly reports it on: it needs bpf_loop, and is refused
	// on the socket backend (see Capture.CountOnly).
	CountOnly bool
	// FlowStates is how many connection directions kernel-side framing
	// (or Marks) follows at once (least recently used forgotten first); 0
	// means DefaultFlowStates. The kernel preallocates them: about 216
	// bytes each (measured on 6.18), 3.5 MB for the default. In count
	// mode the elide map takes up to as many entries, allocated as used.
	FlowStates int
}

// DefaultFlowStates is the default Config.FlowStates.
const DefaultFlowStates = 16384

// DefaultRingSize is the ring buffer size used when Config.RingSize is 0:
// on lo a record can hold a 64 KiB GSO packet, and at full speed the reader
// must stay that far behind without loss (see README "Overhead").
const DefaultRingSize = 64 << 20

// withDefaults returns cfg with the defaults in place of zero values:
// RingSize, Backend and FlowStates. Open applies them once; everything
// after it reads the Config it returns.
func (cfg Config) withDefaults() Config {
	if cfg.RingSize == 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.Backend == "" {
		cfg.Backend = Auto
	}
	if cfg.FlowStates == 0 {
		cfg.FlowStates = DefaultFlowStates
	}
	return cfg
}

// validate refuses what no capture can use, in a Config with defaults.
func (cfg Config) validate() error {
	if ring := cfg.RingSize; ring < os.Getpagesize() || ring&(ring-1) != 0 {
		return fmt.Errorf("ring buffer size %d: must be a power of two of at least %d bytes", ring, os.Getpagesize())
	}
	switch cfg.Backend {
	case Auto, TCX, Socket:
	default:
		return fmt.Errorf("unknown backend %q: want tcx, socket or auto", cfg.Backend)
	}
	return nil
}
