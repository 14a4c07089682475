package session

import (
	"net/netip"
	"time"

	"github.com/zmtpdump/zmtpdump/output"
	"github.com/zmtpdump/zmtpdump/procs"
	"github.com/zmtpdump/zmtpdump/segment"
)

// owners finds, for live captures, the local processes owning each end of
// the connections, and applies --pid and --comm.
type owners struct {
	tr   endsTracker
	pid  int
	comm string
	// gate applies pid and comm to the packets of -w and -v.
	gate ownerGate
	// pods finds the pod labels of --metrics-pod-labels (nil: off).
	pods *podLabels
	// socketOwner finds the process holding a Unix socket's inode in
	// /proc (nil: procs.SocketOwner; a test's fake /proc otherwise).
	socketOwner func(pid int, comm string, inode uint64) (*procs.Process, error)
}

// endsTracker finds the processes owning the two ends of a connection
// (procs.Tracker).
type endsTracker interface {
	Ends(a, b netip.AddrPort) (aOwner, bOwner *procs.Process)
}

// filtering reports whether --pid or --comm select connections.
func (o *owners) filtering() bool { return o != nil && (o.pid != 0 || o.comm != "") }

func (o *owners) match(pr *procs.Process) bool {
	return pr != nil && (o.pid == 0 || pr.PID == o.pid) && (o.comm == "" || pr.Comm == o.comm)
}

// fromProc asks /proc for the owner of the end of the connection end<->peer
// that --pid or --comm may select: for TCP, whether process --pid holds
// it; for an ipc end, the process among --pid, or those named --comm, that
// holds its socket (socket:[INODE], the inode in the end's address). It
// returns nil when none does, or it cannot be told.
func (o *owners) fromProc(end, peer netip.AddrPort) *procs.Process {
	if inode, _, ok := segment.IsIPCAddr(end); ok {
		find := o.socketOwner
		if find == nil {
			find = procs.SocketOwner
		}
		pr, _ := find(o.pid, o.comm, inode)
		return pr
	}
	if o.pid <= 0 {
		return nil
	}
	pr, _ := procs.OwnerFromProc(o.pid, end, peer)
	return pr
}

// resolveWindow is how long after a connection's start its owners are
// still looked up: both local ends are recorded by the kernel before the
// first payload byte, so a miss past this means the end is not local (or
// its socket predates the capture).
const resolveWindow = time.Second

// ownerState is what a session knows of its owners.
type ownerState struct {
	ends      [2]*procs.Process // by segment.Dir's sender: client, server
	resolved  bool              // looked up for good
	procTried bool              // /proc consulted for --pid, --comm (fromProc)
	printed   bool              // told the printer
	decided   bool              // --pid/--comm applied
	skip      bool              // neither end matches: print nothing
	view      [2]output.Owners  // per direction: the sender's and receiver's
}

// resolve looks the owners up until both are known or the window passed,
// and decides --pid/--comm at the first event. It reports whether the
// session's events are to be printed.
func (s *session) resolveOwners(now time.Time) bool {
	if s.procs == nil {
		return true
	}
	st := &s.own
	if !st.resolved {
		c, sv := s.procs.tr.Ends(s.conn.Client, s.conn.Server)
		if c != nil {
			st.ends[0] = c
		}
		if sv != nil {
			st.ends[1] = sv
		}
		if s.procs.filtering() && !st.procTried && (st.ends[0] == nil || st.ends[1] == nil) {
			// A socket older than the capture (a server's listener),
			// an ipc end that sent nothing yet, is unknown to the
			// tracker: ask /proc, once.
			st.procTried = true
			cl, srv := s.conn.Client, s.conn.Server
			if st.ends[0] == nil {
				st.ends[0] = s.procs.fromProc(cl, srv)
			}
			if st.ends[1] == nil {
				st.ends[1] = s.procs.fromProc(srv, cl)
			}
		}
		st.resolved = st.ends[0] != nil && st.ends[1] != nil || now.Sub(s.conn.Start) > resolveWindow
		if s.procs.pods != nil {
			srv := st.ends[1]
			if st.ends[0] != nil && st.ends[0].Server { // picked up mid-stream the other way round
				srv = st.ends[0]
			}
			if srv != nil {
				s.procs.pods.of(srv.PID) // read while the server lives (session/pods.go)
			}
		}
		for d := range st.view {
			st.view[d] = output.Owners{Src: toOutput(st.ends[d]), Dst: toOutput(st.ends[1-d])}
		}
		if r := s.dirs[0].rare; r != nil && r.fed != nil {
			r.ipc = s.completeIPC(r.fed) // the ends found named so
		}
	}
	if !st.decided && s.procs.filtering() {
		st.decided = true
		keep := s.procs.match(st.ends[0]) || s.procs.match(st.ends[1])
		st.skip = !s.procs.settle(s.conn.Client, s.conn.Server, keep)
	}
	return !st.skip
}

// ownersFor returns the owners as seen from direction d's sender, nil when
// none is known.
func (s *session) ownersFor(d segment.Dir) *output.Owners {
	if s.procs == nil || s.own.ends[0] == nil && s.own.ends[1] == nil {
		return nil
	}
	return &s.own.view[d]
}

func toOutput(pr *procs.Process) *output.Process {
	if pr == nil {
		return nil
	}
	return &output.Process{PID: pr.PID, Comm: pr.Comm, ContainerID: pr.ContainerID}
}
