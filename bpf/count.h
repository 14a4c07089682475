// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// count.h: count mode's part of the walk (CaptureCount's build): what it counts,
// how commands are classified, how two walks' counts merge, which ACKs it
// keeps.
// Included by framing.h (capture.c's walk); not a program of its own.

#ifndef ZD_COUNT_H
#define ZD_COUNT_H

// Counting. In count mode (count_only, CaptureCount's build), the walk
// counts per direction what the decoder counts (zmtp.Counts): frames
// (headers), messages (a message frame header without MORE), the body
// bytes of message frames (at their header), and the commands PING, PONG,
// SUBSCRIBE and CANCEL, classified by their name-length byte and name when
// both are in the packet of the command's header; a command whose name is
// not is counted as unnamed (never guessed: the decoder, which gets it
// whole, counts it, and if its record is lost the unnamed count says how
// many commands the kernel's counts may miss). It also keeps the time of
// the last packet walked and the gaps it passed over (gaps, gap_bytes).
// Of the directions it follows, message frames are left out whole,
// headers included, once the direction's READY named a sender whose
// messages userspace does not need (ready_quiet: the kernel reads the
// Socket-Type property) or userspace named the direction in the elide map
// (read once per packet); before that, and for the directions whose
// messages it needs, they are shipped as without count mode; greetings and
// commands are shipped whole. A packet is cut into pieces at each kept
// header that follows a run of left-out frames: a piece is its kept bytes
// then the run (a packet of nothing but messages is one record of no
// payload bytes). Every record of a followed direction carries, after its
// event_hdr, the direction's counts as walked up to the end of the bytes
// it covers (rec_counts, COUNT_VALID), and says with COUNT_WHOLE that the
// bytes it leaves out are of frames left out whole. So userspace passes
// them without losing its place (the next kept byte is a header, marked:
// it resumes there, without a resync; a packet that comes after the walk
// passed its bytes over inside a frame left out whole is one such record
// too), and its counts are exact at every
// record, also after a ring loss: the counts are cumulative, the loss took
// only records. A FIN or RST does not delete the direction's entry in this
// mode: userspace reads the final counts at the connection's close, also
// when the ring lost the FIN's record, then deletes it. Pure ACKs of followed
// directions are not shipped unless they carry news for flows' stall
// diagnosis: a zero window, the first window after one, a probe (a
// sequence number one before expect: Linux's zero-window probe, or a
// keepalive); CNT_QUIET_ACKS counts the others.

// Command names counted by kind, as the first bytes of a command body: the
// name's length, then the name (RFC 23, RFC 37, RFC 29 for SUBSCRIBE and
// CANCEL).
#define NAME4(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)

#ifdef ZD_COUNT
// ready_quiet reads the socket type of the READY whose body (of len
// bytes, have of them in the packet) starts at skb offset off, when its
// first property is Socket-Type (libzmq's always is) and whole in the
// packet: a sender whose messages userspace does not need has them left out
// from the next packet on (stage->st.quiet), without waiting for userspace
// to say so (the elide map) while the first ones go by. Those needed are
// session.shipsMessages': REQ, REP, DEALER, ROUTER, SUB, XSUB; the same
// list, kept in step by hand. A global function, as count_command.
__noinline int ready_quiet(struct __sk_buff *skb, struct stage *stage, __u32 off, __u32 have, __u64 len)
{
	__u8 *b;
	__u32 v;

	if (!skb || !stage)
		return 0;
	b = stage->rec.data;
	// 5 READY 11 Socket-Type, the value's length (4 bytes), the value.
	if (have < 22 || len < 22 || bpf_skb_load_bytes(skb, off, b, 22) < 0)
		return 0;
	if (NAME4(b[1], b[2], b[3], b[4]) != NAME4('R', 'E', 'A', 'D') || b[5] != 'Y' || b[6] != 11 ||
	    NAME4(b[7], b[8], b[9], b[10]) != NAME4('S', 'o', 'c', 'k') ||
	    NAME4(b[11], b[12], b[13], b[14]) != NAME4('e', 't', '-', 'T') || b[15] != 'y' || b[16] != 'p' || b[17] != 'e' ||
	    b[18] || b[19] || b[20])
		return 0;
	switch (b[21]) {
	case 3:
		if (have < 25 || len < 25 || bpf_skb_load_bytes(skb, off + 22, b, 3) < 0)
			return 0;
		v = NAME4(b[0], b[1], b[2], 0);
		if (v == NAME4('R', 'E', 'Q', 0) || v == NAME4('R', 'E', 'P', 0) || v == NAME4('S', 'U', 'B', 0))
			return 0;
		break;
	case 4:
		if (have < 26 || len < 26 || bpf_skb_load_bytes(skb, off + 22, b, 4) < 0)
			return 0;
		if (NAME4(b[0], b[1], b[2], b[3]) == NAME4('X', 'S', 'U', 'B'))
			return 0;
		break;
	case 6:
		if (have < 28 || len < 28 || bpf_skb_load_bytes(skb, off + 22, b, 6) < 0)
			return 0;
		v = NAME4(b[2], b[3], b[4], b[5]);
		if ((b[0] == 'D' && b[1] == 'E' && v == NAME4('A', 'L', 'E', 'R')) ||
		    (b[0] == 'R' && b[1] == 'O' && v == NAME4('U', 'T', 'E', 'R')))
			return 0;
		break;
	}
	stage->st.quiet = 1;
	return 0;
}

