//go:build ignore

// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// zmtpdump's ipc:// capture: the bytes sent on connected Unix stream sockets
// whose (or whose peer's) bound path is one of the inodes userspace put in
// the paths map, copied from the sender's buffer at the exit of its send
// system call. The hooks are the per-syscall tracepoints (syscalls/sys_enter_X
// and sys_exit_X), which need no kprobes and no BTF of the traced function.
//
//   - write, writev, sendto, sendmsg at entry: the fd is resolved through
//     the caller's own descriptor table (task->files->fdt->fd[fd]) to a
//     socket; an AF_UNIX SOCK_STREAM one whose own path (an accepted socket
//     carries its listener's) or whose peer's path (a connecting one has
//     none) is in paths has its buffer (or iovec array) kept per thread;
//     a connected one that is not is remembered by its struct file
//     (verdicts) until paths changes (generation), and its later sends
//     skip the walk from the file to the paths;
//   - at exit, with ret > 0, exactly ret bytes are copied (iovecs walked: a
//     partial send copies what was sent) into records of at most
//     MAX_DATA bytes, at most MAX_RECORDS per send: what does not fit is
//     counted (CNT_CUT) and, since every record carries its stream offset,
//     is a gap userspace sees;
//   - connect and accept/accept4 exits on a matching socket send an event
//     (userspace synthesizes the handshake) and restart its stream offset;
//     close of the last reference to a matching socket sends one too (FIN).
//
// Receives are not traced: each byte a peer receives was sent by the other
// end, whose send was captured, so MSG_PEEK cannot duplicate bytes.
//
// No vmlinux.h: the kernel types read are declared with preserve_access_index
// (CO-RE), as in procs.c. The record format, the maps and the copy of the
// bytes are ipc_common.h's, shared with ipc_btf.c (the mechanism preferred
// where the kernel has the BTF tracepoint sock_send_length, 6.3+); this one
// is the fallback.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MPL/GPL";

#include "ipc_common.h"
#include "ipc_types.h"

// The raw syscall tracepoint contexts (events/syscalls/*/format).
struct sys_enter_ctx {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__u64 args[6];
};

struct sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__s64 ret;
};

// pending is a matching send between its entry and its exit, per thread.
struct send {
	struct conn_end e;
	__u64 buf;    // the buffer (write, sendto) or the iovec array
	__u64 iovcnt; // iovecs; 0 for a plain buffer
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, struct send);
	__uint(max_entries, 16384);
} pending SEC(".maps");

// verdict is a file known not to be captured: a connected Unix stream
// socket (a stream socket's peer never changes once connected) whose paths
// did not match while the paths map was at generation gen. Keyed by the
// struct file's address; the inode tells a file reallocated at the same
// address from the one judged.
struct verdict {
	__u64 ino;
	__u64 gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, struct verdict);
	__uint(max_entries, 16384);
} verdicts SEC(".maps");

// generation counts the changes of paths: userspace bumps it after each,
// which voids every verdict.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} generation SEC(".maps");

// fd_file returns the caller's struct file of fd, or NULL.
static __always_inline struct file *fd_file(__u64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **arr, *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	arr = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]) < 0)
		return NULL;
	return f;
}

static __always_inline __u64 sock_ino(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
}

// wanted reports whether sk's bound path is one of paths, k its key then.
static __always_inline int wanted(struct sock *sk, struct path_key *k)
{
	struct unix_sock *u = (struct unix_sock *)sk;
	struct inode *ino = BPF_CORE_READ(u, path.dentry, d_inode);

	if (!ino)
		return 0;
	k->ino = BPF_CORE_READ(ino, i_ino);
	if (!maybe_path(k->ino))
		return 0;
	k->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	k->_pad = 0;
	return bpf_map_lookup_elem(&paths, k) != 0;
}

// match fills e for the socket behind file f when it is a Unix stream
// socket of a captured path, and returns 1 then; otherwise *stable says
// whether the verdict holds for f's life (a connected Unix stream socket)
// until paths changes.
static __always_inline int match(struct file *f, struct conn_end *e, int *stable)
{
	struct path_key k = {};
	struct socket *sock;
	struct sock *sk, *peer;
	int server = 0;

	if (!f)
		return 0;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) != AF_UNIX)
		return 0;
	peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
	if (wanted(sk, &k)) {
		server = 1;
	} else if (!peer || !wanted(peer, &k)) {
		*stable = peer != 0;
		return 0;
	}
	e->sk = (__u64)sk;
	e->peer = (__u64)peer;
	e->ino = BPF_CORE_READ(f, f_inode, i_ino);
	e->peer_ino = peer ? sock_ino(peer) : 0;
	e->path_ino = k.ino;
	e->path_dev = k.dev;
	e->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	e->server = server;
	return 1;
}

// fill_hdr describes the current task as the sender in h.
static __always_inline void fill_hdr(struct rec_hdr *h, struct conn_end *e, __u8 type)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->tgid = bpf_get_current_pid_tgid() >> 32;
	h->e = *e;
	h->type = type;
	h->len = 0;
	BPF_CORE_READ_STR_INTO(&h->comm, task, group_leader, comm);
}

// event ships an event record (no data) for e.
static __always_inline void event(struct conn_end *e, __u8 type, __u64 offset)
{
	struct scratch *s = get_scratch();

	if (!s)
		return;
	fill_hdr(&s->h, e, type);
	s->h.offset = offset;
	emit(s, 0);
}

