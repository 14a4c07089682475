// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// The kernel types bpf/ipc.c and bpf/ipc_btf.c read, only the fields used:
// CO-RE relocates their offsets against the running kernel's BTF at load
// time (no vmlinux.h). Field names must match the kernel's; nesting through
// anonymous unions and structs need not.

#ifndef ZD_IPC_TYPES_H
#define ZD_IPC_TYPES_H

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

struct super_block {
	unsigned int s_dev;
} __attribute__((preserve_access_index));

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
	struct super_block *i_sb;
} __attribute__((preserve_access_index));

struct dentry {
	struct inode *d_inode;
} __attribute__((preserve_access_index));

struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

typedef struct {
	long counter;
} __attribute__((preserve_access_index)) atomic_long_t;

typedef struct file_ref {
	atomic_long_t refcnt;
} __attribute__((preserve_access_index)) file_ref_t;

struct file {
	struct inode *f_inode;
	void *private_data;
	file_ref_t f_ref; // 6.13 and later: 0 means one reference
} __attribute__((preserve_access_index));

struct file___old {
	atomic_long_t f_count; // before 6.13: the reference count
} __attribute__((preserve_access_index));

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
	unsigned short skc_family;
	possible_net_t skc_net;
} __attribute__((preserve_access_index));

struct socket;

struct sock {
	struct sock_common __sk_common;
	unsigned short sk_type;
	struct socket *sk_socket;
} __attribute__((preserve_access_index));

struct socket {
	short type;
	struct file *file;
	struct sock *sk;
} __attribute__((preserve_access_index));

struct unix_sock {
	struct path path;
	struct sock *peer;
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int flags;
	struct files_struct *files;
	struct task_struct *group_leader;
	char comm[TASK_COMM_LEN];
} __attribute__((preserve_access_index));

// The x86-64 user registers of a task in a system call (ipc_btf.c).
struct pt_regs {
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

#endif
