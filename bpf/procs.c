//go:build ignore

// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// zmtpdump's process attribution: for every TCP connection made on this
// host, in any network namespace, which process owns each end. Entries are
// keyed by the connection as each socket sees it (local, remote), which is
// how userspace finds them from a captured packet's addresses.
//
// The main hook is the sock:inet_sock_set_state tracepoint (tp_btf, a
// stable interface), which sees every TCP state change:
//   - CLOSE -> SYN_SENT runs in connect(2), in the caller's context, but
//     before the source port is chosen: the owner is kept under the socket
//     cookie until SYN_SENT -> ESTABLISHED, when the tuple is complete;
//   - CLOSE -> LISTEN runs in listen(2): the listener's owner is kept under
//     its namespace, address and port;
//   - SYN_RECV -> ESTABLISHED completes a passive open (in softirq): the new
//     socket is credited to the owner of the listener it came from.
// Where the kernel allows fentry/fexit, fexit/inet_accept then credits an
// accepted socket to the process that really accepted it (a pre-forked
// worker rather than the parent that listened, say).
//
// No vmlinux.h: the few kernel types read are declared below with
// preserve_access_index, and their field offsets are relocated against the
// running kernel's BTF at load time (CO-RE).

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char __license[] SEC("license") = "Dual MPL/GPL";

#define AF_INET 2
#define AF_INET6 10
#define TASK_COMM_LEN 16

// Kernel types, only the fields used. Field names must match the kernel's;
// nesting through anonymous unions and structs need not (CO-RE finds them).
struct in6_addr {
	__u8 u6_addr8[16];
};

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} __attribute__((preserve_access_index)) possible_net_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
} __attribute__((preserve_access_index));

struct socket {
	struct sock *sk;
} __attribute__((preserve_access_index));

struct task_struct {
	struct task_struct *group_leader;
	char comm[TASK_COMM_LEN];
} __attribute__((preserve_access_index));

// TCP states, from include/net/tcp_states.h.
enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT = 2,
	TCP_SYN_RECV = 3,
	TCP_CLOSE = 7,
	TCP_LISTEN = 10,
};

enum role {
	ROLE_CONNECT = 1, // the socket called connect(2): the client end
	ROLE_LISTEN = 2,  // the server end, credited to its listener's owner
	ROLE_ACCEPT = 3,  // the server end, seen coming out of accept(2)
};

// conn_key is one end of a connection as its socket sees it. IPv4 (and
// IPv4-mapped IPv6) addresses are stored as family 4 in the first 4 bytes,
// as a captured IPv4 packet shows them.
struct conn_key {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport; // host order
	__u16 rport;
	__u8 family; // 4 or 6
	__u8 _pad[3];
};

// owner is the process that connected or accepted the socket.
struct owner {
	__u64 cookie;    // the socket's cookie (bpf_get_socket_cookie)
	__u64 cgroup_id; // the task's cgroup v2 id
	__u64 ts_ns;     // bpf_ktime_get_ns() at connect or accept
	__u32 netns;     // inode number of the socket's network namespace
	__u32 tgid;      // process id
	__u32 tid;       // thread that made the call
	__u8 role;       // enum role
	__u8 _pad[3];
	char comm[TASK_COMM_LEN]; // the process's (thread group leader's) name
};

// conns maps each end of a connection to its owner. LRU: closed
// connections are never removed (their last packets may still be on their
// way to userspace), the oldest entries make room.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct conn_key);
	__type(value, struct owner);
	__uint(max_entries, 65536); // set by the loader
} conns SEC(".maps");

// connecting holds the owners of sockets between connect(2) and
// ESTABLISHED, by socket cookie.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, struct owner);
	__uint(max_entries, 16384);
} connecting SEC(".maps");

// listen_key names a listening socket: its network namespace, family,
// local address (all zeros for a wildcard) and port, raw from the socket
// (no IPv4-mapped folding: the sockets it accepts have its family).
struct listen_key {
	__u8 addr[16];
	__u32 netns;
	__u16 port;
	__u8 family; // AF_INET or AF_INET6
	__u8 _pad;
};

// listeners holds the owners of listening sockets.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct listen_key);
	__type(value, struct owner);
	__uint(max_entries, 16384);
} listeners SEC(".maps");

// is_v4mapped reports ::ffff:a.b.c.d.
static __always_inline int is_v4mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);
}

