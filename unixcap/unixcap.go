package unixcap

import (
	"errors"
	"time"

	"github.com/zmtpdump/zmtpdump/segment"
)

// Config configures an ipc capture.
type Config struct {
	// Paths are the --ipc paths, each possibly a glob (filepath.Match
	// syntax); they are resolved to socket inodes at Open and again every
	// second, so that a socket bound later is picked up.
	Paths []string
	// RingSize is the ring buffer's size in bytes, a power of two multiple
	// of the page size, as loader's; 0 means a default.
	RingSize int
	// Mechanism forces a mechanism (tests, comparisons); the zero value,
	// MechanismAuto, prefers MechanismBTF and falls back to
	// MechanismSyscalls.
	Mechanism Mechanism
}

// Mechanism names a kernel mechanism of the ipc capture, as `zmtpdump
// check` prints it.
type Mechanism string

const (
	// MechanismAuto picks MechanismBTF where the kernel has it (and it
	// loads), else MechanismSyscalls.
	MechanismAuto Mechanism = ""
	// MechanismBTF is the BTF tracepoint sock_send_length (Linux 6.3+,
	// x86-64; bpf/ipc_btf.c): it runs after socket sends only, costs
	// unrelated system calls nothing, reads kernel memory by BTF loads
	// only (so works under confidentiality lockdown) and learns a
	// connection at its first send, its end from the kernel's socket list.
	MechanismBTF Mechanism = "tp_btf sock_send_length (BTF)"
	// MechanismSyscalls is the per-syscall tracepoints of write, writev,
	// sendto, sendmsg, connect, accept and close (bpf/ipc.c): any kernel
	// with syscall tracepoints, but every task's system calls take the
	// slow path while it is attached.
	MechanismSyscalls Mechanism = "syscall tracepoints"
)

// End names one end of an ipc connection.
type End struct {
	// PID is the thread group id of the process that last sent on the end.
	PID int
	// Comm is that process's command name.
	Comm string
	// CgroupID is its cgroup (v2) id: the container it runs in.
	CgroupID uint64
	// Inode is the end's socket inode.
	Inode uint64
}

// Stats are the capture's counters.
type Stats struct {
	// Records counts the records read from the ring.
	Records uint64
	// Lost counts records the kernel dropped because the ring was full.
	Lost uint64
	// Cut counts the bytes of sends that did not fit in the records one
	// send may make (or could not be read): they are gaps.
	Cut uint64
	// Other counts the bytes sent by calls whose buffer MechanismBTF
	// cannot find (sendmmsg, splice and sendfile, io_uring, 32-bit tasks,
	// the kernel): gaps too.
	Other uint64
	// Missed counts the times the kernel did not run one of the programs
	// because another BPF program was running on that CPU (the kernel's
	// recursion guard): a send missed so is absent without a gap. See
	// Capture.Read.
	Missed uint64
}

// ErrUnavailable is wrapped by Open's and Probe's errors when ipc capture
// cannot work on this kernel.
var ErrUnavailable = errors.New("ipc capture unavailable")

// Capture is a running ipc capture. Its methods are not safe for
// concurrent use, except Stats.
type Capture struct {
	st *state
}

// Open loads and attaches the ipc capture; its error explains a missing
// facility (kernel.Explain style).
func Open(cfg Config) (*Capture, error) { return open(cfg) }

// Read fills seg with the next record as a segment.Segment, with
// synthetic IPCAddr addresses and seg.IPC set; it returns
// os.ErrDeadlineExceeded when nothing came by deadline. seg.Payload stays
// valid until the next Read. Read also does the capture's housekeeping,
// once a second (the globs resolved again, held connections started,
// ended ones closed): call it without long pauses, with deadlines of a
// second or less.
func (c *Capture) Read(seg *segment.Segment, deadline time.Time) error { return c.read(seg, deadline) }

// Sweep does the housekeeping now: the connections whose sockets are
// gone end (their FINs come from the next Reads). For a capture's end,
// once the ring is read, so that what closed shows as closed.
func (c *Capture) Sweep() { c.st.tick(time.Now()) }

// Wake makes a waiting Read return os.ErrDeadlineExceeded once it has
// read what the ring holds, as its deadline would. Safe from any
// goroutine, before and after Close.
func (c *Capture) Wake() { c.st.wake() }

// Close detaches everything and frees the capture's kernel objects.
func (c *Capture) Close() error { return c.close() }

// Stats returns the capture's counters.
func (c *Capture) Stats() Stats { return c.stats() }

// Mechanism names the mechanism in use.
func (c *Capture) Mechanism() Mechanism { return c.st.mech }

// Probe reports whether ipc capture can work here (for `zmtpdump check`):
// the mechanism Open would use, or an error that says what is missing.
func Probe() (Mechanism, error) { return probe() }
