// SPDX-License-Identifier: (MPL-2.0 OR GPL-2.0-only)
//
// framing.h: kernel-side framing, the walk through ZMTP frames of capture.c.
// Included by capture.c; not a program of its own.

#ifndef ZD_FRAMING_H
#define ZD_FRAMING_H

#ifndef ZD_NO_FRAMING

// Kernel-side framing.
//
// For every flow whose SYN it saw, the program keeps, per direction, the
// next sequence number it expects and where in the ZMTP stream that byte
// falls. The greeting is shipped whole; once it tells how frames look
// (ZMTP 3.x at offset 64; 2.0, or 3.x downgraded to 2.0, at offset 12 with
// the identity frame first), every frame header is read: commands (and a
// 2.0 identity) are shipped whole, message frames with their first
// frame_keep body bytes; a larger rest of a body is left out, and the
// records say how many bytes they leave out so that userspace decodes the
// frame's real size and skips the rest (never a loss).
//
// The program stops following a flow (and ships it whole, as without
// framing) at anything it cannot prove: ZMTP 1.0, a malformed header
// (reserved flags, MORE on a command, a size of 2^63 or more), bytes
// missing before a packet outside a body, a payload larger than a record.
// Retransmitted bytes already walked are left out (shipped whole when
// frame_keep is 0).
//
// Marks. The walk reads every frame header of the directions it follows,
// whether or not the ring takes the records (ship() failing does not stop
// it), and counts per direction the frames (commands and 2.0's identity
// included) and the messages (one when the header of a message frame
// without MORE is walked; a command neither opens nor closes a message, as
// in the decoder). A record carries a mark when a frame header the walk
// walked while handling its packet starts in its kept bytes: the payload
// offset of the first such header, whether no message is open there (the
// frame starts a message, or is a command or the identity), and the counts
// before that header. So after a loss, userspace resumes at the next mark
// and knows how many frames and messages the loss took. A packet the walk
// does not follow (no flowstate, or given up) carries no mark, nor do
// retransmitted bytes. Every header of a record starts in its first
// MAX_PAYLOAD kept bytes: a packet is cut into records (pieces) at a header
// when that is farther from the record's start (BIG TCP only).
//
// Joining. A direction already open when the capture started has no
// flowstate. Userspace, having proved a frame boundary at sequence number
// S (and whether a message is open there), writes a flow_state in
// MODE_JOIN with expect = S, in_msg and v2 set and the rest 0. Packets
// wholly before S are shipped as without framing and leave it as it is;
// the packet holding S starts the walk at S (its bytes before S shipped
// too, unmarked) with counts from 0; a packet after S (S never seen) gives
// the join up: the entry is deleted and counted as unframed.

// Counting: see count.h. The window: see window.h.

// Sharing the state. A flowstate entry is an element of an LRU hash map:
// a pointer bpf_map_lookup_elem returned stays valid memory while the
// program runs, but the element behind it may be evicted by another CPU
// (inserting a direction into a full map), or replaced by another walk of
// the same direction (lo ingress spreads a flow over CPUs), and its memory
// handed at once, without an RCU grace period, to another key. A walk
// that wrote through that pointer would corrupt another flow's state; one
// that read through it would walk with another flow's state and ship
// wrong marks. So no walk writes through the pointer. It copies the entry
// into its walk, then looks the key up again: the same element still there
// means nothing reused it while copied (LRU elements are only ever written
// before they are linked, and bpf_map_update_elem links a new element for
// every write), else the packet is shipped unmarked. It walks its copy and
// writes the result back with bpf_map_update_elem(BPF_EXIST), by key: an
// entry evicted meanwhile stays gone (counted as unframed), and another
// flow's entry is never touched. Two walks of one direction at once each
// start from a state true at its expect and leave one true at theirs (a
// packet after expect is passed over only inside a body), so whichever is
// written last, later marks stay right; at worst the direction is given
// up. Only the recycling of the very element for the same key again while
// it was being copied (two writes of that direction within the copy's
// few nanoseconds) would go unseen. Counts (count mode) are not kept by
// whichever is written last: the later store merges them (merged).

