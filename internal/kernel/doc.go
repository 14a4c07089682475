// Package kernel holds what the packages that talk to the kernel (loader,
// procs and probe) share: this process's effective capabilities and which
// of those a task needs are missing, the permission error they wrap and
// the shortening of the usual kernel refusals, and the wall-clock time at
// which the clock of bpf_ktime_get_ns read zero.
//
// Imports: nothing of ours (it is below loader, procs and probe).
package kernel
