// Package unixcap captures ZMTP over ipc:// : the bytes sent on connected
// Unix domain stream sockets bound at given paths, with the process at each
// end, as segments the rest of zmtpdump reads like TCP ones.
//
// Two mechanisms; Open picks the first that works (Config.Mechanism forces
// one), Capture.Mechanism and Probe name it:
//
//   - MechanismBTF (bpf/ipc_btf.c, Linux 6.3+, x86-64): one program on the
//     BTF tracepoint sock_send_length, which fires after every socket send
//     with the sock and the bytes sent. It keeps an AF_UNIX stream sock whose
//     own or whose peer's bound path is one of the inodes userspace put in a
//     filter map (BTF direct loads only: no bpf_probe_read_kernel, so it
//     works under confidentiality lockdown), finds the send's buffer or
//     iovecs in the system call's registers (write, writev, sendto,
//     sendmsg; any other caller's bytes are a counted gap, Stats.Other) and
//     copies exactly the bytes sent. No system call tracepoint is attached,
//     so unrelated system calls do not pay for it. There are no connect,
//     accept or close events: a connection is learnt at its first send (a
//     handshake is synthesized when neither socket existed at Open) and its
//     ends from the kernel's socket list (/proc/net/unix of its network
//     namespace), checked every second.
//   - MechanismSyscalls (bpf/ipc.c), the fallback for older kernels: the
//     per-syscall tracepoints of the send side (write, writev, sendto,
//     sendmsg); at a syscall's entry the program resolves the fd through the
//     caller's own descriptor table to its socket with CO-RE reads, keeps
//     the buffer of a matching one per thread and copies the bytes sent at
//     the exit; connect, accept and close exits are events. While attached,
//     every task's system calls take the kernel's slow path.
//
// Capturing every end's sends gives both directions exactly: each byte a
// peer receives was sent by the other end, so receives are not traced, and a
// receive with MSG_PEEK cannot duplicate bytes. A descriptor passed to
// another process (SCM_RIGHTS) or inherited keeps its connection and is
// attributed to the process that sends on it.
//
// Imports: bpf, segment, internal/kernel.
package unixcap
