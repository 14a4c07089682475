// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// What both ipc capture programs share (bpf/ipc.c, the syscall tracepoints,
// and bpf/ipc_btf.c, the BTF tracepoint sock_send_length): the record
// format, the maps userspace reads and fills, and the copy of a send's
// bytes from the sender's buffer or iovecs (bpf_probe_read_user only: no
// kernel memory is read here).

#ifndef ZD_IPC_COMMON_H
#define ZD_IPC_COMMON_H

#include "wakeup.h"

#define AF_UNIX 1
#define SOCK_STREAM 1
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define TASK_COMM_LEN 16

// MAX_DATA is the most bytes one record carries; a power of two.
#define MAX_DATA 65536
// MAX_RECORDS bounds the records one send makes (one per iovec piece of at
// most MAX_DATA bytes); MAX_IOV is the kernel's UIO_MAXIOV.
#define MAX_RECORDS 64
#define MAX_IOV 1024

enum rec_type {
	REC_DATA = 1,
	REC_CONNECT = 2, // the sender connected: it is the client end
	REC_ACCEPT = 3,  // the sender accepted: it is the server end
	REC_CLOSE = 4,   // the sender closed its last descriptor of the socket
	REC_GAP = 5,     // bytes sent but not shipped end at offset: a gap
};

enum counter {
	CNT_RECORDS = 0,  // records written to the ring
	CNT_LOST = 1,     // records lost: the ring was full
	CNT_CUT = 2,      // bytes sent but not shipped: beyond MAX_RECORDS, or unreadable
	CNT_OTHER = 3,    // bytes sent by calls whose buffer is not known (sendmmsg,
	                  // splice, io_uring, the kernel): gaps (tp_btf only)
	CNT_MAX = 4,
};

// path_key names a bound socket's path by its inode: the kernel's dev_t
// (MAJOR << 20 | MINOR) of the filesystem and the inode number.
struct path_key {
	__u64 ino;
	__u32 dev;
	__u32 _pad;
};

// paths holds the inodes of the paths to capture (userspace fills it).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct path_key);
	__type(value, __u32);
	__uint(max_entries, 4096);
} paths SEC(".maps");

// INO_BITS is the size of ino_filter: one bit per inode number modulo it.
#define INO_BITS 65536

// ino_filter has the bit of each inode number in paths set (userspace
// sets them with the paths): a clear bit rejects a socket at the cost of
// one load (the verifier inlines the lookup of an array), before the hash
// lookup of paths, which only a set bit costs.
struct ino_filter {
	__u64 w[INO_BITS / 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ino_filter);
	__uint(max_entries, 1);
} inofilter SEC(".maps");

// maybe_path reports whether inode number ino may be one of paths'.
static __always_inline int maybe_path(__u64 ino)
{
	__u32 zero = 0;
	struct ino_filter *f = bpf_map_lookup_elem(&inofilter, &zero);

	if (!f)
		return 0;
	return (f->w[(ino / 64) & (INO_BITS / 64 - 1)] >> (ino & 63)) & 1;
}

// conn_end is a matching socket as a record names it.
struct conn_end {
	__u64 sk;        // the sending sock (kernel address: an identifier)
	__u64 peer;      // its peer's sock
	__u64 ino;       // the sending socket's inode
	__u64 peer_ino;  // the peer socket's inode (0 while not yet accepted)
	__u64 path_ino;  // the path's inode
	__u32 path_dev;  // the path's filesystem (kernel dev_t)
	__u32 netns;     // the socket's network namespace (inode number)
	__u8 server;     // the sending socket is the accepted (server) end
	__u8 _pad[7];
};

// rec_hdr starts every ring record; len data bytes follow.
struct rec_hdr {
	__u64 ts_ns;     // bpf_ktime_get_ns() (CLOCK_MONOTONIC)
	__u64 offset;    // stream offset of the first data byte (DATA), or the
	                 // direction's end (CLOSE)
	__u64 cgroup_id; // the sender's cgroup v2 id
	__u64 lost;      // CNT_LOST when this record was written
	struct conn_end e;
	__u32 len;       // data bytes following
	__u32 tgid;      // the sender's process
	__u8 type;       // enum rec_type
	__u8 _pad[7];
	char comm[TASK_COMM_LEN]; // its thread group leader's name
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); // set by the loader
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, CNT_MAX);
} counters SEC(".maps");

// offsets holds each sending socket's stream offset: the bytes it sent
// since the capture (or its connect/accept) began, by sock address.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u64);
	__type(value, __u64);
	__uint(max_entries, 65536);
} offsets SEC(".maps");

static __always_inline void count(__u32 i, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &i);

	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline __u64 counter(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &i);

	return v ? *v : 0;
}

// copy_state is the walk of one send's bytes. It lives in the scratch map
// value, not on the stack: the verifier tracks nothing of what a map value
// holds, so each step of the walk (copy_step, bpf_loop's callback) looks
// the same to it and its verification converges at once; on the stack,
// every count and offset would be followed through each step's ranges.
struct copy_state {
	__u64 iov;       // user iovec array, 0 for a plain buffer
	__u64 iovcnt;
	__u64 idx;       // next iovec
	__u64 base, len; // the rest of the current iovec
	__u64 left;      // bytes sent not yet shipped
	__u64 offset;    // stream offset of the next byte
	__u64 missed;    // bytes that could not be read
};