#define ZF_MORE 0x01
#define ZF_LONG 0x02
#define ZF_COMMAND 0x04

enum frame_mode {
	MODE_GREETING = 1, // shipping the greeting; frames start at fstart
	MODE_FRAMES = 2,   // walking frames
	MODE_OFF = 3,      // gave up: the entry is deleted
	MODE_JOIN = 4,     // written by userspace: walk from sequence number expect on
};

// Bytes of a body left out only in stretches at least this long: shorter
// ones are cheaper to ship than to describe with another record.
#define ELIDE_MIN 256

static __always_inline void begin_frame(struct flow_state *st, __u64 len)
{
	int whole = st->first || (!st->v2 && (st->hdr_flags & ZF_COMMAND));

	if (count_only && !whole)
		st->bytes += len; // a message frame's body
	st->body_left = len;
	st->ship_left = count_only && st->elide ? 0 : whole || !frame_keep || len < frame_keep ? len : frame_keep;
	st->first = 0;
	st->hdr_need = 0;
}

#include "count.h" // count mode: counting, merging, quiet ACKs


// begin_any begins the frame whose header ends at payload offset at.
static __always_inline void begin_any(struct walk *w, struct flow_state *st, __u32 at, __u64 len)
{
	int cmd = !st->first && !st->v2 && (st->hdr_flags & ZF_COMMAND);

	begin_frame(st, len);
#ifdef ZD_COUNT
	if (count_only && cmd)
		count_command(w->skb, w->stage, w->base + at, at < w->n ? w->n - at : 0, len);
#else
	(void)cmd;
#endif
}

// give_up stops the walk: the rest of the packet is shipped, the flow is
// forgotten.
static __always_inline long give_up(struct walk *w)
{
	w->st->mode = MODE_OFF;
	w->i = w->n;
	return 1;
}

#include "window.h" // the TCX programs' window of the payload

