// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// flowstate.h: the per-direction state of kernel-side framing (see framing.h).
// Included by capture.c; not a program of its own.

#ifndef ZD_FLOWSTATE_H
#define ZD_FLOWSTATE_H

// The framing state of each flow direction (see "Kernel-side framing").
struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 ifindex;
};

// 112 bytes: with the 40-byte key and the LRU hash's own element header, a
// map of 16,384 directions (the default) takes 3.5 MB of kernel memory,
// preallocated (measured on 6.18: 216 bytes an entry, memlock 3,539,904).
struct flow_state {
	__u64 body_left; // bytes of the current frame body at expect
	__u64 ship_left; // of those, how many are still to ship
	__u64 len_acc;   // length bytes of a header read so far
	__u64 frames;    // frame headers walked (commands, 2.0's identity included)
	__u64 messages;  // messages whose last frame header was walked
	// Counting (see "Counting" in framing.h), cumulative since the walk
	// began (the SYN, or the join point).
	__u64 bytes;     // body bytes of the message frames walked
	__u64 last_ns;   // bpf_ktime_get_ns() of the last packet walked
	__u64 gap_bytes; // bytes missing before packets: passed over in a body, or given up at
	__u32 cmds[4];   // commands by kind: PING, PONG, SUBSCRIBE, CANCEL
	__u32 unnamed;   // commands whose name was not in their header's packet: not classified
	__u32 gaps;      // packets with bytes missing before them (gap_bytes)
	__u32 expect;    // sequence number of the next byte to walk (MODE_JOIN: the join point)
	__u32 pos;       // stream offset of expect, while in the greeting
	__u8 mode;       // enum frame_mode
	__u8 hdr_need;   // length bytes of the current header still to read
	__u8 hdr_flags;  // flags of the current header
	__u8 fstart;     // stream offset of the first frame: 12 or 64 (0: unknown)
	__u8 v2;         // ZMTP 2.0 framing: no COMMAND flag
	__u8 first;      // the next frame is 2.0's identity: ship it whole
	__u8 rev;        // greeting byte 10: revision or major version
	__u8 in_msg;     // a message is open: its last frame so far had MORE
	__u8 elide;      // count mode: the current frame is left out whole
	__u8 zero_win;   // count mode: the last window this direction's sender advertised was 0
	__u8 joined;     // the walk began at a join point, not at the SYN
	__u8 quiet;      // count mode: READY named a sender whose messages are left out (ready_quiet)
	__u8 _pad[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct flow_key);
	__type(value, struct flow_state);
	__uint(max_entries, 16384); // set by the loader
} flowstate SEC(".maps");

// elide: in count mode, the directions (by flowstate key) whose message
// frames are left out whole. The others ship them, headers and frame_keep
// body bytes, as without count mode: a direction ships until userspace,
// having read its sender's socket type in READY, writes its entry (not for
// the request round trips and 3.0 subscriptions it needs), so that no
// message it needs goes by while it learns of the READY. The program only
// reads it, once per packet, and deletes it at a SYN (a new connection of
// the ports); userspace deletes the entry at the close.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct flow_key);
	__type(value, __u8);
	__uint(max_entries, 1); // set by the loader
	__uint(map_flags, BPF_F_NO_PREALLOC); // few entries: memory as they come
} elide SEC(".maps");

#endif // ZD_FLOWSTATE_H