// scratch is where a record is put together: one per CPU (the program is
// not re-entered on a CPU), too large for the stack and for a per-CPU map.
struct scratch {
	struct rec_hdr h;
	__u8 data[MAX_DATA];
	struct copy_state c;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct scratch);
	__uint(max_entries, 1); // set by the loader to the number of CPUs
} scratch SEC(".maps");

static __always_inline struct scratch *get_scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch, &cpu);
}

// Wake the reader only once ipc_wakeup_bytes wait in the ring (see
// ring_wakeup_flags): a steady trickle of sends wakes it some hundred
// times a second, not once a send. Set by userspace before load.
volatile const __u64 ipc_wakeup_bytes = 0;
// When the last wakeup for an empty ring was asked (CLOCK_MONOTONIC).
__u64 ipc_last_wakeup_ns = 0;

// emit writes s's header and len data bytes to the ring.
static __always_inline void emit(struct scratch *s, __u32 len)
{
	__u64 flags;

	if (len > MAX_DATA)
		return;
	len &= (MAX_DATA << 1) - 1;
	s->h.len = len;
	s->h.lost = counter(CNT_LOST);
	flags = ring_wakeup_flags(&events, &ipc_last_wakeup_ns, ipc_wakeup_bytes, s->h.ts_ns, sizeof(s->h) + len);
	if (bpf_ringbuf_output(&events, s, sizeof(s->h) + len, flags) < 0) {
		count(CNT_LOST, 1);
		return;
	}
	count(CNT_RECORDS, 1);
}

struct iovec_user {
	__u64 base;
	__u64 len;
};

// loop_ctx is bpf_loop's context: the scratch value of the walk.
struct loop_ctx {
	struct scratch *s;
};

static long copy_step(__u64 i, void *ctx)
{
	struct scratch *s = ((struct loop_ctx *)ctx)->s;
	struct copy_state *c = &s->c;
	struct iovec_user v;
	__u64 n;
	__u32 m;

	if (c->left == 0)
		return 1;
	if (c->len == 0) {
		if (c->iov == 0 || c->idx >= c->iovcnt)
			return 1;
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(c->iov + c->idx * sizeof(v))) < 0)
			return 1;
		c->idx++;
		c->base = v.base;
		c->len = v.len;
		return 0;
	}
	n = c->len;
	if (n > c->left)
		n = c->left;
	if (n > MAX_DATA)
		n = MAX_DATA;
	if (n == 0)
		return 1;
	m = n;
	if (m == 0 || m > MAX_DATA)
		return 1;
	m = ((m - 1) & (MAX_DATA - 1)) + 1;
	s->h.offset = c->offset;
	if (bpf_probe_read_user(s->data, m, (void *)c->base) < 0) {
		// Unreadable (paged out): a gap of m bytes.
		count(CNT_CUT, m);
		c->missed += m;
	} else {
		emit(s, m);
	}
	c->base += m;
	c->len -= m;
	c->left -= m;
	c->offset += m;
	return 0;
}

// gap ships, with s's header filled, a record saying the direction's bytes
// up to end were sent but not shipped.
static __always_inline void gap(struct scratch *s, __u64 end)
{
	s->h.type = REC_GAP;
	s->h.offset = end;
	emit(s, 0);
}

// ship_data copies the first ret bytes of a send, from the buffer buf or
// (iovcnt > 0) the iovec array buf, into records of s whose header is
// filled; the first byte is at stream offset offset. What is not shipped
// (beyond MAX_RECORDS, or unreadable) is counted, and a gap record ends
// the send then, so that a loss at a stream's end shows too.
static __always_inline void ship_data(struct scratch *s, __u64 offset, __u64 buf, __u64 iovcnt, __u64 ret)
{
	struct copy_state *c = &s->c;
	struct loop_ctx lc = {.s = s};

	c->offset = offset;
	c->left = ret;
	c->idx = 0;
	c->missed = 0;
	if (iovcnt == 0) {
		c->iov = 0;
		c->iovcnt = 0;
		c->base = buf;
		c->len = ret;
	} else {
		c->iov = buf;
		c->iovcnt = iovcnt > MAX_IOV ? MAX_IOV : iovcnt;
		c->base = 0;
		c->len = 0;
	}
	// One step per iovec read and one per record: the bound on the
	// records a send makes.
	bpf_loop((iovcnt > MAX_IOV ? MAX_IOV : iovcnt) + MAX_RECORDS, copy_step, &lc, 0);
	if (c->left)
		count(CNT_CUT, c->left);
	if (c->left || c->missed)
		gap(s, offset + ret);
}

// stream_offset reserves ret bytes of sk's stream: the offset of the
// first; -1 when the offsets map has no room.
static __always_inline __s64 stream_offset(__u64 sk, __u64 ret)
{
	__u64 zero = 0, *off = bpf_map_lookup_elem(&offsets, &sk);

	if (!off) {
		bpf_map_update_elem(&offsets, &sk, &zero, BPF_NOEXIST);
		off = bpf_map_lookup_elem(&offsets, &sk);
		if (!off)
			return -1;
	}
	return __sync_fetch_and_add(off, ret);
}

// struct user_msghdr's fields, as the x86-64 ABI lays them out.
struct msghdr_user {
	__u64 name;
	__u32 namelen;
	__u32 _pad;
	__u64 iov;
	__u64 iovlen;
};

#endif