// sock_addrs reads the local and remote addresses of sk as the wire shows
// them (IPv4-mapped folded to IPv4) into k. It returns 0 for a socket that
// is neither IPv4 nor IPv6.
static __always_inline int sock_addrs(const struct sock *sk, struct conn_key *k)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_INET) {
		__be32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__be32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		k->family = 4;
		__builtin_memcpy(k->laddr, &l, 4);
		__builtin_memcpy(k->raddr, &r, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&k->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&k->raddr, sk, __sk_common.skc_v6_daddr);
		k->family = 6;
		if (is_v4mapped(k->laddr) && is_v4mapped(k->raddr)) {
			// A dual-stack socket talking IPv4: the wire shows IPv4.
			__builtin_memcpy(k->laddr, &k->laddr[12], 4);
			__builtin_memcpy(k->raddr, &k->raddr[12], 4);
			__builtin_memset(&k->laddr[4], 0, 12);
			__builtin_memset(&k->raddr[4], 0, 12);
			k->family = 4;
		}
	} else {
		return 0;
	}
	k->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	k->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return 1;
}

static __always_inline __u32 sock_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

// current_owner describes the current task as the owner of sk.
static __always_inline void current_owner(struct owner *o, struct sock *sk, __u8 role)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();

	o->tgid = id >> 32;
	o->tid = (__u32)id;
	o->cgroup_id = bpf_get_current_cgroup_id();
	o->ts_ns = bpf_ktime_get_ns();
	o->netns = sock_netns(sk);
	o->cookie = bpf_get_socket_cookie(sk);
	o->role = role;
	// The thread's own name may be a worker's (libzmq: "ZMQbg/IO/0"): the
	// command is the thread group leader's.
	BPF_CORE_READ_STR_INTO(&o->comm, task, group_leader, comm);
}

// credit records o as the owner of sk's end of its connection.
static __always_inline void credit(struct sock *sk, struct owner *o)
{
	struct conn_key k = {};

	if (!sock_addrs(sk, &k) || k.lport == 0 || k.rport == 0)
		return;
	bpf_map_update_elem(&conns, &k, o, BPF_ANY);
}

static __always_inline void listen_key_of(struct sock *sk, struct listen_key *lk, int wildcard)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	__builtin_memset(lk, 0, sizeof(*lk));
	lk->netns = sock_netns(sk);
	lk->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (family == AF_INET) {
		__be32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);

		lk->family = AF_INET;
		if (!wildcard)
			__builtin_memcpy(lk->addr, &a, 4);
	} else {
		lk->family = AF_INET6;
		if (!wildcard)
			BPF_CORE_READ_INTO(&lk->addr, sk, __sk_common.skc_v6_rcv_saddr);
	}
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(procs_state, struct sock *sk, int oldstate, int newstate)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	struct listen_key lk = {};
	struct owner o = {}, *p;
	__u64 cookie;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	cookie = bpf_get_socket_cookie(sk);

	if (newstate == TCP_SYN_SENT) {
		current_owner(&o, sk, ROLE_CONNECT);
		bpf_map_update_elem(&connecting, &cookie, &o, BPF_ANY);
		return 0;
	}
	if (newstate == TCP_LISTEN) {
		current_owner(&o, sk, ROLE_LISTEN);
		listen_key_of(sk, &lk, 0);
		bpf_map_update_elem(&listeners, &lk, &o, BPF_ANY);
		return 0;
	}
	if (oldstate == TCP_SYN_SENT) {
		// ESTABLISHED, or CLOSE when the connection failed.
		p = bpf_map_lookup_elem(&connecting, &cookie);
		if (p && newstate == TCP_ESTABLISHED)
			credit(sk, p);
		bpf_map_delete_elem(&connecting, &cookie);
		return 0;
	}
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		listen_key_of(sk, &lk, 0);
		p = bpf_map_lookup_elem(&listeners, &lk);
		if (!p) {
			listen_key_of(sk, &lk, 1);
			p = bpf_map_lookup_elem(&listeners, &lk);
		}
		if (!p)
			return 0;
		o = *p;
		o.cookie = cookie;
		o.ts_ns = bpf_ktime_get_ns();
		credit(sk, &o);
		return 0;
	}
	if (oldstate == TCP_LISTEN) {
		// A listener closing: forget it, unless another socket took its
		// place (SO_REUSEPORT).
		listen_key_of(sk, &lk, 0);
		p = bpf_map_lookup_elem(&listeners, &lk);
		if (p && p->cookie == cookie)
			bpf_map_delete_elem(&listeners, &lk);
	}
	return 0;
}

// inet_accept (IPv4 and IPv6 stream sockets) hands the accepted sock to the
// new socket in the accepting process's context. Only its first two
// arguments are read: their positions have not changed across kernels. The
// loader leaves this program out where the kernel refuses fexit.
SEC("fexit/inet_accept")
int BPF_PROG(procs_accept, struct socket *sock, struct socket *newsock)
{
	struct sock *sk = newsock->sk;
	struct owner o = {};

	if (!sk)
		return 0;
	current_owner(&o, sk, ROLE_ACCEPT);
	credit(sk, &o);
	return 0;
}