// count_command counts the command whose body (of len bytes, have of them
// in the packet) starts at skb offset off, by its name: PING, PONG,
// SUBSCRIBE, CANCEL, other names not at all (a READY is read by
// ready_quiet). A name not whole in the packet is counted as unnamed. The
// state counted is the walk's (stage->st); the name is loaded into the
// record's payload buffer, free between records (the stack has no room to
// spare). A global function: the verifier checks it once, not at every
// frame_step state that calls it.
__noinline int count_command(struct __sk_buff *skb, struct stage *stage, __u32 off, __u32 have, __u64 len)
{
	struct flow_state *st;
	__u8 *nm;
	__u32 want;

	if (!skb || !stage)
		return 0;
	st = &stage->st;
	nm = stage->rec.data;
	if (have == 0) {
		st->unnamed++;
		return 0;
	}
	if (bpf_skb_load_bytes(skb, off, nm, 1) < 0)
		return 0;
	want = 1 + nm[0];
	if (nm[0] == 5)
		return ready_quiet(skb, stage, off, have, len); // READY is no counted kind
	if ((nm[0] != 4 && nm[0] != 6 && nm[0] != 9) || len < want)
		return 0; // a name of another length: not counted by kind
	if (have < want) {
		st->unnamed++;
		return 0;
	}
	if (bpf_skb_load_bytes(skb, off, nm, nm[0] == 4 ? 5 : nm[0] == 6 ? 7 : 10) < 0)
		return 0;
	if (nm[0] == 4) {
		__u32 v = NAME4(nm[1], nm[2], nm[3], nm[4]);

		if (v == NAME4('P', 'I', 'N', 'G'))
			st->cmds[0]++;
		else if (v == NAME4('P', 'O', 'N', 'G'))
			st->cmds[1]++;
	} else if (nm[0] == 9) {
		if (NAME4(nm[1], nm[2], nm[3], nm[4]) == NAME4('S', 'U', 'B', 'S') &&
		    NAME4(nm[5], nm[6], nm[7], nm[8]) == NAME4('C', 'R', 'I', 'B') && nm[9] == 'E')
			st->cmds[2]++;
	} else if (NAME4(nm[1], nm[2], nm[3], nm[4]) == NAME4('C', 'A', 'N', 'C') && nm[5] == 'E' && nm[6] == 'L') {
		st->cmds[3]++;
	}
	return 0;
}

#endif // ZD_COUNT

// counts_from notes, in count mode, the counts of the state a walk
// copied (st, in its stage), for merged.
static __always_inline void counts_from(struct stage *sg, struct flow_state *st)
{
	sg->from.messages = st->messages;
	sg->from.frames = st->frames;
	sg->from.bytes = st->bytes;
	sg->from.cmds[0] = st->cmds[0];
	sg->from.cmds[1] = st->cmds[1];
	sg->from.cmds[2] = st->cmds[2];
	sg->from.cmds[3] = st->cmds[3];
	sg->from.unnamed = st->unnamed;
	sg->from_expect = st->expect;
}

#define MERGE_COUNTS(to, a, b)                                                       \
	do {                                                                         \
		(to)->messages += (a)->messages - (b)->messages;                       \
		(to)->frames += (a)->frames - (b)->frames;                             \
		(to)->bytes += (a)->bytes - (b)->bytes;                                \
		(to)->cmds[0] += (a)->cmds[0] - (b)->cmds[0];                          \
		(to)->cmds[1] += (a)->cmds[1] - (b)->cmds[1];                          \
		(to)->cmds[2] += (a)->cmds[2] - (b)->cmds[2];                          \
		(to)->cmds[3] += (a)->cmds[3] - (b)->cmds[3];                          \
		(to)->unnamed += (a)->unnamed - (b)->unnamed;                          \
	} while (0)

// merged (count mode, review K2): if another walk of the direction stored
// since this one copied the state (the entry's expect moved), the counts of
// both walks are kept: the state of the one that went further is stored,
// with the other's counts since the copy added. Like every walk it never
// writes through the pointer (see "Sharing the state"): it copies the
// entry into the stage and checks the element is still the key's. Best
// effort: a third walk between the copy and the store is not seen.
static __always_inline void merged(struct flow_key *k, struct flow_state *st)
{
	struct stage *sg = (void *)st - __builtin_offsetof(struct stage, st);
	struct flow_state *cur = bpf_map_lookup_elem(&flowstate, k);
	struct flow_state *o = &sg->other;

	if (!cur)
		return;
	*o = *cur;
	if (bpf_map_lookup_elem(&flowstate, k) != cur)
		return; // replaced while copied
	if (o->expect == sg->from_expect || o->mode != MODE_FRAMES || st->mode != MODE_FRAMES)
		return;
	count(CNT_RACED);
	if ((__s32)(o->expect - st->expect) > 0) {
		MERGE_COUNTS(o, st, &sg->from);
		*st = *o;
	} else {
		MERGE_COUNTS(st, o, &sg->from);
	}
}

#endif // ZD_COUNT_H