// frame_step_of advances the walk by one frame header (or one of its
// bytes) or by the part of a body inside this packet, reading the header
// from the window (win, a constant: the TCX programs) or with a load of its
// own (the socket filter).
static __always_inline long frame_step_of(struct walk *w, const int win)
{
	struct flow_state *st = w->st;
	__u32 i = w->i, n = w->n, room;
	__u8 b[2];
	__u8 *p = 0;

	if (i >= n)
		return 1;
	room = n - i;
	if (st->body_left) {
		__u64 take = st->ship_left < room ? st->ship_left : room;

		i += take;
		st->ship_left -= take;
		st->body_left -= take;
		room = n - i;
		if (room && st->body_left) {
			__u32 el = st->body_left < room ? st->body_left : room;

			if (el >= ELIDE_MIN && !(count_only && st->elide)) {
				ship_span(w, w->piece, i - w->piece, i + el - w->piece);
				w->piece = i + el;
			}
			i += el;
			st->body_left -= el;
		}
		w->i = i;
		return 0;
	}
	if (win && st->hdr_need == 0 && !st->first) {
		// Short message frames, whole in the packet: counted in a
		// loop of their own where frame_step_of would only count them
		// (see fast_frames): none marked (a mark pending already, or
		// all left out whole, their run begun), none ending a run left
		// out whole, none past MAX_PAYLOAD in its record.
		int el = count_only && w->elides;
		__u32 to;

		if (el ? w->eliding : !(count_only && w->eliding) && w->h.mark) {
			to = fast_frames(w->stage, i, (__u64)w->stage->whi << 32 | w->stage->wlo, n,
					 el ? 0xffffffff : w->piece + MAX_PAYLOAD);
			if (to != i) {
				st->elide = el;
				w->i = to;
				return 0;
			}
		}
	}
	if (st->hdr_need == 0) {
		// A frame's flags, and its length if short and here (all 9
		// bytes of a long header from the window).
		if (win) {
			p = win_at(w, i, room >= 9 ? 9 : room);
			if (!p)
				return give_up(w);
			b[0] = p[0];
			b[1] = p[1]; // read only if room >= 2
		} else if (bpf_skb_load_bytes(w->skb, w->base + i, b, room >= 2 ? 2 : 1) < 0) {
			return give_up(w);
		}
		if (b[0] & ~(st->v2 ? ZF_MORE | ZF_LONG : ZF_MORE | ZF_LONG | ZF_COMMAND))
			return give_up(w); // not a frame: leave the decoder to say so
		if ((b[0] & (ZF_MORE | ZF_COMMAND)) == (ZF_MORE | ZF_COMMAND))
			return give_up(w); // a command with MORE
		// A frame header starts at i. In count mode a message frame is
		// left out whole: the run of such frames ends at the next kept
		// header. A kept one stays in its record's first
		// MAX_PAYLOAD kept bytes, marked if it is the record's first.
		// Either is counted.
		st->elide = count_only && w->elides && !st->first && !(b[0] & ZF_COMMAND);
		if (count_only && st->elide) {
			if (!w->eliding) {
				w->eliding = 1;
				w->cut = i;
			}
		} else if ((count_only && w->eliding) || i - w->piece >= MAX_PAYLOAD) {
			// The piece before: kept bytes then a run of frames left
			// out whole (count mode), or kept bytes that would put
			// this header past MAX_PAYLOAD. One call site: the
			// verifier walks ship_span at each.
			ship_span(w, w->piece, (count_only && w->eliding ? w->cut : i) - w->piece, i - w->piece);
			w->piece = i;
			w->eliding = 0;
		}
		if (!(count_only && st->elide) && !w->h.mark) {
			// Pending in the records' template (see ship()).
			w->h.mark = MARK_VALID | (st->in_msg ? 0 : MARK_MSG_START);
			w->h.mark_off = w->seq + i;
			w->h.frames = st->frames;
			w->h.messages = st->messages;
		}
		st->frames++;
		if (!st->first && !(b[0] & ZF_COMMAND)) {
			st->in_msg = b[0] & ZF_MORE;
			if (!st->in_msg)
				st->messages++;
		}
		st->hdr_flags = b[0];
		st->len_acc = 0;
		if (!(b[0] & ZF_LONG)) {
			if (room >= 2) {
				begin_any(w, st, i + 2, b[1]);
				w->i = i + 2;
				return 0;
			}
			st->hdr_need = 1;
			w->i = i + 1;
			return 0;
		}
		st->hdr_need = 8;
		i++;
		if (n - i >= 8) {
			__u64 be;

			if (win) {
				// p holds the header's 9 bytes: room >= 9.
				be = (__u64)p[1] << 56 | (__u64)p[2] << 48 | (__u64)p[3] << 40 | (__u64)p[4] << 32 |
				     (__u64)p[5] << 24 | (__u64)p[6] << 16 | (__u64)p[7] << 8 | p[8];
			} else {
				if (bpf_skb_load_bytes(w->skb, w->base + i, &be, 8) < 0)
					return give_up(w);
				be = bpf_be64_to_cpu(be);
			}
			if (be >> 63)
				return give_up(w);
			begin_any(w, st, i + 8, be);
			i += 8;
		}
		w->i = i;
		return 0;
	}
	// A header split between packets: its length a byte at a time.
	if (win) {
		p = win_at(w, i, 1);
		if (!p)
			return give_up(w);
		b[0] = p[0];
	} else if (bpf_skb_load_bytes(w->skb, w->base + i, b, 1) < 0) {
		return give_up(w);
	}
	st->len_acc = st->len_acc << 8 | b[0];
	if (--st->hdr_need == 0) {
		if (st->len_acc >> 63)
			return give_up(w);
		begin_any(w, st, i + 1, st->len_acc);
	}
	w->i = i + 1;
	return 0;
}

// frame_step and frame_step_win are bpf_loop's callbacks (1 stops the
// loop): the socket filter's, which loads each header, and the TCX
// programs', which read them from the window.
static long frame_step(__u32 idx, void *ctx)
{
	return frame_step_of(ctx, 0);
}

static long frame_step_win(__u32 idx, void *ctx)
{
	return frame_step_of(ctx, 1);
}