// keep saves a matching send's arguments at its entry.
static __always_inline void keep(__u64 fd, __u64 buf, __u64 iovcnt)
{
	struct file *f = fd_file(fd);
	struct verdict *v, nv = {};
	__u64 key = (__u64)f, *gen;
	struct send sd = {};
	__u32 zero = 0;
	int stable = 0;
	__u64 id;

	if (!f)
		return;
	// A connected socket judged before, paths unchanged since: not ours,
	// without the walk from the file to the socket's paths.
	gen = bpf_map_lookup_elem(&generation, &zero);
	nv.gen = gen ? *gen : 0;
	nv.ino = BPF_CORE_READ(f, f_inode, i_ino);
	v = bpf_map_lookup_elem(&verdicts, &key);
	if (v && v->ino == nv.ino && v->gen == nv.gen)
		return;
	if (!match(f, &sd.e, &stable)) {
		if (stable)
			bpf_map_update_elem(&verdicts, &key, &nv, BPF_ANY);
		return;
	}
	sd.buf = buf;
	sd.iovcnt = iovcnt;
	id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &id, &sd, BPF_ANY);
}

// ship copies what a send kept at its entry sent, at its exit.
static __always_inline void ship(__s64 ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct send *sd = bpf_map_lookup_elem(&pending, &id);
	struct scratch *s;
	struct send local;
	__s64 off;

	if (!sd)
		return;
	local = *sd;
	bpf_map_delete_elem(&pending, &id);
	if (ret <= 0)
		return;
	off = stream_offset(local.e.sk, ret);
	s = get_scratch();
	if (off < 0 || !s)
		return;
	fill_hdr(&s->h, &local.e, REC_DATA);
	ship_data(s, off, local.buf, local.iovcnt, ret);
}

SEC("tracepoint/syscalls/sys_enter_write")
int ipc_enter_write(struct sys_enter_ctx *ctx)
{
	keep(ctx->args[0], ctx->args[1], 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int ipc_enter_sendto(struct sys_enter_ctx *ctx)
{
	keep(ctx->args[0], ctx->args[1], 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_writev")
int ipc_enter_writev(struct sys_enter_ctx *ctx)
{
	if (ctx->args[2] == 0)
		return 0;
	keep(ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}


SEC("tracepoint/syscalls/sys_enter_sendmsg")
int ipc_enter_sendmsg(struct sys_enter_ctx *ctx)
{
	struct msghdr_user m;

	if (bpf_probe_read_user(&m, sizeof(m), (void *)ctx->args[1]) < 0 || m.iovlen == 0)
		return 0;
	keep(ctx->args[0], m.iov, m.iovlen);
	return 0;
}

// The exits of write, writev, sendto and sendmsg: one program, attached to
// the four tracepoints (its verification, the walk's, is the slow part of
// loading).
SEC("tracepoint/syscalls/sys_exit_write")
int ipc_exit_send(struct sys_exit_ctx *ctx)
{
	ship(ctx->ret);
	return 0;
}

// start announces a connection end: its stream starts at offset 0.
static __always_inline void start(__u64 fd, __u8 type)
{
	struct conn_end e = {};
	__u64 zero = 0;
	int stable;

	if (!match(fd_file(fd), &e, &stable))
		return;
	bpf_map_update_elem(&offsets, &e.sk, &zero, BPF_ANY);
	event(&e, type, 0);
}

// connect(2) is resolved at exit (the peer exists then); the fd is kept
// at entry.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, __u64);
	__uint(max_entries, 16384);
} connecting SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_connect")
int ipc_enter_connect(struct sys_enter_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), fd = ctx->args[0];

	bpf_map_update_elem(&connecting, &id, &fd, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int ipc_exit_connect(struct sys_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), *fd, f;

	fd = bpf_map_lookup_elem(&connecting, &id);
	if (!fd)
		return 0;
	f = *fd;
	bpf_map_delete_elem(&connecting, &id);
	if (ctx->ret == 0)
		start(f, REC_CONNECT);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int ipc_exit_accept4(struct sys_exit_ctx *ctx)
{
	if (ctx->ret >= 0)
		start(ctx->ret, REC_ACCEPT);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int ipc_exit_accept(struct sys_exit_ctx *ctx)
{
	if (ctx->ret >= 0)
		start(ctx->ret, REC_ACCEPT);
	return 0;
}

// last_ref reports whether f's descriptor being closed is its last
// reference (a descriptor dup'ed, inherited or in flight in SCM_RIGHTS
// keeps the socket open).
static __always_inline int last_ref(struct file *f)
{
	if (bpf_core_field_exists(f->f_ref))
		return BPF_CORE_READ(f, f_ref.refcnt.counter) == 0;
	return BPF_CORE_READ((struct file___old *)f, f_count.counter) == 1;
}

SEC("tracepoint/syscalls/sys_enter_close")
int ipc_enter_close(struct sys_enter_ctx *ctx)
{
	struct file *f = fd_file(ctx->args[0]);
	struct conn_end e = {};
	__u64 *off, end = 0;
	int stable;

	if (!match(f, &e, &stable) || !last_ref(f))
		return 0;
	off = bpf_map_lookup_elem(&offsets, &e.sk);
	if (off)
		end = *off;
	bpf_map_delete_elem(&offsets, &e.sk);
	event(&e, REC_CLOSE, end);
	return 0;
}
