// Package bpf holds zmtpdump's eBPF programs and the Go bindings that bpf2go
// generated from them: capture.c (the packet capture; built three times:
// with kernel-side ZMTP framing, the walk that leaves large frame bodies
// out, marks frame boundaries and starts at join points userspace writes;
// as CaptureCount, the same with count mode, which counts in the kernel and
// ships no message frame; and, as CaptureBasic, without framing for
// kernels that lack bpf_loop), procs.c (process attribution: which process
// owns each end of a TCP connection), ipc.c (the ipc:// capture: what is
// sent on Unix stream sockets, by the syscall tracepoints) and ipc_btf.c
// (the same by the BTF tracepoint sock_send_length, preferred where the
// kernel has it; both share ipc_common.h).
// The generated files are committed so that building needs no clang; `make
// generate` regenerates them. The programs stay here, beside their shared
// build line, whichever package loads them.
//
// Imports: nothing of ours. loader loads capture.c, procs loads procs.c,
// unixcap loads ipc.c or ipc_btf.c.
package bpf

//go:generate go tool bpf2go -tags linux -target bpfel -type event_hdr -type rec_counts Capture capture.c -- -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
//go:generate go tool bpf2go -tags linux -target bpfel CaptureCount capture.c -- -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror -DZD_COUNT
//go:generate go tool bpf2go -tags linux -target bpfel CaptureBasic capture.c -- -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror -DZD_NO_FRAMING
//go:generate go tool bpf2go -tags linux -target bpfel -type conn_key -type owner Procs procs.c -- -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
//go:generate go tool bpf2go -tags linux -target bpfel -type rec_hdr -type path_key Ipc ipc.c -- -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
//go:generate go tool bpf2go -tags linux -target bpfel IpcBtf ipc_btf.c -- -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
