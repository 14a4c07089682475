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

// The window. The TCX programs (capture_ingress, capture_egress) read
// frame headers from a window of the payload in the CPU's stage
// (stage->win, its own buffer: ship() writes rec.data), loaded with one
// bpf_skb_load_bytes from the first header that is not in it, sized by how
// close together the headers were (see win_at): on lo the payload is in page
// fragments, and a load per header walked the fragment list each time
// (about 80 ns of the application's time per 64-byte message). A header
// past the window's end, or split by it, loads the next window there, so
// a BIG TCP packet is walked window by window. Runs of short message
// frames whole in the packet, where the walk only counts, are counted in
// one bounded loop over the window (fast_frames), not a bpf_loop callback
// per header and per body. The socket filter (capture_socket) has no room
// for either under its size budget (loader/size_test.go): it loads each
// header. Both walk the same frames to the same state, marks and records.

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

// win_load loads the window (s->win) from payload offset i on, for a
// header that is not in the window of payload offsets [win & 0xffffffff,
// win >> 32) (empty: 0), of a packet of pkt & 0xffffffff payload bytes
// from skb offset pkt >> 32. It loads WIN_MIN bytes, or, when the walk
// reached the header at i by walking frames through that window (it is
// less than WIN_MIN past its end), WIN_GROW times its size, at most
// WIN_MAX, never past the packet: headers close together share one load
// of the payload's page fragments, and a header after a large body costs
// little more than its own bytes. It returns the bytes loaded, 0 if they
// could not be read. A global function: the verifier walks it once, not
// at each of win_at's states.
__noinline int win_load(struct __sk_buff *skb, struct stage *s, __u32 i, __u64 win, __u64 pkt)
{
	__u32 lo = win, hi = win >> 32, n = pkt, len = WIN_MIN;

	if (!skb || !s || i >= n)
		return 0;
	if (hi && i < hi + WIN_MIN)
		len = (hi - lo) * WIN_GROW;
	if (len > n - i)
		len = n - i;
	if (len > WIN_MAX)
		len = WIN_MAX;
	// Bounded for the verifier: [1, WIN_MAX].
	len = ((len - 1) & (WIN_MAX - 1)) + 1;
	if (bpf_skb_load_bytes(skb, (pkt >> 32) + i, s->win, len) < 0)
		return 0;
	return len;
}

// win_at returns where payload bytes [i, i+need) are in the CPU's window
// (stage->win), loading the window from i on first (win_load) when they
// are not all in it; NULL if they cannot be read. need is at most 9 and
// n - i.
static __always_inline __u8 *win_at(struct walk *w, __u32 i, __u32 need)
{
	struct stage *s = w->stage;
	int len;

	if (i < s->wlo || i + need > s->whi) {
		len = win_load(w->skb, s, i, (__u64)s->whi << 32 | s->wlo, (__u64)w->base << 32 | w->n);
		if (len <= 0)
			return 0;
		s->wlo = i;
		s->whi = i + len;
	}
	return s->win + ((i - s->wlo) & (WIN_MAX - 1));
}

// Short message frames the window's inner loop walks per callback at most.
#define FAST_FRAMES 32

// fast_frames walks, from payload offset i (at a frame header, no header
// or body pending), the run of short message frames (no LONG, no COMMAND)
// whose header is in the window (payload offsets [win & 0xffffffff,
// win >> 32) in s->win) and whose body is whole in the packet (n bytes),
// in one bounded loop of direct loads: the common case of small messages,
// at a few instructions a frame instead of a bpf_loop callback for the
// header and one for the body. It stops at a frame header at or past lim,
// and at any other frame, for frame_step_of to go on. It counts the frames
// in the walk's state (s->st) as frame_step_of would, and returns the
// offset it reached (i if it walked none): the caller finishes the state.
// A global function, its arguments scalars: the verifier walks its loop
// once, not at every frame_step_of state that calls it (some 90,000
// instructions more, and count mode's program past the verifier's limit),
// and a pointer to the walk, on the stack, would lose the verifier the
// pointers the walk holds.
__noinline int fast_frames(struct stage *s, __u32 i, __u64 win, __u32 n, __u32 lim)
{
	struct flow_state *st;
	__u32 lo = win, hi = win >> 32, k, len, at;
	__u64 frames, messages, bytes;
	__u8 f;

	if (!s)
		return 0;
	st = &s->st;
	frames = st->frames;
	messages = st->messages;
	bytes = st->bytes;
	for (k = 0; k < FAST_FRAMES; k++) {
		if (i < lo || i + 2 > hi || i >= lim)
			break; // not in the window (hi <= n)
		at = (i - lo) & (WIN_MAX - 1);
		f = s->win[at];
		len = s->win[at + 1];
		if (f & ~ZF_MORE || i + 2 + len > n)
			break;
		frames++;
		messages += !f;
		bytes += len;
		st->in_msg = f;
		st->hdr_flags = f;
		i += 2 + len;
	}
	if (k) {
		st->frames = frames;
		st->messages = messages;
		if (count_only)
			st->bytes = bytes;
		st->len_acc = 0;
		st->body_left = 0;
		st->ship_left = 0;
	}
	return i;
}

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
