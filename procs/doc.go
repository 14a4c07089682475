// Package procs names the process that owns each end of the TCP
// connections made on this host. A Tracker attaches the programs of
// bpf/procs.c (the sock:inet_sock_set_state tracepoint, and fexit on
// inet_accept where the kernel allows it), which record each socket's
// owner in a map keyed by its endpoints, as it connects or is accepted;
// OwnerFromProc finds in /proc the owner of a socket older than the
// tracker. Cgroup ids are turned into paths, and container ids are found
// in those paths.
//
// It is independent of any capture: a Tracker sees every network
// namespace, whatever a loader.Capture captures on.
//
// Imports: bpf (its generated objects stay there beside the capture
// program's, built by the one `make generate`) and internal/kernel;
// nothing below it (loader, flows, zmtp, output...) may import it.
package procs
