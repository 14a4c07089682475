//go:build ignore

// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// zmtpdump's ipc:// capture where the kernel has the BTF tracepoint
// sock_send_length (6.3+): one program, run after every socket send
// (write, writev, send, sendto and sendmsg all end in sock_sendmsg_nosec,
// which fires it with the sock and the bytes sent). Unlike ipc.c it needs
// no system call tracepoint, whose mere attachment puts every task of the
// system on the slow system call path, and no descriptor table walk: the
// sock is the tracepoint's argument. It reads kernel memory only by BTF
// direct loads (no bpf_probe_read_kernel, refused under confidentiality
// lockdown) and user memory with bpf_probe_read_user.
//
//   - an AF_UNIX SOCK_STREAM sock (checked first, two loads) whose own
//     bound path (an accepted socket carries its listener's) or whose
//     peer's (a connecting one has none) is in paths is a match;
//   - the send's bytes are found in the system call's own arguments, from
//     the sender's user registers (bpf_task_pt_regs): write and sendto
//     (buffer, count), writev (iovecs), sendmsg (its msghdr's iovecs). The
//     first ret bytes are copied as ipc.c copies them (ipc_common.h);
//   - any other caller (sendmmsg, splice and sendfile, io_uring, a 32-bit
//     task, a kernel thread) sent ret bytes this program cannot find: a gap
//     record (REC_GAP) says so, counted in CNT_OTHER; never other bytes.
//
// Socks are named by their kernel address, as ipc.c names them (a
// descriptor passed with SCM_RIGHTS or inherited keeps its sock); stream
// offsets are kept by socket cookie (bpf_get_socket_cookie: unique, never
// reused, so a sock allocated where a closed one was starts at 0). There are no connect, accept or
// close events: userspace learns a connection at its first send and its
// end from the kernel's list of Unix sockets (see unixcap).

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MPL/GPL";

#include "ipc_common.h"
#include "ipc_types.h"

// x86-64 system call numbers.
#define NR_WRITE 1
#define NR_WRITEV 20
#define NR_SENDTO 44
#define NR_SENDMSG 46

#define PF_IO_WORKER 0x00000010
#define PF_KTHREAD 0x00200000

// bpf_rdonly_cast (a kfunc, 6.2+) makes a sock pointer loaded from kernel
// memory (untrusted: bpf_skc_to_unix_sock refuses it) a read-only
// struct unix_sock one, for BTF direct loads.
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

static __always_inline struct unix_sock *unix_of(struct sock *sk)
{
	if (!sk)
		return 0;
	return bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct unix_sock));
}

// wanted reports whether u's bound path is one of paths, k its key then.
static __always_inline int wanted(struct unix_sock *u, struct path_key *k)
{
	struct dentry *d;
	struct inode *ino;

	if (!u)
		return 0;
	d = u->path.dentry;
	if (!d)
		return 0;
	ino = d->d_inode;
	if (!ino)
		return 0;
	k->ino = ino->i_ino;
	if (!maybe_path(k->ino))
		return 0;
	k->dev = ino->i_sb->s_dev;
	k->_pad = 0;
	return bpf_map_lookup_elem(&paths, k) != 0;
}

// sock_ino is sk's socket inode; 0 while it has none (not yet accepted).
static __always_inline __u64 sock_ino(struct sock *sk)
{
	struct socket *sock;
	struct file *f;

	if (!sk)
		return 0;
	sock = sk->sk_socket;
	if (!sock)
		return 0;
	f = sock->file;
	if (!f)
		return 0;
	return f->f_inode->i_ino;
}

// match fills e for sk when it is a Unix stream sock of a captured path,
// and returns 1 then.
static __always_inline int match(struct sock *sk, struct conn_end *e)
{
	struct path_key k = {};
	struct unix_sock *u;
	struct sock *peer;
	int server = 0;

	if (sk->__sk_common.skc_family != AF_UNIX || sk->sk_type != SOCK_STREAM)
		return 0;
	u = bpf_skc_to_unix_sock(sk);
	if (!u)
		return 0;
	peer = u->peer;
	if (wanted(u, &k)) {
		server = 1;
	} else if (!peer || !wanted(unix_of(peer), &k)) {
		return 0;
	}
	e->sk = (__u64)sk;
	e->peer = (__u64)peer;
	e->ino = sock_ino(sk);
	e->peer_ino = sock_ino(peer);
	e->path_ino = k.ino;
	e->path_dev = k.dev;
	e->netns = sk->__sk_common.skc_net.net->ns.inum;
	e->server = server;
	return 1;
}

// fill_hdr describes the current task as the sender in h.
static __always_inline void fill_hdr(struct rec_hdr *h, struct task_struct *task, struct conn_end *e)
{
	struct task_struct *leader = task->group_leader;

	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->tgid = bpf_get_current_pid_tgid() >> 32;
	h->e = *e;
	h->type = REC_DATA;
	h->len = 0;
#pragma unroll
	for (int i = 0; i < TASK_COMM_LEN; i++)
		h->comm[i] = leader->comm[i];
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(ipc_send, struct sock *sk, int ret, int flags)
{
	struct task_struct *task;
	struct conn_end e = {};
	struct msghdr_user m;
	struct pt_regs *regs;
	struct scratch *s;
	__u64 nr, buf = 0, iovcnt = 0;
	__s64 off;
	int known = 0;

	if (ret <= 0 || !match(sk, &e))
		return 0;
	// Offsets by cookie: a sock's address is reused, its cookie never.
	off = stream_offset(bpf_get_socket_cookie(sk), ret);
	s = get_scratch();
	if (off < 0 || !s)
		return 0;
	task = bpf_get_current_task_btf();
	fill_hdr(&s->h, task, &e);
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	nr = (task->flags & (PF_KTHREAD | PF_IO_WORKER)) ? -1 : regs->orig_ax;
	switch (nr) {
	case NR_WRITE:
	case NR_SENDTO:
		// The bytes sent cannot be more than the count asked.
		buf = regs->si;
		known = regs->dx >= (__u64)ret;
		break;
	case NR_WRITEV:
		buf = regs->si;
		iovcnt = regs->dx;
		known = iovcnt > 0;
		break;
	case NR_SENDMSG:
		if (bpf_probe_read_user(&m, sizeof(m), (void *)regs->si) == 0 && m.iovlen > 0) {
			buf = m.iov;
			iovcnt = m.iovlen;
			known = 1;
		}
		break;
	}
	if (!known) {
		count(CNT_OTHER, ret);
		gap(s, off + ret);
		return 0;
	}
	ship_data(s, off, buf, iovcnt, ret);
	return 0;
}