// greet looks at the greeting bytes in the packet from payload offset start
// on. It returns the payload offset where frames start, -1 if they start
// after this packet, -2 if the stream is not one the program can follow.
static __always_inline int greet(struct walk *w, struct flow_state *st, __u32 start)
{
	__u32 pos = st->pos, len = w->n - start;
	__u8 b = 0;

#define GREETING_BYTE(k) \
	(pos <= (k) && (k) < pos + len && bpf_skb_load_bytes(w->skb, w->base + start + (k) - pos, &b, 1) == 0)

	// A signature (%xFF 8 bytes %x7F): not ZMTP 1.0.
	if (GREETING_BYTE(0) && b != 0xff)
		return -2;
	if (GREETING_BYTE(9) && !(b & 1))
		return -2;
	if (GREETING_BYTE(10)) {
		if (b == 0)
			return -2;
		st->rev = b;
	}
	if (GREETING_BYTE(12)) {
		if (st->rev >= 3 && b >= 'A' && b <= 'Z') {
			st->fstart = 64; // a 3.x mechanism name
		} else if (b <= (ZF_MORE | ZF_LONG)) {
			st->fstart = 12; // 2.0's identity frame
			st->v2 = 1;
			st->first = 1;
		} else {
			return -2;
		}
	}
#undef GREETING_BYTE
	if (st->fstart && pos + len > st->fstart) {
		st->mode = MODE_FRAMES;
		return start + st->fstart - pos;
	}
	st->pos = pos + len;
	return -1;
}

// store writes the state a walk leaves back into the direction's entry,
// by key, only if the entry still exists: never into another flow's.
static __always_inline void store(struct flow_key *k, struct flow_state *st)
{
	if (count_only)
		merged(k, st);
	if (bpf_map_update_elem(&flowstate, k, st, BPF_EXIST) < 0)
		count(CNT_UNFRAMED); // evicted (or ended) during the walk
}

// quiet_ack decides, in count mode, about a packet without payload of a
// direction the walk follows (st, a copy of its entry k): it returns 1 (no
// record) for a pure ACK without news, 0 (shipped whole) for the rest: a
// FIN, with the direction's counts; a zero window, and the first window
// after one (flows' stall diagnosis); a zero-window or keepalive probe
// (one before expect).
static __always_inline int quiet_ack(struct walk *w, struct flow_key *k, struct flow_state *st)
{
	__u8 zero = w->h.window == 0;

	if (w->flags & TCP_FIN) {
		// The entry stays: userspace reads the final counts at the
		// close, then deletes it (Capture.ForgetDir).
		w->h.counted = w->counting ? COUNT_VALID : 0;
		return 0;
	}
	if (zero != st->zero_win) {
		st->zero_win = zero;
		store(k, st);
		return 0;
	}
	if (zero || w->seq + 1 == st->expect)
		return 0;
	count(CNT_QUIET_ACKS);
	return 1;
}

// follow ships the packet in w as kernel-side framing decides. It returns 0
// when the packet is to be shipped whole instead. win (a constant) reads
// the headers from the window (see "The window").
static __always_inline int follow(struct walk *w, __u32 plen, const int win)
{
	struct flow_key k = {};
	struct flow_state *st;
	__u32 start = 0, keep_from = 0xffffffff;
	__s32 d;
	int o;

	__builtin_memcpy(k.saddr, w->h.saddr, 16);
	__builtin_memcpy(k.daddr, w->h.daddr, 16);
	k.sport = w->h.sport;
	k.dport = w->h.dport;
	k.ifindex = w->h.ifindex;

	if (w->flags & TCP_SYN) {
		struct flow_state fresh = {};

		if (w->flags & (TCP_RST | TCP_FIN) || plen > 0) {
			bpf_map_delete_elem(&flowstate, &k);
			return 0;
		}
		fresh.expect = w->seq + 1;
		fresh.mode = MODE_GREETING;
		bpf_map_update_elem(&flowstate, &k, &fresh, BPF_ANY);
		// A new connection ships its messages until userspace reads its
		// READY: an entry of an old one of these ports goes (review C2).
		if (count_only)
			bpf_map_delete_elem(&elide, &k);
		return 0;
	}
	st = bpf_map_lookup_elem(&flowstate, &k);
	if (!st)
		return 0;
	if (w->flags & TCP_RST) {
		if (count_only)
			return 0; // userspace reads the final counts, then deletes
		goto forget;
	}
	if (w->n == 0 && !count_only) {
		if (w->flags & TCP_FIN)
			bpf_map_delete_elem(&flowstate, &k);
		return 0;
	}
	if (w->n < plen)
		goto off; // cut: the walk would lose its place
	// Walk a copy, never the entry (see "Sharing the state" above).
	*w->st = *st;
	if (bpf_map_lookup_elem(&flowstate, &k) != st)
		return 0; // replaced or evicted while copied: shipped unmarked
	st = w->st;
	if (count_only) {
		counts_from(w->stage, st);
		w->counting = st->mode == MODE_FRAMES;
		w->elides = frame_keep && (st->quiet || bpf_map_lookup_elem(&elide, &k));
		if (w->n == 0)
			return quiet_ack(w, &k, st);
		st->zero_win = w->h.window == 0;
		st->last_ns = w->h.ts_ns;
	}
	d = (__s32)(w->seq - st->expect);
	if (st->mode == MODE_JOIN) {
		// Userspace joined the direction at expect.
		if (d > 0)
			goto off; // that byte passed unseen: userspace may try again
		if ((__u32)-d >= w->n)
			return 0; // before it: shipped as without framing
		start = -d;
		keep_from = 0;
		st->mode = MODE_FRAMES;
		st->joined = 1;
		w->counting = count_only;
		count(CNT_JOINED);
	} else if (d < 0) {
		// Bytes walked already: a retransmission.
		if ((__u32)-d >= w->n) {
			if (!frame_keep)
				return 0; // shipped whole, unmarked
			// In count mode, bytes the walk passed over (they came
			// late) are of a frame left out whole, if of any.
			if (count_only) {
				w->eliding = w->elides;
				w->counting = w->counting ? 2 : 0; // counts of the walk's end, not these bytes'
			}
			ship_piece(w, 0, 0, w->n);
			return 1;
		}
		start = -d;
		if (!frame_keep)
			keep_from = 0;
	} else if (d > 0) {
		// Bytes before this packet not seen (yet): can be passed over
		// only inside a body.
		if (st->mode != MODE_FRAMES || st->hdr_need || (__u64)d > st->body_left)
			goto off;
		if (count_only) {
			st->gaps++;
			st->gap_bytes += d;
		}
		st->body_left -= d;
		st->ship_left = st->ship_left > (__u64)d ? st->ship_left - d : 0;
	}
	w->i = start;
	w->piece = keep_from < start ? keep_from : start;
	if (st->mode == MODE_GREETING) {
		o = greet(w, st, start);
		if (o == -2)
			goto off;
		if (o == -1) {
			st->expect = w->seq + w->n;
			store(&k, st);
			return 0;
		}
		w->i = o;
	}
	if (count_only && st->mode == MODE_FRAMES && st->elide && (st->body_left || st->hdr_need)) {
		// The packet starts inside a frame left out whole.
		w->eliding = 1;
		w->cut = start;
	}
	w->counting = count_only && st->mode == MODE_FRAMES; // the greeting may end here
	if (win) {
		w->stage->wlo = 0; // the window is empty
		w->stage->whi = 0;
	}
	bpf_loop(MAX_CHUNKS * MAX_PAYLOAD + 1, win ? frame_step_win : frame_step, w, 0);
	if (w->piece < w->n) // kept bytes, then (count mode) a run left out whole
		ship_span(w, w->piece, (count_only && w->eliding ? w->cut : w->n) - w->piece, w->n - w->piece);
	st->expect = w->seq + w->n;
	if (st->mode == MODE_OFF) {
		count(CNT_UNFRAMED);
		goto forget;
	}
	if (w->flags & TCP_FIN && !count_only)
		goto forget;
	store(&k, st);
	return 1;
off:
	count(CNT_UNFRAMED);
forget:
	bpf_map_delete_elem(&flowstate, &k);
	return w->pieces > 0;
}

#endif // ZD_NO_FRAMING

#endif // ZD_FRAMING_H
